// systemd-ssh-issue's decisions: the plan for the facts, and the errno classes of the AF_VSOCK probes.

import { describe, expect, test } from "bun:test";
import { cidFailure, planMakeVsock, vsockUnsupported, writeFailure } from "../../src/issue/core.ts";

describe("planMakeVsock", () => {
  const vm = { inVm: true, inContainer: false, vsock: true, cid: 1234 };
  test("writes the hint in a VM with AF_VSOCK and a CID", () => {
    expect(planMakeVsock(vm)).toEqual({ kind: "write", content: "Try contacting this VM's SSH server via 'ssh vsock%1234' from host.\n\n" });
  });
  test("nothing outside a VM, in a container, without AF_VSOCK or without a CID", () => {
    for (const f of [{ inVm: false }, { inContainer: true }, { vsock: false, cid: null }, { cid: null }]) {
      expect(planMakeVsock({ ...vm, ...f }).kind).toBe("skip");
    }
  });
  test("reserved CIDs get the short sentence, as in 262", () => {
    const text = (cid: number) => {
      const plan = planMakeVsock({ ...vm, cid });
      return plan.kind === "write" ? plan.content : null;
    };
    for (const cid of [0, 1, 2, 0xffffffff]) expect(text(cid)).toBe("This VM's SSH server is available over AF_VSOCK.\n\n");
    expect(text(3)).toBe("Try contacting this VM's SSH server via 'ssh vsock%3' from host.\n\n");
    expect(text(0xfffffffe)).toContain("vsock%4294967294'");
  });
});

describe("the probes' failures", () => {
  test("socket(AF_VSOCK): the not-supported class means no AF_VSOCK, anything else is an error", () => {
    for (const code of ["EAFNOSUPPORT", "EOPNOTSUPP", "ENOSYS", "ENOPROTOOPT"]) expect(vsockUnsupported(code)).toBe(true);
    for (const code of ["EACCES", "ENOENT", "EMFILE"]) expect(vsockUnsupported(code)).toBe(false);
  });
  test("reading the CID: no device, no CID, or an error", () => {
    for (const code of ["ENOENT", "ENODEV", "ENXIO"]) expect(cidFailure(code)).toBe("absent");
    expect(cidFailure("EADDRNOTAVAIL")).toBe("unassigned");
    expect(cidFailure("EIO")).toBe("error");
  });
  test("a failed write is named by its step", () => {
    expect(writeFailure("/p", "mkdir")).toBe("Failed to create parent directories of '/p'");
    expect(writeFailure("/p", "open")).toBe("Failed to create '/p'");
    expect(writeFailure("/p", "write")).toBe("Failed to create '/p'");
    expect(writeFailure("/p", "fchmod")).toBe("Failed to adjust access mode of '/p'");
    expect(writeFailure("/p", "rename")).toBe("Failed to move '/p' into place");
  });
});

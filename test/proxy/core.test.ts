// The proxy's pure decisions: host forms, where each leads (lookups faked), the hand-off context, the wait time.

import { describe, expect, test } from "bun:test";
import {
  describeTarget, handOffContext, parseHost, resolveTarget, waitTime, type Lookups,
} from "../../src/proxy/core.ts";
import { Failure } from "../../src/shared/failure.ts";

describe("host specifications", () => {
  test.each([
    ["unix/run/x", { kind: "unix", path: "run/x" }],
    ["unix%run/x", { kind: "unix", path: "run/x" }],
    ["unix//run/x", { kind: "unix", path: "/run/x" }],
    ["unix%%run", { kind: "unix", path: "%run" }],
    ["unix/", { kind: "unix", path: "" }],
    ["vsock/3", { kind: "vsock", cid: "3" }],
    ["vsock%host", { kind: "vsock", cid: "host" }],
    ["vsock-mux/run/vm.sock", { kind: "vsock-mux", path: "run/vm.sock" }],
    ["vsock-mux%run/vm.sock", { kind: "vsock-mux", path: "run/vm.sock" }],
    ["machine/foo", { kind: "machine", name: "foo" }],
    ["machine%.host", { kind: "machine", name: ".host" }],
  ])("%p", (host, expected) => {
    expect(parseHost(host)).toEqual(expected as never);
  });

  test.each(["foo/bar", "unix", "vsock", "vsockx/3", "UNIX/run/x", "vsock-mux", "vsock-muxx/a", "machine:foo", "", "/unix/x"])(
    "%p is not a host specification",
    (host) => {
      expect(() => parseHost(host)).toThrow(`Don't know how to parse host name specification: ${host}`);
    },
  );

  test("paths are absolute unless they start with ./", () => {
    const path = (p: string) => describeTarget(resolveTarget(parseHost(`unix/${p}`), "22", lookups().l));
    expect(path("run/x")).toBe("unix /run/x");
    expect(path("/run/x")).toBe("unix /run/x");
    expect(path("./x")).toBe("unix ./x");
    expect(path("../x")).toBe("unix /../x");
    expect(path("")).toBe("unix /");
  });
});

/** Lookups that record what was asked and answer with fixed values. */
function lookups() {
  const asked: string[] = [];
  const l: Lookups = {
    machine: (name) => (asked.push(`machine ${name}`), name === "box" ? { kind: "container", path: "/run/box/ssh" } : { kind: "vm", cid: 42 }),
    qemu: (q) => (asked.push(`qemu ${q.scope} ${q.domain}`), 77),
  };
  return { l, asked };
}

const failure = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (e instanceof Failure) return e.message;
    throw e;
  }
  throw new Error("no failure");
};

describe("resolveTarget", () => {
  test.each([
    ["unix/run/x", "22", "unix /run/x"],
    ["vsock-mux%run/vm.sock", "ssh", "vsock-mux /run/vm.sock port ssh"],
    ["vsock/host", "0x16", "vsock CID 2 port 22"],
    ["machine/box", "22", "unix /run/box/ssh"],
    ["machine/vm", "2222", "vsock CID 42 port 2222"],
    ["qemu:session/dom", "22", "vsock CID 77 port 22"],
  ])("%s %s → %s", (host, port, line) => {
    expect(describeTarget(resolveTarget(parseHost(host), port, lookups().l))).toBe(line);
  });

  test("machine/ is looked up before the port is parsed, qemu/ after", () => {
    const m = lookups();
    expect(failure(() => resolveTarget(parseHost("machine/vm"), "x", m.l))).toBe("Failed to parse vsock port: x");
    expect(m.asked).toEqual(["machine vm"]);
    const q = lookups();
    expect(failure(() => resolveTarget(parseHost("qemu/dom"), "x", q.l))).toBe("Failed to parse vsock port: x");
    expect(q.asked).toEqual([]);
  });

  test("systemd's messages for what cannot name a peer", () => {
    const { l } = lookups();
    expect(failure(() => resolveTarget(parseHost("vsock/any"), "22", l))).toBe("Cannot use VMADDR_CID_ANY to connect to a remote host.");
    expect(failure(() => resolveTarget(parseHost("vsock/x"), "22", l))).toBe("Failed to parse vsock cid: x");
    expect(failure(() => parseHost("ftp/x"))).toBe("Don't know how to parse host name specification: ftp/x");
  });
});

describe("handOffContext", () => {
  test("no half-close on vsock-mux, the family for messages", () => {
    expect(handOffContext({ kind: "vsock-mux", path: "/m", port: "22" }, "auto")).toEqual({ family: "AF_UNIX", halfClose: false, transport: "auto" });
    expect(handOffContext({ kind: "unix", path: "/s" }, "relay")).toEqual({ family: "AF_UNIX", halfClose: true, transport: "relay" });
    expect(handOffContext({ kind: "vsock", cid: 3, port: 22 }, "fdpass")).toEqual({ family: "AF_VSOCK", halfClose: true, transport: "fdpass" });
  });
});

describe("waitTime", () => {
  test("--wait wins over the environment, an empty variable is unset", () => {
    expect(waitTime(1500, "20")).toBe(1500);
    expect(waitTime(null, "2.5")).toBe(2500);
    expect(waitTime(null, "")).toBe(0);
    expect(waitTime(null, undefined)).toBe(0);
    expect(failure(() => waitTime(null, "-3"))).toBe('Invalid wait time in $SYSTEMD_SSH_PROXY_WAIT: "-3" (expected seconds, e.g. 30 or 2.5).');
  });
});

// Parsing of the proxy's arguments: host forms, CIDs and ports with systemd's number rules.

import { describe, expect, test } from "bun:test";
import { absolutizeSocketPath, parseHostSpec } from "../../src/proxy/core.ts";
import { safeAtou } from "../../src/shared/parse-number.ts";
import { parseVsockCid, parseVsockPort } from "../../src/shared/vsock-address.ts";

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
    expect(parseHostSpec(host)).toEqual(expected as never);
  });

  test.each(["foo/bar", "unix", "vsock", "vsockx/3", "UNIX/run/x", "vsock-mux", "vsock-muxx/a", "machine:foo", "", "/unix/x"])(
    "%p is not a host specification",
    (host) => {
      expect(parseHostSpec(host)).toBeNull();
    },
  );

  test("paths are absolute unless they start with ./", () => {
    expect(absolutizeSocketPath("run/x")).toBe("/run/x");
    expect(absolutizeSocketPath("/run/x")).toBe("/run/x");
    expect(absolutizeSocketPath("./x")).toBe("./x");
    expect(absolutizeSocketPath("../x")).toBe("/../x");
    expect(absolutizeSocketPath("")).toBe("/");
  });
});

describe("safe_atou()", () => {
  test.each([
    ["0", 0], ["22", 22], ["0x16", 22], ["0X16", 22], ["022", 18], ["0b10110", 22], ["0o26", 22], ["0B1", 1],
    ["0O7", 7], ["+22", 22], ["  22", 22], ["\t\n\r22", 22], ["-0", 0], ["4294967295", 4294967295], ["00", 0],
    ["0x0", 0], [" \v22", 22],
  ])("%p → %p", (s, v) => {
    expect(safeAtou(s)).toEqual({ ok: true, value: v });
  });

  test.each([
    ["", "EINVAL"], ["abc", "EINVAL"], ["22 ", "EINVAL"], ["22x", "EINVAL"], ["0x", "EINVAL"], ["0b", "EINVAL"],
    ["0b2", "EINVAL"], ["08", "EINVAL"], ["0o8", "EINVAL"], ["1.5", "EINVAL"], ["- 1", "EINVAL"], ["\v", "EINVAL"],
    ["-1", "ERANGE"], ["4294967296", "ERANGE"], ["99999999999999999999999", "ERANGE"], ["-0x1", "ERANGE"],
    ["0x1_0", "EINVAL"], ["0b-1", "ERANGE"],
  ])("%p is refused (%s)", (s, error) => {
    expect(safeAtou(s)).toEqual({ ok: false, error } as never);
  });

  test("narrower and wider types", () => {
    expect(safeAtou("65535", { bits: 16 })).toEqual({ ok: true, value: 65535 });
    expect(safeAtou("65536", { bits: 16 })).toEqual({ ok: false, error: "ERANGE" });
    expect(safeAtou("4294967296", { bits: 64 })).toEqual({ ok: true, value: 4294967296 });
    expect(safeAtou("ff", { base: 16 })).toEqual({ ok: true, value: 255 });
  });
});

describe("vsock CIDs and ports", () => {
  test.each([["hypervisor", 0], ["local", 1], ["host", 2], ["3", 3], ["0x10", 16], ["4294967294", 4294967294]])(
    "cid %p → %p",
    (s, v) => {
      expect(parseVsockCid(s)).toBe(v);
    },
  );
  test.each(["Host", "abc", "", "-5", "4294967296", "3 "])("cid %p is refused", (s) => {
    expect(parseVsockCid(s)).toBeNull();
  });
  test.each([["22", 22], ["0", 0], ["0x16", 22], ["4294967294", 4294967294]])("port %p → %p", (s, v) => {
    expect(parseVsockPort(s)).toBe(v);
  });
  test.each(["4294967295", "abc", "", "-1", "22x", "4294967296"])("port %p is refused", (s) => {
    expect(parseVsockPort(s)).toBeNull();
  });
});

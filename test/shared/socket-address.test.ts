// Socket addresses (src/shared/socket-address.ts) where the differential tests cannot reach: a kernel
// without IPv6, and glibc's inet_pton()/inet_ntop() on their own.

import { describe, expect, test } from "bun:test";
import { inetNtop6, inetPton6, parseSocketAddress, printSocketAddress, type SocketEnv } from "../../src/shared/socket-address.ts";

describe("socket addresses", () => {
  const noV6: SocketEnv = { ipv6Supported: () => false, resolveInterface: () => "ENODEV", interfaceName: () => null };
  test("a bare port without IPv6 is 0.0.0.0:PORT", () => {
    const r = parseSocketAddress("0x16", noV6);
    expect(r.ok && printSocketAddress(r.address, noV6)).toEqual({ ok: true, text: "0.0.0.0:22" });
  });
  test("inet_pton/inet_ntop round trips as glibc prints them", () => {
    for (const [i, o] of [["::", "::"], ["0:0:0:0:0:0:0:1", "::1"], ["1:0:0:2:0:0:0:3", "1:0:0:2::3"], ["::ffff:1.2.3.4", "::ffff:1.2.3.4"],
      ["::1.2.3.4", "::1.2.3.4"], ["1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0"], ["ABCD::", "abcd::"], ["0:0:1::", "0:0:1::"]] as const) {
      expect(inetNtop6(inetPton6(i)!)).toBe(o);
    }
    for (const bad of ["", ":", ":::", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "::1.2.3", "g::"]) expect(inetPton6(bad)).toBeNull();
  });
});

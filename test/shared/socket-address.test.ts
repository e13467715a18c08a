// Socket addresses (src/shared/socket-address.ts) where the differential tests cannot reach: a kernel
// without IPv6, and glibc's inet_pton()/inet_ntop() on their own.

import { describe, expect, test } from "bun:test";
import { parseSocketAddress, printSocketAddress, type SocketEnv } from "../../src/shared/socket-address.ts";

describe("socket addresses", () => {
  const noV6: SocketEnv = { ipv6Supported: () => false, resolveInterface: () => "ENODEV", interfaceName: () => null };
  test("a bare port without IPv6 is 0.0.0.0:PORT", () => {
    const r = parseSocketAddress("0x16", noV6);
    expect(r.ok && printSocketAddress(r.address, noV6)).toEqual({ ok: true, text: "0.0.0.0:22" });
  });
  const v6: SocketEnv = { ...noV6, ipv6Supported: () => true };
  const printed = (s: string) => {
    const r = parseSocketAddress(s, v6);
    return r.ok ? printSocketAddress(r.address, v6) : r;
  };
  test("IPv6 addresses are read as glibc's inet_pton() reads them and printed as its inet_ntop() prints them", () => {
    for (const [i, o] of [["::", "::"], ["0:0:0:0:0:0:0:1", "::1"], ["1:0:0:2:0:0:0:3", "1:0:0:2::3"], ["::ffff:1.2.3.4", "::ffff:1.2.3.4"],
      ["::1.2.3.4", "::1.2.3.4"], ["1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0"], ["ABCD::", "abcd::"], ["0:0:1::", "0:0:1::"]] as const) {
      expect(printed(`[${i}]:22`)).toEqual({ ok: true, text: `[${o}]:22` });
    }
    for (const bad of ["", ":", ":::", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "::1.2.3", "g::"]) {
      expect(printed(`[${bad}]:22`)).toEqual({ ok: false, errno: "EINVAL" });
    }
  });
});

// vsock CIDs and ports as systemd spells them.

import { describe, expect, test } from "bun:test";
import { parseVsockCid, parseVsockPort } from "../../src/shared/vsock-address.ts";

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

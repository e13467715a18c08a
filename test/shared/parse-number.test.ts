// safe_atou(): systemd's number rules (bases, signs, blanks, ranges).

import { describe, expect, test } from "bun:test";
import { safeAtou } from "../../src/shared/parse-number.ts";

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
    // Either side of the plain-decimal shortcut's 15 digits, and base 10 with a leading zero.
    expect(safeAtou("999999999999999", { bits: 64 })).toEqual({ ok: true, value: 999999999999999 });
    expect(safeAtou("1000000000000000", { bits: 64 })).toEqual({ ok: true, value: 1000000000000000 });
    expect(safeAtou("999999999999999")).toEqual({ ok: false, error: "ERANGE" });
    expect(safeAtou("08", { base: 10 })).toEqual({ ok: true, value: 8 });
  });

  test("what cannot start a number is refused before the 64-bit walk, and only that", () => {
    // The shortcut's side: socket_address_parse() tries every address as a port first.
    for (const s of ["[::1]:22", ":22", "vsock:1:2", "/run/x", "x1", "é1", "\x7f1"]) {
      expect(safeAtou(s)).toEqual({ ok: false, error: "EINVAL" });
    }
    // The other side: blanks, signs, and letters that are digits in a base above 10.
    expect(safeAtou("\f7")).toEqual({ ok: true, value: 7 });
    expect(safeAtou("+0x1f")).toEqual({ ok: true, value: 31 });
    expect(safeAtou("-0")).toEqual({ ok: true, value: 0 });
    expect(safeAtou("1f", { base: 16 })).toEqual({ ok: true, value: 31 });
    expect(safeAtou("z", { base: 16 })).toEqual({ ok: false, error: "EINVAL" });
  });
});

// ffi/le-fields.ts: the little-endian fields of our structs, checked against a DataView, which does the same
// arithmetic in the engine, at values whose high bit or high half a sign or a 32-bit overflow would lose.

import { describe, expect, test } from "bun:test";
import { getU32, getU64, setU32, setU64, u64Key } from "../../ffi/le-fields.ts";

const U32 = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fffffff, 0x80000000, 0xdeadbeef, 0xffffffff];
const U64 = [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 0x7fff_ffff_f000, 2 ** 53 - 1];

describe("u32 in a byte array", () => {
  test.each(U32)("%d at an odd offset", (v) => {
    const bytes = new Uint8Array(8).fill(0xaa);
    setU32(bytes, 3, v);
    const view = new DataView(bytes.buffer);
    expect(view.getUint32(3, true)).toBe(v);
    expect(getU32(bytes, 3)).toBe(v);
    // The bytes around the field are left as they were.
    expect([...bytes.subarray(0, 3), bytes[7]]).toEqual([0xaa, 0xaa, 0xaa, 0xaa]);
  });

  test("setU32 keeps the low 32 bits, as a C store into a u32 does", () => {
    const bytes = new Uint8Array(4);
    setU32(bytes, 0, 2 ** 32 + 5);
    expect(getU32(bytes, 0)).toBe(5);
    setU32(bytes, 0, -1);
    expect(getU32(bytes, 0)).toBe(0xffffffff);
  });
});

describe("u64 through a DataView", () => {
  test.each(U64)("%d", (v) => {
    const view = new DataView(new ArrayBuffer(16));
    setU64(view, 8, v);
    expect(view.getBigUint64(8, true)).toBe(BigInt(v));
    expect(getU64(view, 8)).toBe(v);
  });

  test("u64Key tells apart values that differ in either half, and only those", () => {
    const view = new DataView(new ArrayBuffer(16));
    view.setBigUint64(0, 0x1_0000_0002n, true);
    view.setBigUint64(8, 0x2_0000_0001n, true);
    expect(u64Key(view, 0)).not.toBe(u64Key(view, 8));
    view.setBigUint64(8, 0x1_0000_0002n, true);
    expect(u64Key(view, 0)).toBe(u64Key(view, 8));
  });
});

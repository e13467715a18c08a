// ffi/io.ts read/write helpers: lengths are clamped to the buffer, so libc never reads or writes past it.

import { describe, expect, test } from "bun:test";
import { pipe, readInto, writeFrom } from "../../ffi/io.ts";
import { close } from "../../ffi/socket.ts";

describe("writeFrom and readInto stay inside the buffer", () => {
  test("a length past the end of the buffer writes only the buffer's bytes", () => {
    const [r, w] = pipe();
    try {
      const buf = new Uint8Array(new ArrayBuffer(16));
      buf.set([1, 2, 3, 4, 5, 6, 7, 8], 8);
      // From offset 12 only 4 bytes are left, whatever the caller asks for.
      expect(writeFrom(w, buf, 12, 4096)).toBe(4);
      const got = new Uint8Array(new ArrayBuffer(64));
      expect(readInto(r, got, got.length)).toBe(4);
      expect([...got.subarray(0, 4)]).toEqual([5, 6, 7, 8]);
    } finally {
      close(r);
      close(w);
    }
  });

  test("readInto reads no more than the buffer holds", () => {
    const [r, w] = pipe();
    try {
      const src = new Uint8Array(new ArrayBuffer(32)).fill(9);
      expect(writeFrom(w, src, 0, 32)).toBe(32);
      const small = new Uint8Array(new ArrayBuffer(8));
      expect(readInto(r, small, 1000)).toBe(8);
    } finally {
      close(r);
      close(w);
    }
  });
});

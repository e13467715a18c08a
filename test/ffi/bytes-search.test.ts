// includesBytes(): memmem(3) over byte arrays, including views that start inside their buffer.

import { describe, expect, test } from "bun:test";
import { includesBytes } from "../../ffi/bytes-search.ts";

const b = (s: string) => new Uint8Array([...s].map((c) => c.charCodeAt(0)));

describe("includesBytes", () => {
  test("finds a needle at the start, the middle and the very end", () => {
    expect(includesBytes(b("/libssh.so.4 rest"), b("/libssh.so."))).toBe(true);
    expect(includesBytes(b("a /libssh.so.4 b"), b("/libssh.so."))).toBe(true);
    expect(includesBytes(b("lib /libssh.so\n"), b("/libssh.so\n"))).toBe(true);
  });
  test("a near miss is no match, nor is a needle longer than the text", () => {
    expect(includesBytes(b("/libssh2.so.1"), b("/libssh.so."))).toBe(false);
    expect(includesBytes(b("/libssh.so"), b("/libssh.so."))).toBe(false);
    expect(includesBytes(b(""), b("x"))).toBe(false);
  });
  test("bytes past 0x7f and NULs are compared as bytes", () => {
    expect(includesBytes(new Uint8Array([0, 0xff, 0x80, 1]), new Uint8Array([0xff, 0x80]))).toBe(true);
    expect(includesBytes(new Uint8Array([0, 0xff, 0x81, 1]), new Uint8Array([0xff, 0x80]))).toBe(false);
  });
  test("a view searches its own bytes only, not the rest of its buffer", () => {
    const whole = b("xx/libssh.so.4yy");
    expect(includesBytes(whole.subarray(2, 14), b("/libssh.so."))).toBe(true);
    expect(includesBytes(whole.subarray(0, 8), b("/libssh.so."))).toBe(false);
    expect(includesBytes(whole.subarray(4), b("/libssh.so."))).toBe(false);
  });
  test("an empty needle is refused", () => {
    expect(() => includesBytes(b("abc"), new Uint8Array(0))).toThrow(RangeError);
  });
});

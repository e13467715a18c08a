// ffi/libc.ts binds libc through the engine's own trampolines (bun:ffi's native.dlopen), without the
// JavaScript wrappers that bun:ffi's dlopen() puts around them to convert each argument.

import { describe, expect, test } from "bun:test";
import * as ffi from "bun:ffi";
import { strerror } from "../../ffi/errors.ts";
import { PollSet, pipe, POLLIN } from "../../ffi/io.ts";
import { libc } from "../../ffi/libc.ts";
import { close } from "../../ffi/socket.ts";

describe("the libc binding", () => {
  test("this Bun has native.dlopen, and the symbols are its trampolines, not functions written at run time", () => {
    // If a Bun upgrade drops native.dlopen, ffi/libc.ts falls back to the wrapped dlopen: still correct,
    // but each symbol then costs a compile at start (scripts/bench). This test says so.
    expect(typeof (ffi as { native?: { dlopen?: unknown } }).native?.dlopen).toBe("function");
    for (const f of [libc.close, libc.read, libc.statx, libc.socket, libc.strerror]) {
      expect(Function.prototype.toString.call(f)).toContain("[native code]");
    }
  });

  test("strerror's pointer is read as libc's text", () => {
    expect(strerror(2)).toBe("No such file or directory");
    expect(strerror(22)).toBe("Invalid argument");
  });

  test("a trampoline converts a fractional number for an int argument, as the wrappers did", () => {
    // 20.5 read as raw bits would be a timeout of 0 ms.
    const [r, w] = pipe();
    try {
      const set = new PollSet(1);
      set.add(r, POLLIN);
      const t = performance.now();
      expect(set.wait(20.5)).toBe(0);
      const took = performance.now() - t;
      expect(took).toBeGreaterThanOrEqual(19);
      expect(took).toBeLessThan(2000);
    } finally {
      close(r);
      close(w);
    }
  });
});

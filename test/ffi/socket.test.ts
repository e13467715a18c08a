// ffi/socket.ts against the real kernel: descriptor passing, long AF_UNIX paths, peeking, timeouts, errors.

import { afterAll, describe, expect, test } from "bun:test";
import { fstatSync, mkdirSync, readdirSync, readSync, writeSync } from "node:fs";
import { join } from "node:path";
import { SysError } from "../../ffi/errors.ts";
import {
  close, connectUnix, getRecvTimeout, MSG_PEEK, recv, sendAll, sendFd, setRecvTimeout, SOCK_STREAM,
} from "../../ffi/socket.ts";
import type { PathArg } from "../../ffi/path-bytes.ts";
import { accept, listenUnix, recvFd, socketpair, socketType } from "../../ffi/test-sockets.ts";
import { thrown } from "../helpers/thrown.ts";
import { removeDir, tempDir } from "../helpers/tmp.ts";

const dir = tempDir("ffi");
afterAll(() => removeDir(dir));

describe("sendFd / recvFd", () => {
  test("a thousand descriptors in a row arrive intact (no stale pointers)", () => {
    const [a, b] = socketpair();
    try {
      for (let i = 0; i < 1000; i++) {
        // A fresh pair each round, so every descriptor number and every message buffer is new; churn the
        // heap and force collections now and then so that a moved or freed buffer would show.
        const [x, y] = socketpair();
        if (i % 100 === 0) Bun.gc(true);
        const garbage = Array.from({ length: 50 }, (_, k) => new Uint8Array(k + 1));
        sendFd(a, x);
        const got = recvFd(b);
        expect(got.fd).not.toBeNull();
        expect(Array.from(got.data)).toEqual([0]);
        // The received descriptor is the same socket: bytes written to y come out of it.
        const token = `msg-${i}`;
        writeSync(y, token);
        const buf = Buffer.alloc(32);
        const n = readSync(got.fd!, buf);
        expect(buf.subarray(0, n).toString()).toBe(token);
        expect(garbage.length).toBe(50);
        close(got.fd!);
        close(x);
        close(y);
      }
    } finally {
      close(a);
      close(b);
    }
  });

  test("sending on a pipe fails with ENOTSOCK, as systemd reports it", () => {
    const { readable, writable } = pipe();
    try {
      expect(() => sendFd(writable, 0)).toThrow(SysError);
      try {
        sendFd(writable, 0);
      } catch (e) {
        expect((e as SysError).code).toBe("ENOTSOCK");
        expect((e as SysError).strerror).toBe("Socket operation on non-socket");
      }
    } finally {
      close(readable);
      close(writable);
    }
  });
});

/** Both ends of a pipe (a FIFO in the temp dir: Node's API has no pipe(2)). */
function pipe(): { readable: number; writable: number } {
  const fifo = join(dir, `fifo-${Math.random().toString(16).slice(2)}`);
  Bun.spawnSync(["mkfifo", fifo]);
  const fs = require("node:fs") as typeof import("node:fs");
  const readable = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const writable = fs.openSync(fifo, fs.constants.O_WRONLY);
  return { readable, writable };
}

describe("connectUnix", () => {
  test("connects to a listening socket and reports ENOENT with libc's text", () => {
    const path = join(dir, "listen.sock");
    const l = listenUnix(path);
    try {
      expectConnects(l, path);
    } finally {
      close(l);
    }
    const e = thrown(() => connectUnix(join(dir, "missing.sock")), SysError);
    expect([e.code, e.syscall, e.strerror]).toEqual(["ENOENT", "connect", "No such file or directory"]);
  });

  test("paths longer than sun_path connect through /proc/self/fd", () => {
    let deep = dir;
    while (deep.length < 200) deep = join(deep, "a-rather-long-directory-name");
    mkdirSync(deep, { recursive: true });
    const path = join(deep, "sock");
    expect(Buffer.byteLength(path)).toBeGreaterThan(108);
    // bind() cannot take the long path either: bind through a short relative path from inside the dir.
    const l = bindRelative(deep, "sock");
    try {
      expectConnects(l, path);
      expect(() => connectUnix(join(deep, "nope"))).toThrow("No such file or directory");
    } finally {
      close(l);
    }
  });

  test("an empty path is EINVAL", () => {
    expect(() => connectUnix("")).toThrow("Invalid argument");
    expect(() => connectUnix(new Uint8Array(0))).toThrow("Invalid argument");
  });

  // A path given as bytes is used exactly: \xff is not UTF-8, é is, \xe2\x82 is a cut-off sequence. So is a
  // byte string of the same characters, one per byte (ffi/path-bytes.ts).
  const NAME = Buffer.from("s-\xff-\xc3\xa9-\xe2\x82", "latin1");
  const names = (d: string) => readdirSync(d, { encoding: "buffer" }).map((n) => n.toString("hex"));

  /** `l` listens at `path`, NAME in `dir`: named on disk by those bytes, reached by them and by the byte string
   * of them (data both ways). */
  function expectReachedAsBytes(l: number, dir: string, path: Buffer): void {
    expect(names(dir)).toEqual([NAME.toString("hex")]);
    expectConnects(l, new Uint8Array(path));
    expectConnects(l, path.toString("latin1"));
  }

  test("a string with a character past U+00FF is text: reached by its UTF-8", () => {
    const sub = join(dir, "text");
    mkdirSync(sub);
    const l = listenUnix(new Uint8Array(Buffer.from(`${sub}/s-\u20ac`, "utf8")));
    try {
      expect(names(sub)).toEqual([Buffer.from("s-\u20ac", "utf8").toString("hex")]);
      expectConnects(l, `${sub}/s-\u20ac`);
    } finally {
      close(l);
    }
  });

  test("a path in bytes (Uint8Array), short: listened on and connected to as exactly those bytes", () => {
    const sub = join(dir, "bytes-short");
    mkdirSync(sub);
    const path = Buffer.concat([Buffer.from(`${sub}/`), NAME]);
    const l = listenUnix(new Uint8Array(path));
    try {
      expectReachedAsBytes(l, sub, path);
    } finally {
      close(l);
    }
  });

  test("a path in bytes (Uint8Array) longer than sun_path: through /proc/self/fd, as exactly those bytes", () => {
    let deep = join(dir, "bytes-long");
    while (deep.length < 200) deep = join(deep, "a-rather-long-directory-name");
    mkdirSync(deep, { recursive: true });
    const path = Buffer.concat([Buffer.from(`${deep}/`), NAME]);
    expect(path.length).toBeGreaterThan(108);
    const l = bindRelative(deep, new Uint8Array(NAME));
    try {
      expectReachedAsBytes(l, deep, path);
    } finally {
      close(l);
    }
  });
});

/** A client connecting to `path` is accepted on the listener `l`, and data goes both ways. */
function expectConnects(l: number, path: PathArg): void {
  const c = connectUnix(path);
  const s = accept(l);
  try {
    sendAll(c, new TextEncoder().encode("to server"));
    expect(new TextDecoder().decode(recv(s, 16))).toBe("to server");
    sendAll(s, new TextEncoder().encode("to client"));
    expect(new TextDecoder().decode(recv(c, 16))).toBe("to client");
  } finally {
    close(c);
    close(s);
  }
}

function bindRelative(cwd: string, name: string | Uint8Array): number {
  const old = process.cwd();
  process.chdir(cwd);
  try {
    return listenUnix(name);
  } finally {
    process.chdir(old);
  }
}

describe("recv, MSG_PEEK and receive timeouts", () => {
  test("peeked bytes stay queued", () => {
    const [a, b] = socketpair();
    sendAll(a, new TextEncoder().encode("OK 22\nrest"));
    expect(new TextDecoder().decode(recv(b, 6, MSG_PEEK))).toBe("OK 22\n");
    expect(new TextDecoder().decode(recv(b, 6))).toBe("OK 22\n");
    expect(new TextDecoder().decode(recv(b, 16))).toBe("rest");
    close(a);
    expect(recv(b, 16).length).toBe(0); // EOF
    close(b);
  });

  test("SO_RCVTIMEO round-trips and a timed-out recv is EAGAIN", () => {
    const [a, b] = socketpair();
    expect(getRecvTimeout(b)).toEqual({ sec: 0, usec: 0 });
    // A multiple of every kernel tick length (the kernel rounds to jiffies).
    setRecvTimeout(b, { sec: 0, usec: 100_000 });
    expect(getRecvTimeout(b)).toEqual({ sec: 0, usec: 100_000 });
    const t0 = performance.now();
    expect(() => recv(b, 1)).toThrow(expect.objectContaining({ code: "EAGAIN" }));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(90);
    close(a);
    close(b);
  });

  test("socketType tells sockets from other descriptors", () => {
    const [a, b] = socketpair();
    expect(socketType(a)).toBe(SOCK_STREAM);
    const { readable, writable } = pipe();
    expect(socketType(readable)).toBeNull();
    expect(fstatSync(readable).isFIFO()).toBe(true);
    for (const fd of [a, b, readable, writable]) close(fd);
  });
});

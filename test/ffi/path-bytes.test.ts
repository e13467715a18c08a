// ffi/path-bytes.ts and the path calls of ffi/fs.ts: a path string is a byte string, one character per
// byte, so a name that is not UTF-8 reaches the kernel as given; every call of ffi/fs.ts makes its C path in
// line (ASCII natively, anything else through cPath()), so each is checked here with a name that is not ASCII.

import { afterAll, describe, expect, test } from "bun:test";
import { lstatSync, readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { access, chmod, close, createExclusive, F_OK, link, mkdir, readdir, stat, symlink, unlink } from "../../ffi/fs.ts";
import { cPath, pathBytes } from "../../ffi/path-bytes.ts";
import { removeDir, tempDir } from "../helpers/tmp.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("pathBytes and cPath", () => {
  test("ASCII, a byte string, text past U+00FF, bytes", () => {
    expect(hex(pathBytes("/run/x"))).toBe(Buffer.from("/run/x").toString("hex"));
    expect(hex(pathBytes("a\xff\xe9"))).toBe("61ffe9");
    expect(hex(pathBytes("a\u20ac"))).toBe("61e282ac");
    const raw = new Uint8Array([0x61, 0xff]);
    expect(pathBytes(raw)).toBe(raw);
  });

  test("cPath is NUL-terminated, in an ArrayBuffer of its own", () => {
    const c = cPath("a\xff");
    expect(hex(c)).toBe("61ff00");
    expect(c.byteOffset).toBe(0);
    expect(c.buffer.byteLength).toBe(3);
  });
});

describe("ffi/fs.ts with a name that is not ASCII", () => {
  const base = tempDir("path-bytes");
  afterAll(() => removeDir(base));
  // base is ASCII; NAME is the bytes 6e ff 2d e9 (not UTF-8), as a byte string.
  const NAME = "n\xff-\xe9";
  const onDisk = (dir: string | Buffer) => readdirSync(dir, { encoding: "buffer" }).map((n) => n.toString("hex")).sort();
  const bytesPath = (...parts: string[]) => Buffer.from(join(...parts), "latin1");

  test("mkdir, chmod, stat, access", () => {
    const dir = `${base}/${NAME}`;
    expect(mkdir(dir, 0o700)).toBe(0);
    expect(onDisk(base)).toEqual(["6eff2de9"]);
    expect(chmod(dir, 0o755)).toBe(0);
    expect(lstatSync(bytesPath(base, NAME)).mode & 0o777).toBe(0o755);
    const st = stat(dir);
    expect(typeof st === "number" ? st : st.type).toBe("dir");
    expect(access(dir, F_OK)).toBe(0);
    expect(access(`${dir}-not`, F_OK)).toBe(2); // ENOENT
  });

  test("createExclusive, link, symlink, unlink", () => {
    const dir = `${base}/${NAME}`;
    const fd = createExclusive(`${dir}/f\xff`, 0o644);
    expect(fd).toBeGreaterThanOrEqual(0);
    close(fd);
    expect(createExclusive(`${dir}/f\xff`, 0o644)).toBe(-17); // EEXIST
    expect(link(`${dir}/f\xff`, `${dir}/g\xe9`)).toBe(0);
    expect(symlink(`t\xff`, `${dir}/l\xff`)).toBe(0);
    expect(onDisk(bytesPath(base, NAME))).toEqual(["66ff", "67e9", "6cff"]);
    expect(readlinkSync(bytesPath(base, NAME, "l\xff"), { encoding: "buffer" }).toString("hex")).toBe("74ff");
    expect(unlink(`${dir}/g\xe9`)).toBe(0);
    expect(unlink(`${dir}/g\xe9`)).toBe(2); // ENOENT
  });

  test("readdir: every name as its bytes, the longest a name can be and ones that are not UTF-8 included", () => {
    const dir = `${base}/list`;
    expect(mkdir(dir, 0o755)).toBe(0);
    const made = ["a", "x".repeat(255), "\xff\xe9", "n\xff-\xe9", ...Array.from({ length: 100 }, (_, i) => `f${i}`)];
    for (const n of made) close(createExclusive(`${dir}/${n}`, 0o644));
    const names = readdir(dir);
    expect(typeof names).not.toBe("number");
    const got = (names as Uint8Array[]).map(hex).sort();
    expect(got).toEqual(onDisk(dir));
    expect(got).toEqual(made.map((n) => Buffer.from(n, "latin1").toString("hex")).sort());
  });

  test("readdir with a prefix: exactly the names that start with it", () => {
    const dir = `${base}/prefixed`;
    expect(mkdir(dir, 0o755)).toBe(0);
    // Shorter than the prefix, equal to it, the first byte alone, the last byte wrong, past it, not UTF-8.
    const made = ["lib", "libsystemd-shared-", "l", "libsystemd-shared_", "libsystemd-shared-257.so", "libsystemd-shared-\xff", "x"];
    for (const n of made) close(createExclusive(`${dir}/${n}`, 0o644));
    const names = readdir(dir, new TextEncoder().encode("libsystemd-shared-"));
    expect((names as Uint8Array[]).map(hex).sort()).toEqual(
      ["libsystemd-shared-", "libsystemd-shared-257.so", "libsystemd-shared-\xff"].map((n) => Buffer.from(n, "latin1").toString("hex")).sort(),
    );
    expect(readdir(`${dir}/missing`, new Uint8Array([0x6c]))).toBe(2); // ENOENT
  });
});

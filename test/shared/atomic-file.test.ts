import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { SysError } from "../../ffi/errors.ts";
import { mkdirParents, symlinkAtomic, writeFileAtomic } from "../../src/shared/atomic-file.ts";
import { thrown } from "../helpers/thrown.ts";
import { removeDir, tempDir } from "../helpers/tmp.ts";

const data = (s: string) => new TextEncoder().encode(s);

/** What the call threw, as "<syscall> <errno name>". */
function failure(f: () => void): string {
  const e = thrown(f, SysError);
  return `${e.syscall} ${e.code}`;
}

let dir: string;
let umask: number;
beforeEach(() => {
  dir = tempDir("atomic-file");
  umask = process.umask(0o077);
});
afterEach(() => {
  process.umask(umask);
  removeDir(dir);
});

describe("writeFileAtomic, replacing", () => {
  test("creates the file with exactly the mode asked for, whatever the umask", () => {
    writeFileAtomic(`${dir}/f`, data("one\n"), { mode: 0o644 });
    expect(readFileSync(`${dir}/f`, "utf8")).toBe("one\n");
    expect(statSync(`${dir}/f`).mode & 0o7777).toBe(0o644);
    expect(readdirSync(dir)).toEqual(["f"]);
  });

  test("replaces a file, and a symlink rather than what it points to", () => {
    writeFileSync(`${dir}/f`, "old");
    writeFileSync(`${dir}/pointed-to`, "kept");
    symlinkSync("pointed-to", `${dir}/link`);
    writeFileAtomic(`${dir}/f`, data("new"), { mode: 0o600 });
    writeFileAtomic(`${dir}/link`, data("new"), { mode: 0o600 });
    expect(readFileSync(`${dir}/f`, "utf8")).toBe("new");
    expect(lstatSync(`${dir}/link`).isFile()).toBe(true);
    expect(readFileSync(`${dir}/pointed-to`, "utf8")).toBe("kept");
  });

  test("refuses to replace a directory with EEXIST, as systemd does, and removes its temporary file", () => {
    mkdirSync(`${dir}/d`);
    expect(failure(() => writeFileAtomic(`${dir}/d`, data("x"), { mode: 0o644, sync: true }))).toBe("rename EEXIST");
    expect(readdirSync(dir)).toEqual(["d"]);
  });

  test("a missing directory fails at open", () => {
    expect(failure(() => writeFileAtomic(`${dir}/no/f`, data("x")))).toBe("open ENOENT");
  });

  test("names are bytes: a path that is not UTF-8 is written as given", () => {
    writeFileAtomic(`${dir}/\xe9`, data("x"), { mode: 0o644 });
    expect(readdirSync(Buffer.from(dir), { encoding: "buffer" }).map((b) => [...b])).toEqual([[0xe9]]);
  });
});

describe("writeFileAtomic, exclusive", () => {
  test("creates a new name, 0666 less the umask when no mode is given", () => {
    process.umask(0o027);
    writeFileAtomic(`${dir}/f`, data("unit"), { exclusive: true });
    expect(readFileSync(`${dir}/f`, "utf8")).toBe("unit");
    expect(statSync(`${dir}/f`).mode & 0o7777).toBe(0o640);
    expect(readdirSync(dir)).toEqual(["f"]);
  });

  test("refuses an existing name with EEXIST, leaving it and no temporary file", () => {
    writeFileSync(`${dir}/f`, "first");
    expect(failure(() => writeFileAtomic(`${dir}/f`, data("second"), { exclusive: true }))).toBe("link EEXIST");
    expect(readFileSync(`${dir}/f`, "utf8")).toBe("first");
    expect(readdirSync(dir)).toEqual(["f"]);
  });

  test("refuses a dangling symlink too", () => {
    symlinkSync("nowhere", `${dir}/f`);
    expect(failure(() => writeFileAtomic(`${dir}/f`, data("x"), { exclusive: true }))).toBe("link EEXIST");
    expect(readdirSync(dir)).toEqual(["f"]);
  });
});

describe("mkdirParents", () => {
  test("makes the missing ancestors 0755 whatever the umask, outermost first", () => {
    expect(mkdirParents(`${dir}/a/b/file`)).toEqual([`${dir}/a`, `${dir}/a/b`]);
    expect(statSync(`${dir}/a`).mode & 0o7777).toBe(0o755);
    expect(statSync(`${dir}/a/b`).mode & 0o7777).toBe(0o755);
    expect(mkdirParents(`${dir}/a/b/file`)).toEqual([]);
  });

  test("follows a symlinked directory", () => {
    mkdirSync(`${dir}/real`);
    symlinkSync("real", `${dir}/via`);
    expect(mkdirParents(`${dir}/via/sub/file`)).toEqual([`${dir}/via/sub`]);
    expect(statSync(`${dir}/real/sub`).isDirectory()).toBe(true);
  });

  test("an ancestor that is a file is ENOTDIR, reported as the mkdir step", () => {
    writeFileSync(`${dir}/f`, "");
    expect(failure(() => mkdirParents(`${dir}/f/sub/file`))).toBe("mkdir ENOTDIR");
  });

  test("a relative path is taken from the working directory (the generator's output directory may be one)", () => {
    const before = process.cwd();
    process.chdir(dir);
    try {
      expect(mkdirParents("out/sockets.target.wants/")).toEqual(["./out", "./out/sockets.target.wants"]);
    } finally {
      process.chdir(before);
    }
    expect(statSync(`${dir}/out/sockets.target.wants`).mode & 0o7777).toBe(0o755);
  });
});

describe("symlinkAtomic", () => {
  test("replaces a file with the link, leaving no temporary name", () => {
    writeFileSync(`${dir}/l`, "file");
    symlinkAtomic("target", `${dir}/l`);
    expect(readlinkSync(`${dir}/l`)).toBe("target");
    expect(readdirSync(dir)).toEqual(["l"]);
  });

  test("a directory in the way fails at rename and the temporary link is removed", () => {
    mkdirSync(`${dir}/d`);
    expect(failure(() => symlinkAtomic("target", `${dir}/d`))).toBe("rename EISDIR");
    expect(readdirSync(dir)).toEqual(["d"]);
  });
});

// The real effects' file writes and removals, in a temporary directory.

import { describe, expect, test } from "bun:test";
import { lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SysError } from "../../ffi/errors.ts";
import { realEffects } from "../../src/issue/effects.ts";
import { removeDir, tempDir } from "../helpers/tmp.ts";

const { writeIssueFile, removeFile } = realEffects;

describe("writeIssueFile", () => {
  test("mode 0644 whatever the umask, parents 0755, symlink replaced, no temporary left", () => {
    const d = tempDir("issue-write");
    const old = process.umask(0o077);
    try {
      process.umask(0o022);
      writeFileSync(join(d, "target"), "keep");
      mkdirSync(join(d, "a"));
      symlinkSync("../target", join(d, "a", "f"));
      writeIssueFile(join(d, "a", "f"), "hello\n");
      expect(lstatSync(join(d, "a", "f")).isFile()).toBe(true);
      expect(readFileSync(join(d, "target"), "utf8")).toBe("keep");
      process.umask(0o077);
      writeIssueFile(join(d, "b", "c", "f"), "x");
      expect(lstatSync(join(d, "b", "c", "f")).mode & 0o7777).toBe(0o644);
      expect(lstatSync(join(d, "b", "c")).mode & 0o7777).toBe(0o755);
      expect(readdirSync(join(d, "a"))).toEqual(["f"]);
      expect(() => writeIssueFile(join(d, "target", "f"), "x")).toThrow(SysError);
      mkdirSync(join(d, "dir"));
      expect(() => writeIssueFile(join(d, "dir"), "x")).toThrow("File exists");
      expect(readdirSync(d).sort()).toEqual(["a", "b", "dir", "target"]);
    } finally {
      process.umask(old);
      removeDir(d);
    }
  });
});

describe("removeFile", () => {
  test("true when removed, false when it was not there, SysError otherwise", () => {
    const d = tempDir("issue-remove");
    try {
      writeFileSync(join(d, "f"), "");
      expect(removeFile(join(d, "f"))).toBe(true);
      expect(removeFile(join(d, "f"))).toBe(false);
      mkdirSync(join(d, "dir"));
      expect(() => removeFile(join(d, "dir"))).toThrow(SysError);
    } finally {
      removeDir(d);
    }
  });
});

// find_executable() (src/generator/find-executable.ts): $PATH's entries as systemd's extract_first_word()
// gives them (":" separates, a backslash takes the next byte as it is, quotes mean nothing, empty and
// relative entries are skipped), then the first executable regular file, its path simplified.

import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { findExecutable } from "../../src/generator/find-executable.ts";
import { removeDir, tempDir } from "../helpers/tmp.ts";

const base = tempDir("gen-find-exe");
afterAll(() => removeDir(base));

/** An executable `sshd` in base/dir. */
function sshdIn(dir: string): string {
  mkdirSync(join(base, dir), { recursive: true });
  const p = join(base, dir, "sshd");
  writeFileSync(p, "#!/bin/sh\n");
  chmodSync(p, 0o755);
  return p;
}

describe("$PATH entries, as systemd's extract_first_word() gives them", () => {
  const bin = sshdIn("bin");
  const colon = sshdIn("x:y");
  const backslash = sshdIn("a\\b");
  const quoted = sshdIn("'q'");
  test("split at colons; empty and relative entries skipped; the path simplified", () => {
    expect(findExecutable("sshd", `::bin:${base}//bin/`)).toBe(bin);
    expect(findExecutable("sshd", `${base}/none:`)).toEqual({ errno: "ENOENT" });
  });
  test("a backslash takes the next byte as it is and is dropped; one at the end is dropped", () => {
    expect(findExecutable("sshd", `${base}/b\\in`)).toBe(bin);
    expect(findExecutable("sshd", `${base}/x\\:y`)).toBe(colon);
    expect(findExecutable("sshd", `${base}/a\\\\b`)).toBe(backslash);
    expect(findExecutable("sshd", `${base}/bin\\`)).toBe(bin);
  });
  test("quotes mean nothing", () => {
    expect(findExecutable("sshd", `'${base}/bin'`)).toEqual({ errno: "ENOENT" });
    expect(findExecutable("sshd", `${base}/'q'`)).toBe(quoted);
  });
  test("a directory or a file without x: the error of the last entry that is not EACCES", () => {
    mkdirSync(join(base, "d/sshd"), { recursive: true });
    expect(findExecutable("sshd", `${base}/d`)).toEqual({ errno: "EISDIR" });
  });
});

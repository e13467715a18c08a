// Which systemd version the generator writes for (src/generator/systemd-version.ts), in a fake root.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { detectSystemdVersion } from "../../src/generator/systemd-version.ts";

const dir = mkdtempSync(join(tmpdir(), "gen-version-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("target systemd version", () => {
  const root = join(dir, "root");
  const env = (o: Record<string, string> = {}) => new Map(Object.entries(o));
  test("$SYSTEMD_SSH_TARGET_VERSION first", () => {
    expect(detectSystemdVersion(env({ SYSTEMD_SSH_TARGET_VERSION: "255" }), root)).toEqual({ version: 255, source: "$SYSTEMD_SSH_TARGET_VERSION" });
  });
  test("libsystemd-shared-NNN.so in the distribution's directories", () => {
    mkdirSync(join(root, "usr/lib/x86_64-linux-gnu/systemd"), { recursive: true });
    writeFileSync(join(root, "usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-252.so"), "");
    expect(detectSystemdVersion(env(), root).version).toBe(252);
    mkdirSync(join(root, "usr/lib/systemd"), { recursive: true });
    writeFileSync(join(root, "usr/lib/systemd/libsystemd-shared-255.4-1.fc40.so"), "");
    expect(detectSystemdVersion(env(), root).version).toBe(255);
  });
  test("only names of libsystemd-shared-NNN.so's form count, among the directory's others", () => {
    const r3 = join(dir, "root3");
    const d = join(r3, "usr/lib/systemd");
    mkdirSync(d, { recursive: true });
    for (let i = 0; i < 80; i++) writeFileSync(join(d, `systemd-unit-${i}`), "");
    for (const n of ["libsystemd-shared-25.so", "libsystemd-shared-2552.so", "libsystemd-shared-255x.so", "libsystemd-shared-255.so.0", "libsystemd-shared-abc.so", "libsystemd-shared-.so"]) {
      writeFileSync(join(d, n), "");
    }
    expect(detectSystemdVersion(env(), r3).version).toBeNull();
    for (const [n, v] of [["libsystemd-shared-256~rc1.so", 256], ["libsystemd-shared-257-.so", 257], ["libsystemd-shared-258.so", 258]] as const) {
      writeFileSync(join(d, n), "");
      expect(detectSystemdVersion(env(), r3)).toEqual({ version: v, source: `/usr/lib/systemd/${n}` });
      rmSync(join(d, n));
    }
  });
  test("the manager binary's version string, else unknown (the newest form)", () => {
    const r2 = join(dir, "root2");
    mkdirSync(join(r2, "usr/lib/systemd"), { recursive: true });
    writeFileSync(join(r2, "usr/lib/systemd/systemd"), "\0junk systemd 249.11-0ubuntu3 running in system mode (+PAM)\0");
    expect(detectSystemdVersion(env(), r2).version).toBe(249);
    expect(detectSystemdVersion(env(), join(dir, "empty")).version).toBeNull();
  });
});

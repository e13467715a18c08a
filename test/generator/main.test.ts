// End to end through src/main.ts, as the installed binary runs: argument handling, exit statuses, the
// explain modes (nothing written), and the debug line naming the chosen form.

import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runSync } from "../helpers/spawn.ts";
import { REPO } from "../helpers/tmp.ts";

const BUN = join(REPO, "node_modules/.bin/bun");
const MAIN = join(REPO, "src/main.ts");
const base = mkdtempSync(join(tmpdir(), "gen-cli-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const run = (args: string[], env: Record<string, string> = {}) =>
  runSync([BUN, MAIN, ...args], {
    env: { PATH: "/usr/sbin:/usr/bin", SYSTEMD_LOG_TARGET: "console", SYSTEMD_PROC_CMDLINE: "", CREDENTIALS_DIRECTORY: join(base, "nocreds"), ...env },
  });

describe("systemd-ssh generator", () => {
  test("wrong argument counts: systemd's message and exit status 234", () => {
    for (const args of [[], ["a", "b"], ["a", "b", "c", "d"]]) {
      const r = run(["generator", ...args]);
      expect(r.status).toBe(234);
      expect(r.stderr).toBe("This program takes one or three arguments.\n");
    }
  });
  test("three directories: writes into the first only, says which form at debug level", () => {
    const dirs = ["n", "e", "l"].map((d) => join(base, "three", d));
    for (const d of dirs) mkdirSync(d, { recursive: true });
    const r = run(["generator", ...dirs], { SYSTEMD_LOG_LEVEL: "debug", SYSTEMD_SSH_TARGET_VERSION: "257" });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain("Generating units in the form of systemd 257 (target systemd version 257).");
    expect(readdirSync(dirs[0]!)).toContain("sshd-unix-local.socket");
    expect(readdirSync(dirs[1]!)).toEqual([]);
    expect(readdirSync(dirs[2]!)).toEqual([]);
  });
  test("a missing output directory: systemd's error, exit 1, nothing created", () => {
    const d = join(base, "missing", "n");
    const r = run(["generator", d]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`Failed to create unit file '${d}/sshd-generated@.service': No such file or directory`);
    expect(existsSync(d)).toBe(false);
  });
});

describe("explain", () => {
  for (const args of [["generator", "--explain"], ["explain"]]) {
    test(`${args.join(" ")}: facts, addresses, units, ssh commands; writes nothing`, () => {
      const out = join(base, "explain-out");
      const r = run([...args, out], { SYSTEMD_PROC_CMDLINE: "systemd.ssh_listen=22 systemd.ssh_listen=nope", SYSTEMD_SSH_TARGET_VERSION: "262" });
      expect(r.status).toBe(0);
      expect(r.stdout).toContain("systemd version:     262 ($SYSTEMD_SSH_TARGET_VERSION); units in systemd 262's form");
      expect(r.stdout).toContain('command line  "22"  accepted as [::]:22');
      expect(r.stdout).toContain('command line  "nope"  rejected (EINVAL)');
      expect(r.stdout).toContain("  --- sshd-extra.socket\n");
      expect(r.stdout).toContain("  ListenStream=[::]:22\n");
      expect(r.stdout).toContain(`  sshd-extra@.service -> ${out}/sshd-generated@.service`);
      expect(r.stdout).toContain("on this machine:           ssh .host");
      expect(r.stdout).toMatch(/sshd:\s+\/usr\/sbin\/sshd/);
      expect(existsSync(out)).toBe(false);
    });
  }
  test("explain --help", () => {
    const r = run(["explain", "--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("explain");
  });
});

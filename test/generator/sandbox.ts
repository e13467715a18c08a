// Running a command in the sandbox of sandbox.sh (a throw-away root in a private mount namespace that shows a
// VM or an nspawn container), for sandbox.test.ts and verify.test.ts.

import { expect, test } from "bun:test";
import { join } from "node:path";
import { runSync, type Ran } from "../helpers/spawn.ts";

const SANDBOX = join(import.meta.dir, "sandbox.sh");

/** Whether this machine can make a private mount namespace (root, or a permissive user namespace setup). */
export const canUnshare = Bun.spawnSync(["unshare", "-m", "true"], { stderr: "ignore" }).exitCode === 0;

/** With CI=true, a machine that cannot make a mount namespace fails instead of skipping silently
 * (SYSTEMD_SSH_NO_UNSHARE=1 accepts the skip knowingly). Call at a test file's top level. */
export function requireUnshareOnCi(): void {
  if (!canUnshare && process.env.CI === "true" && process.env.SYSTEMD_SSH_NO_UNSHARE !== "1") {
    test("unshare -m works (needed for the sandbox tests)", () => expect(canUnshare as boolean).toBe(true));
  }
}

/**
 * Run `argv` with exactly `env` in the sandbox rooted at `root` (created if missing) in `mode`; output as byte
 * strings. A command that did not start (the sandbox could not be set up, or the program is not visible
 * inside it) throws, so a broken sandbox can never pass as "both programs failed alike".
 */
export function inSandbox(root: string, mode: string, env: Record<string, string>, argv: string[]): Ran {
  const r = runSync(
    ["unshare", "-m", SANDBOX, root, mode, "/usr/bin/env", "-i", ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv],
    { env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin" }, encoding: "latin1", timeoutMs: 120_000 },
  );
  if (r.status === 126 || r.status === 127 || /^(sandbox\.sh|chroot|\/usr\/bin\/env|env|mount|mkdir): /m.test(r.stderr)) {
    throw new Error(`the sandbox did not run ${argv[0]} (status ${r.status}): ${r.stderr.trim().split("\n")[0]}`);
  }
  return r;
}

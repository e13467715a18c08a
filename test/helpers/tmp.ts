// Temporary directories for tests. Names are lowercase on purpose: OpenSSH lowercases %h, so a socket path
// that is to survive `ProxyCommand ... %h` must not contain capitals (tests that want capitals say so).

import { mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export function tempDir(prefix = "systemd-ssh-test"): string {
  const hex = crypto.getRandomValues(new Uint8Array(6)).reduce((s, b) => s + b.toString(16).padStart(2, "0"), "");
  const dir = join(tmpdir(), `${prefix}-${hex}`);
  mkdirSync(dir, { mode: 0o700 });
  return dir;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** The repository's root, for finding dist/ and scripts/. */
export const REPO = join(import.meta.dir, "..", "..");
/**
 * The directory of the binary under test and its tool links: dist/, or $SYSTEMD_SSH_DIST (scripts/test-arm64
 * points it at wrappers that run dist/arm64/systemd-ssh under qemu-user).
 */
export const DIST = process.env.SYSTEMD_SSH_DIST ? resolve(process.env.SYSTEMD_SSH_DIST) : join(REPO, "dist");
export const BINARY = join(DIST, "systemd-ssh");
export const PROXY = join(DIST, "systemd-ssh-proxy");

// Stand-in for test/helpers/reference.ts (branch `ref`) with the same shape: requireReference(ver) returns the
// reference tree or null (skip); with CI=true a missing reference throws. Replace the import with
// "../helpers/reference.ts" once that branch is merged.

import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

export const REPO = resolve(import.meta.dir, "../..");

export interface Reference {
  version: string;
  dir: string;
  tool(name: string): string;
  has(name: string): boolean;
}

export function referenceDir(version: string): string {
  return join(process.env.SYSTEMD_SSH_REFERENCE_DIR ?? join(REPO, ".reference"), version);
}

export function requireReference(version: string): Reference | null {
  const dir = referenceDir(version);
  const ok = existsSync(join(dir, "bin", "systemd-ssh-generator"));
  if (!ok) {
    if (process.env.CI === "true") throw new Error(`reference systemd ${version} missing at ${dir}: run scripts/fetch-reference`);
    return null;
  }
  return {
    version,
    dir,
    tool: (name) => join(dir, "bin", name),
    has: (name) => existsSync(join(dir, "bin", name)),
  };
}

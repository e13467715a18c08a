// Where the systemd 262 reference systemd-ssh-proxy is (scripts/fetch-reference puts it under
// .reference/262/bin/). A stand-in for the shared test/helpers/reference.ts until that is merged:
// same directory rules ($SYSTEMD_SSH_REFERENCE_DIR, else <repo>/.reference; fetched when
// packages.stamp and VERSION exist), and with CI=true a missing reference is an error, not a skip.

import { existsSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "./tmp.ts";

export function referenceProxy(): string | null {
  const dir = join(process.env.SYSTEMD_SSH_REFERENCE_DIR ?? join(REPO, ".reference"), "262");
  const tool = join(dir, "bin", "systemd-ssh-proxy");
  if (existsSync(join(dir, "packages.stamp")) && existsSync(join(dir, "VERSION")) && existsSync(tool)) return tool;
  if (process.env.CI === "true") throw new Error(`systemd 262 reference missing in ${dir}: run scripts/fetch-reference 262`);
  return null;
}

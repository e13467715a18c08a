// systemd-ssh-issue: not implemented yet.

import { log } from "../shared/log.ts";

export async function main(_args: readonly string[]): Promise<number> {
  log.error("systemd-ssh-issue is not implemented yet.");
  return 1;
}

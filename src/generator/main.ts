// systemd-ssh-generator: not implemented yet.

import { log } from "../shared/log.ts";

export async function main(_args: readonly string[]): Promise<number> {
  log.error("systemd-ssh-generator is not implemented yet.");
  return 1;
}

// `systemd-ssh-proxy HOST PORT` (and `systemd-ssh proxy HOST PORT`).

import { runProxy } from "./run.ts";

export function main(args: readonly string[]): Promise<number> {
  return runProxy(args);
}

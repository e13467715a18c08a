// `systemd-ssh-proxy HOST PORT` (and `systemd-ssh proxy HOST PORT`).

import { exitNow } from "../../ffi/process.ts";
import { runProxy } from "./run.ts";

export async function main(args: readonly string[]): Promise<number> {
  const code = await runProxy(args);
  // ssh waits for its ProxyCommand to exit. Everything the proxy writes (the descriptor, relayed bytes,
  // log lines) is written synchronously, so skip the runtime's teardown.
  return exitNow(code);
}

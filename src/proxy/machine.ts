// machine/NAME: resolved through systemd-machined (not implemented yet).

import { ProxyError } from "./errors.ts";
import type { ProxyDeps } from "./run.ts";

export async function proxyMachine(_deps: ProxyDeps, name: string, _port: string): Promise<void> {
  throw new ProxyError(`Connecting to machine/${name} is not implemented yet.`, "EOPNOTSUPP");
}

// Leaving the process.

import { libc } from "./libc.ts";

/**
 * _exit(2): end the process now, without the runtime's teardown (about 0.9 ms for the proxy, which ssh
 * waits for). Only for callers whose output is all written synchronously already: nothing is flushed.
 */
export function exitNow(code: number): never {
  libc._exit(code);
  throw new Error("_exit returned"); // unreachable
}

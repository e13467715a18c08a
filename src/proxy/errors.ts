// A proxy failure carrying the one line systemd's ssh-proxy prints for it.

import { SysError } from "../../ffi/errors.ts";

export class ProxyError extends Error {
  override readonly name = "ProxyError";
  /** errno-style cause, for callers that branch on it (e.g. the boot-wait retry loop). */
  readonly code: string | undefined;

  constructor(message: string, code?: string) {
    super(message);
    this.code = code;
  }
}

/** A failed system call as systemd reports it, "<what>: <strerror>"; any other error passes through. */
export function withCause(e: unknown, what: string): unknown {
  return e instanceof SysError ? new ProxyError(`${what}: ${e.strerror}`, e.code) : e;
}

// A tool's failure, carrying the one line the tool logs for it (systemd's message, word for word) and, where
// a system call caused it, that call's errno name. Every tool throws this for an expected failure and
// catches it in its main.ts; anything else reaching main.ts is a bug and is reported as one.

import { SysError } from "../../ffi/errors.ts";

export class Failure extends Error {
  override readonly name = "Failure";
  /** The errno name ("ENOENT") behind it, for callers that branch on it (e.g. the proxy's boot-wait retry). */
  readonly code: string | undefined;

  constructor(message: string, code?: string) {
    super(message);
    this.code = code;
  }
}

/** A failed system call as systemd reports it, "<what>: <strerror>"; any other error passes through. */
export function withCause(e: unknown, what: string): unknown {
  return e instanceof SysError ? new Failure(`${what}: ${e.strerror}`, e.code) : e;
}

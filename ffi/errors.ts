// A failed system call, as a typed error: what was called, errno, and libc's own text for it (the "%m" of
// systemd's log messages), so callers can print systemd's messages word for word.

import { CString, type Pointer } from "bun:ffi";
import { errnoCode } from "./errno.ts";
import { errno, libc } from "./libc.ts";

/** libc's message for an errno value, e.g. 2 → "No such file or directory". */
export function strerror(err: number): string {
  return new CString(libc.strerror(err) as Pointer).toString();
}

export class SysError extends Error {
  override readonly name = "SysError";
  /** The errno value (positive). */
  readonly errno: number;
  /** "ENOENT" and friends, or "E<number>" for values we do not name. */
  readonly code: string;
  /** The system call (or operation) that failed. */
  readonly syscall: string;
  /** libc's strerror() text: what systemd prints for "%m". */
  readonly strerror: string;

  constructor(syscall: string, err: number) {
    const text = strerror(err);
    super(`${syscall}: ${text}`);
    this.errno = err;
    this.code = errnoCode(err);
    this.syscall = syscall;
    this.strerror = text;
  }
}

/** Throw a SysError for the current errno. Call straight after the failing libc call. */
export function fail(syscall: string): never {
  throw new SysError(syscall, errno());
}

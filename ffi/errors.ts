// A failed system call, as a typed error: what was called, errno, and libc's own text for it (the "%m" of
// systemd's log messages), so callers can print systemd's messages word for word.

import { errno, libc } from "./libc.ts";

// Linux errno numbers the tools branch on. (Values are the generic Linux ones, shared by x86-64 and arm64.)
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EEXIST: 17,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENOTTY: 25,
  EPIPE: 32,
  ERANGE: 34,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ENODATA: 61,
  EBADR: 53,
  EPROTO: 71,
  EBADMSG: 74,
  ENOTSOCK: 88,
  EPROTONOSUPPORT: 93,
  EOPNOTSUPP: 95,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENETUNREACH: 101,
  ECONNABORTED: 103,
  ECONNRESET: 104,
  ENOTCONN: 107,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EHOSTUNREACH: 113,
  ESRCH: 3,
  EMEDIUMTYPE: 124,
} as const;

const names = new Map<number, string>(Object.entries(Errno).map(([k, v]) => [v, k]));

/** "ENOENT" and friends for an errno value, or "E<number>" for values we do not name. */
export function errnoCode(err: number): string {
  return names.get(err) ?? `E${err}`;
}

/** libc's message for an errno value, e.g. 2 → "No such file or directory". */
export function strerror(err: number): string {
  return String(libc().strerror(err));
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

export function isSysError(e: unknown, code?: keyof typeof Errno): e is SysError {
  return e instanceof SysError && (code === undefined || e.errno === Errno[code]);
}

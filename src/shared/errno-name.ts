// Errnos carried as data, by name (docs/architecture.md: "Data carries the name"): the name of a number a
// call returned or a SysError carries, typed as ffi/errno.ts's ErrnoName, and libc's text for a name
// (systemd's "%m"). libc is bound only when a text is asked for (ffi/libc.ts binds on first use).

import { errnoCode, errnoFromName, type ErrnoName } from "../../ffi/errno.ts";
import { strerror } from "../../ffi/errors.ts";

/** The name of an errno value a call returned (Linux names every errno it returns). */
export const errnoName = (n: number): ErrnoName => errnoCode(n) as ErrnoName;

/** The name a thrown SysError (or node:fs error) carries; EIO for anything without one. */
export const errnoNameOf = (e: unknown): ErrnoName => ((e as { code?: string }).code ?? "EIO") as ErrnoName;

/** libc's strerror() text for an errno name. */
export function strerrorName(name: ErrnoName): string {
  const n = errnoFromName(name);
  if (n === null) return `Unknown error ${name}`;
  return strerror(n);
}

// Errnos carried as data, by name (docs/architecture.md: "Data carries the name"): the name of a number a
// call returned or a SysError carries, typed as ffi/errno.ts's ErrnoName, and libc's text for a name
// (systemd's "%m"). Only failure paths print a text, so libc (bun:ffi costs the generator about 0.5 ms to
// load) is loaded on first use, not with this module.

import { errnoCode, errnoFromName, type ErrnoName } from "../../ffi/errno.ts";

/** The name of an errno value a call returned (Linux names every errno it returns). */
export const errnoName = (n: number): ErrnoName => errnoCode(n) as ErrnoName;

/** The name a thrown SysError (or node:fs error) carries; EIO for anything without one. */
export const errnoNameOf = (e: unknown): ErrnoName => ((e as { code?: string }).code ?? "EIO") as ErrnoName;

/** libc's strerror() text for an errno name. */
export function strerrorName(name: ErrnoName): string {
  const n = errnoFromName(name);
  if (n === null) return `Unknown error ${name}`;
  return (require("../../ffi/errors.ts") as typeof import("../../ffi/errors.ts")).strerror(n);
}

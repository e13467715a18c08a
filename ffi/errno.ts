// errno: the names ffi/errno-table.ts gives the numbers, turned both ways, and systemd's classes of them.
// Names are looked up here, never in the enum's object at run time (ffi/errno-table.ts says why).

import { Errno } from "./errno-table.ts";
// Macros: run when the bundle is built (and when a test loads this file), their results are written into the
// bundle as literals. Filling the array from Errno at run time, with for-in or Object.keys(), made
// the engine allocate 3 to 4 more blocks of its heap (of the 64 after which it starts a helper thread;
// scripts/bundle.ts says why that matters).
import { errnoAliases, errnoNames } from "./errno-names.ts" with { type: "macro" };

export { Errno };

export type ErrnoName = keyof typeof Errno;

/** Each number's name, indexed by number (null where Linux has none); made on first use. */
let names: readonly (string | null)[] | undefined;

/** "ENOENT" and friends for an errno value (never an alias), or "E<number>" for values Linux does not name. */
export function errnoCode(err: number): string {
  names ??= errnoNames();
  return names[err] ?? `E${err}`;
}

/** errno_from_name(): case-insensitive, as systemd's lookup is. Null for names it does not know. */
export function errnoFromName(name: string): number | null {
  const upper = name.toUpperCase();
  names ??= errnoNames();
  const n = names.indexOf(upper);
  if (n > 0) return n;
  const aliases: Readonly<Record<string, number>> = errnoAliases();
  return Object.hasOwn(aliases, upper) ? aliases[upper]! : null;
}

// systemd's errno classes (src/basic/errno-util.h), by name: what a tool treats as "not here" rather than
// as a failure.

/** ERRNO_IS_NOT_SUPPORTED(): the kernel, or this kind of socket, does not do that. */
export function isNotSupported(e: string): boolean {
  return e === "EOPNOTSUPP" || e === "ENOTTY" || e === "ENOSYS" || e === "EAFNOSUPPORT" || e === "EPFNOSUPPORT" ||
    e === "EPROTONOSUPPORT" || e === "ESOCKTNOSUPPORT" || e === "ENOPROTOOPT";
}

/** ERRNO_IS_DEVICE_ABSENT(): the device node is not there. */
export function isDeviceAbsent(e: string): boolean {
  return e === "ENODEV" || e === "ENXIO" || e === "ENOENT";
}

/** ERRNO_IS_FS_WRITE_REFUSED(): the file system does not let us write there. */
export function isFsWriteRefused(e: string): boolean {
  return e === "EPERM" || e === "EACCES" || e === "EROFS";
}

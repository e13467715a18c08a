// libc's text for an errno carried by name (ffi/errno.ts's ErrnoName): systemd's "%m" for data that holds
// the name rather than a SysError. Only failure paths print one, so libc (bun:ffi costs the generator about
// 0.5 ms to load) is loaded on first use, not with this module.

import { errnoFromName } from "../../ffi/errno.ts";

export function strerrorName(name: string): string {
  const n = errnoFromName(name);
  if (n === null) return `Unknown error ${name}`;
  return (require("../../ffi/errors.ts") as typeof import("../../ffi/errors.ts")).strerror(n);
}

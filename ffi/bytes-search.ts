// A byte search done natively: memmem(3) over a byte array, for text too long to decode before searching.
// The proxy looks through its peer's /proc/PID/maps on every connection (9 KB for OpenSSH's ssh): turned
// into a string first, those bytes cost it about a million instructions in the engine's interpreter.

import { libc } from "./libc.ts";

/** Whether `needle` (not empty) occurs in `haystack`. Both are passed as the call's arguments. */
export function includesBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  if (needle.length === 0) throw new RangeError("includesBytes: empty needle");
  return libc.memmem(haystack, haystack.length, needle, needle.length) !== null;
}

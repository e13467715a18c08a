// Bundle-time macros of ffi/errno.ts: each errno number's name, as an array indexed by number, and the
// aliases.

import { Errno } from "./errno-table.ts";

/** The first name of each number (each alias comes after the name it stands for, so the first name of a
 * number is the one systemd prints), null for the numbers Linux does not name. */
export function errnoNames(): (string | null)[] {
  const names: (string | null)[] = [];
  for (const [k, v] of errnoEntries()) names[v] ??= k;
  for (let i = 0; i < names.length; i++) names[i] ??= null;
  return names;
}

/** Every name, aliases included, with its number, in the table's order. */
function errnoEntries(): [string, number][] {
  // An enum's object also maps each number back to a name: those keys are the digits.
  return Object.entries(Errno).filter((e): e is [string, number] => typeof e[1] === "number");
}

/** The names that are not the first of their number, with it. */
export function errnoAliases(): Record<string, number> {
  const names = errnoNames();
  return Object.fromEntries(errnoEntries().filter(([k, v]) => names[v] !== k));
}

// Bundle-time macros of ffi/errno.ts: each errno number's name, as an array indexed by number, and the
// aliases.

import { Errno } from "./errno-table.ts";

/** The first name of each number (each alias comes after the name it stands for, so the first name of a
 * number is the one systemd prints), null for the numbers Linux does not name. */
export function errnoNames(): (string | null)[] {
  return splitNames().names;
}

/** The names that are not the first of their number, with it. */
export function errnoAliases(): Record<string, number> {
  return splitNames().aliases;
}

/** One pass over the table, in its order: a number's first name is its name, any later one an alias. */
function splitNames(): { names: (string | null)[]; aliases: Record<string, number> } {
  const names: (string | null)[] = [];
  const aliases: Record<string, number> = {};
  // An enum's object also maps each number back to a name: those keys are the digits.
  for (const [k, v] of Object.entries(Errno)) {
    if (typeof v !== "number") continue;
    if (names[v] === undefined) names[v] = k;
    else aliases[k] = v;
  }
  for (let i = 0; i < names.length; i++) names[i] ??= null;
  return { names, aliases };
}

// read_stripped_line() over the ssh.listen credential, without a string per line: a credential may be
// megabytes of short lines, and a string per line (let alone one built a character at a time) costs many
// times the credential's size in memory.

import type { ErrnoName } from "../../ffi/errno.ts";
import { isWhitespace, LINE_MAX } from "../shared/c-limits.ts";

const isEol = (c: number): boolean => c === 10 || c === 13 || c === 0;

/**
 * A credential's lines, one at a time: split at \n, \r, NUL (and their pairs), at most LINE_MAX-1 bytes,
 * stripped of whitespace. `each` gets the line as the range [start, end) of `data` and returns true to stop.
 * Returns ENOBUFS when a line is too long (after the lines before it), else null.
 */
export function eachCredentialLine(data: string, each: (start: number, end: number) => boolean): ErrnoName | null {
  let i = 0;
  const n = data.length;
  while (i < n) {
    // The line's content runs to the first end-of-line byte.
    let end = i;
    while (end < n && !isEol(data.charCodeAt(end))) end++;
    if (end - i >= LINE_MAX) return "ENOBUFS";
    // Then the end-of-line bytes read_line() consumes with it: NUL ends at once; \n, \r and their pair
    // (either order) count as one end of line, a repeat of either starts a new (empty) line.
    let j = end;
    let prev = 0;
    while (j < n) {
      const c = data.charCodeAt(j);
      const eol = c === 10 ? 2 : c === 13 ? 4 : c === 0 ? 1 : 0;
      if (eol === 0 || prev & 1 || (prev & eol) !== 0) break;
      prev |= eol;
      j++;
    }
    let a = i;
    let b = end;
    while (a < b && isWhitespace(data.charCodeAt(a))) a++;
    while (b > a && isWhitespace(data.charCodeAt(b - 1))) b--;
    if (each(a, b)) return null;
    i = j;
  }
  return null;
}

/**
 * Ranges of one string as strings, one string per distinct content: a range seen before gives the same
 * string without allocating, so a credential of a million repeated lines costs memory for its distinct ones.
 */
export class RangeInterner {
  private readonly byHash = new Map<number, string | string[]>();
  constructor(private readonly data: string) {}

  get(a: number, b: number): string {
    const d = this.data;
    let h = 0x811c9dc5;
    for (let i = a; i < b; i++) h = Math.imul(h ^ d.charCodeAt(i), 0x01000193);
    const seen = this.byHash.get(h);
    if (typeof seen === "string") {
      if (this.equals(seen, a, b)) return seen;
    } else if (seen !== undefined) {
      for (const s of seen) if (this.equals(s, a, b)) return s;
    }
    const s = d.slice(a, b);
    if (seen === undefined) this.byHash.set(h, s);
    else if (typeof seen === "string") this.byHash.set(h, [seen, s]);
    else seen.push(s);
    return s;
  }

  private equals(s: string, a: number, b: number): boolean {
    if (s.length !== b - a) return false;
    for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== this.data.charCodeAt(a + i)) return false;
    return true;
  }
}

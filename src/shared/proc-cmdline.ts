// The kernel command line the way systemd reads it (src/basic/proc-cmdline.c, extract-word.c):
// words split on whitespace with quotes removed (unbalanced quotes tolerated, backslashes kept as they are),
// PID 1's own options filtered out when the "command line" is PID 1's argv in a container, "rd." words
// only in the initrd, and keys compared with "-" and "_" equal.
//
// Strings here are byte strings (one char per byte, latin1), so that any input round-trips exactly.

import { WHITESPACE } from "./c-limits.ts";

/** strv_split_full(s, WHITESPACE, EXTRACT_UNQUOTE|EXTRACT_RELAX|EXTRACT_RETAIN_ESCAPE). */
export function splitCmdline(s: string): string[] {
  const words: string[] = [];
  let i = 0;
  const n = s.length;
  for (;;) {
    while (i < n && WHITESPACE.includes(s[i]!)) i++;
    if (i >= n) break;
    let word = "";
    let quote = "";
    for (; i < n; i++) {
      const c = s[i]!;
      if (quote) {
        if (c === quote) quote = "";
        else word += c;
      } else if (c === "'" || c === '"') {
        quote = c;
      } else if (WHITESPACE.includes(c)) {
        break;
      } else {
        word += c;
      }
    }
    words.push(word);
  }
  return words;
}

// PID 1's options (getopt-defs.h): long options with their argument kind, and the short option string.
const NO = 0;
const REQUIRED = 1;
const OPTIONAL = 2;
const PID1_LONG_OPTIONS: ReadonlyArray<readonly [string, number]> = [
  ["log-level", REQUIRED], ["log-target", REQUIRED], ["log-color", OPTIONAL], ["log-location", OPTIONAL],
  ["log-time", OPTIONAL], ["unit", REQUIRED], ["system", NO], ["user", NO], ["test", NO], ["no-pager", NO],
  ["help", NO], ["version", NO], ["dump-configuration-items", NO], ["dump-bus-properties", NO],
  ["bus-introspect", REQUIRED], ["dump-core", OPTIONAL], ["crash-chvt", REQUIRED], ["crash-shell", OPTIONAL],
  ["crash-reboot", OPTIONAL], ["confirm-spawn", OPTIONAL], ["show-status", OPTIONAL], ["deserialize", REQUIRED],
  ["switched-root", NO], ["default-standard-output", REQUIRED], ["default-standard-error", REQUIRED],
  ["machine-id", REQUIRED], ["service-watchdogs", REQUIRED], ["exit-code", REQUIRED], ["timeout", REQUIRED],
];
const PID1_SHORT_OPTIONS = "hDbsz:";

/** proc_cmdline_filter_pid1_args(): PID 1's argv (argv[0] included) minus the options PID 1 itself parses. */
export function filterPid1Args(argv: readonly string[]): string[] {
  const out: string[] = [];
  let state = NO;
  for (let k = 1; k < argv.length; k++) {
    const a = argv[k]!;
    const prev = state;
    state = NO;
    if (prev === REQUIRED || (prev === OPTIONAL && a[0] !== "-")) continue;
    if (a[0] !== "-") {
      out.push(a);
      continue;
    }
    if (a[1] === "-") {
      if (a.length === 2) {
        out.push(...argv.slice(k + 1));
        break;
      }
      for (const [name, kind] of PID1_LONG_OPTIONS) {
        if (!a.startsWith(name, 2)) continue;
        const rest = a[2 + name.length];
        if (rest !== undefined && rest !== "=") continue;
        if (rest === undefined && kind === REQUIRED) state = REQUIRED;
        break;
      }
      continue;
    }
    // Short options, e.g. -b or -bz5.
    for (let j = 1; j < a.length; j++) {
      const q = PID1_SHORT_OPTIONS.indexOf(a[j]!);
      if (q < 0 || a[j] === ":") continue;
      if (PID1_SHORT_OPTIONS[q + 1] === ":") {
        state = j + 1 < a.length ? NO : PID1_SHORT_OPTIONS[q + 2] === ":" ? OPTIONAL : REQUIRED;
        break;
      }
    }
  }
  return out;
}

export interface CmdlineItem {
  key: string;
  /** null when the word has no "=". */
  value: string | null;
}

export interface CmdlineFlags {
  /** PROC_CMDLINE_STRIP_RD_PREFIX: in the initrd, "rd.foo" is reported as "foo". */
  stripRdPrefix?: boolean;
  /** PROC_CMDLINE_RD_STRICT: in the initrd, only "rd." words count. */
  rdStrict?: boolean;
}

/** proc_cmdline_parse_strv(): key/value pairs, with "rd." words only in the initrd. */
export function cmdlineItems(words: readonly string[], inInitrd: boolean, flags: CmdlineFlags = {}): CmdlineItem[] {
  const items: CmdlineItem[] = [];
  for (const word of words) {
    let key = word;
    if (word.startsWith("rd.")) {
      if (!inInitrd) continue;
      if (flags.stripRdPrefix) key = word.slice(3);
    } else if (flags.rdStrict && inInitrd) {
      continue;
    }
    const eq = key.indexOf("=");
    items.push(eq < 0 ? { key, value: null } : { key: key.slice(0, eq), value: key.slice(eq + 1) });
  }
  return items;
}

function relaxedEqual(a: string | undefined, b: string | undefined): boolean {
  return a === b || (a === "_" && b === "-") || (a === "-" && b === "_");
}

/** proc_cmdline_key_streq(): equal, with "-" and "_" interchangeable. */
export function cmdlineKeyEq(x: string, y: string): boolean {
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (!relaxedEqual(x[i], y[i])) return false;
  return true;
}

/** parse_boolean(): 1/yes/y/true/t/on and 0/no/n/false/f/off, case-insensitive for the words; null otherwise. */
export function parseBoolean(v: string): boolean | null {
  if (v === "1" || /^(yes|y|true|t|on)$/i.test(v)) return true;
  if (v === "0" || /^(no|n|false|f|off)$/i.test(v)) return false;
  return null;
}

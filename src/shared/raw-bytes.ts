// Arguments, environment, working directory and paths as bytes, the way systemd's C tools see them.
//
// Bun decodes argv and the environment as UTF-8 (an invalid byte becomes U+FFFD), and node:fs encodes a
// string path as UTF-8. A name that is not UTF-8 would then reach the kernel, and our messages, as other
// bytes than the caller gave. Instead we carry such values as "byte strings": latin1 strings whose
// characters are the bytes, one each (so "é" in UTF-8 is the two characters "\xc3\xa9"). bytes() turns one
// back into bytes for libc or for writing out, fsPath() into a Buffer for node:fs; fromBytes() reads bytes
// (a file, or a readlink, realpath or readdir result read with {encoding: "buffer"}) into one.

// node:fs is loaded only where used (non-ASCII arguments, a relative path): loading it costs the proxy
// about 1 ms on every connection.
const fs = () => require("node:fs") as typeof import("node:fs");

import { readFile } from "../../ffi/io.ts";
import { pathBytes } from "../../ffi/path-bytes.ts";

/**
 * A byte string as the exact bytes, never re-encoded as UTF-8: for ffi/ calls and for writing out. The one
 * conversion ffi/ makes of a path (ffi/path-bytes.ts), built without Buffer, whose first use costs a compiled
 * program about 0.7 ms.
 */
export const bytes = (s: string): Uint8Array => pathBytes(s);

/** A byte string as the Buffer node:fs takes for a path. */
export const fsPath = (s: string): Buffer => Buffer.from(s, "latin1");

// String.fromCharCode() takes the bytes as its arguments: in slices, well below the engine's limit on them.
const SLICE = 8192;

/** Bytes (a file read, or an fs result read with {encoding: "buffer"}) as a byte string, without Buffer. */
export function fromBytes(b: Uint8Array): string {
  const chars = (from: number, to: number) => String.fromCharCode.apply(null, b.subarray(from, to) as unknown as number[]);
  if (b.length <= SLICE) return chars(0, b.length);
  let s = "";
  for (let i = 0; i < b.length; i += SLICE) s += chars(i, i + SLICE);
  return s;
}

/** A JS (UTF-16) string as the byte string of its UTF-8 encoding. */
export const utf8Bytes = (s: string): string => Buffer.from(s, "utf8").toString("latin1");

/** Whether a byte string decodes as UTF-8 to exactly `s`, i.e. it is what Bun made `s` from. */
const decodesTo = (raw: string, s: string): boolean => Buffer.from(raw, "latin1").toString("utf8") === s;

/** Our environment's raw bytes (process.env would decode them as UTF-8), as byte strings. */
export function rawEnviron(): Map<string, string> {
  const m = new Map<string, string>();
  let data: string;
  try {
    // Through libc: the generator would otherwise load node:fs for this alone.
    data = fromBytes(readFile("/proc/self/environ"));
  } catch {
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) m.set(k, utf8Bytes(v));
    return m;
  }
  for (const entry of data.split("\0")) {
    const eq = entry.indexOf("=");
    if (eq > 0 && !m.has(entry.slice(0, eq))) m.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return m;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * Our arguments as byte strings, like rawEnviron(). They are the last `args.length` words of
 * /proc/self/cmdline when those decode to exactly `args`; else (args not from our command line, e.g. a
 * test calling a tool's main() in-process) `args` themselves, encoded as UTF-8.
 */
export function rawArgs(args: readonly string[]): string[] {
  // ASCII is the same in every reading, and the usual case: no need to read /proc. (Loops, not a regular
  // expression or every(): the first use of either costs the proxy about 0.3 ms.)
  let ascii = true;
  for (let i = 0; i < args.length && ascii; i++) ascii = isAscii(args[i]!);
  if (ascii) return args.slice();
  const fallback = () => args.map(utf8Bytes);
  let words: string[];
  try {
    words = fs().readFileSync("/proc/self/cmdline", "latin1").split("\0");
  } catch {
    return fallback();
  }
  words.pop(); // the empty string after the last NUL
  if (words.length < args.length) return fallback();
  const tail = words.slice(words.length - args.length);
  return tail.every((w, i) => decodesTo(w, args[i]!)) ? tail : fallback();
}

/**
 * getcwd() as a byte string; throws what process.cwd() throws (e.g. ENOENT when the directory is gone).
 * The raw name is /proc/self/cwd's target when it decodes to exactly process.cwd(); else process.cwd()
 * encoded as UTF-8.
 */
export function rawCwd(cwd: () => string = () => process.cwd()): string {
  const decoded = cwd();
  try {
    const raw = fromBytes(fs().readlinkSync("/proc/self/cwd", { encoding: "buffer" }));
    if (decodesTo(raw, decoded)) return raw;
  } catch {}
  return utf8Bytes(decoded);
}

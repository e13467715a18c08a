// What systemd's log functions do to a message before it goes anywhere (src/basic/log.c), for the logger of
// all three tools (src/shared/log.ts) and its sinks (there and in src/shared/log-kmsg.ts): the message is
// formatted into a LINE_MAX buffer, so it is cut after 2047 bytes (in the middle of a UTF-8 sequence if that
// is where byte 2047 falls), then split into one record per line at every run of '\r' and '\n', empty
// pieces dropped. Messages here are byte strings (src/shared/raw-bytes.ts): one character per byte, exactly
// what systemd's C string holds.
//
// Also the parts of a record that do not depend on the target: the colours of a terminal, the kmsg prefix.

import { LINE_MAX } from "./c-limits.ts";

/** The records a message becomes (byte strings). */
export function logLines(message: string): string[] {
  const buf = message.length >= LINE_MAX ? message.slice(0, LINE_MAX - 1) : message;
  const lines: string[] = [];
  let start = 0;
  for (let i = 0; i <= buf.length; i++) {
    const c = i < buf.length ? buf.charCodeAt(i) : 0x0a;
    if (c !== 0x0a && c !== 0x0d) continue;
    if (i > start) lines.push(buf.slice(start, i));
    start = i + 1;
  }
  return lines;
}

const ANSI_NORMAL = "\x1b[0m";

/** The colour systemd's log_dispatch() gives a level on a terminal, or null for none. */
function colourFor(level: number): string | null {
  if (level <= 3) return "\x1b[0;1;31m";
  if (level === 4) return "\x1b[0;1;38;5;185m";
  if (level === 5) return "\x1b[0;1;39m";
  if (level >= 7) return "\x1b[0;38;5;245m";
  return null;
}

/** A console record: the line, coloured on a terminal. */
export function consoleRecord(level: number, line: string, colour: boolean): string {
  const c = colour ? colourFor(level) : null;
  return c ? `${c}${line}${ANSI_NORMAL}\n` : `${line}\n`;
}

/** LOG_DAEMON, the facility systemd's tools log to /dev/kmsg with. */
const LOG_DAEMON = 3 << 3;

/** A /dev/kmsg record: `<PRI>ident[pid]: line`. */
export function kmsgRecord(level: number, ident: string, pid: number, line: string): string {
  return `<${LOG_DAEMON | level}>${ident}[${pid}]: ${line}\n`;
}

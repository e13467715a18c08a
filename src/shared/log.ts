// Logging the way systemd's tools log: syslog levels, $SYSTEMD_LOG_LEVEL, records on stderr (never stdout:
// the proxy's stdout carries a file descriptor). A message becomes its records as systemd's do (cut at
// LINE_MAX, one record per line: src/shared/log-core.ts, shared with the generator's logger).
//
// consola does the dispatching (levels, reporters); it is created on the first message that passes the
// level filter, so a proxy run that logs nothing never loads it.

import type { ConsolaInstance, LogObject } from "consola/core";
import { consoleRecord, kmsgRecord, logLines } from "./log-core.ts";
import { utf8Bytes } from "./raw-bytes.ts";

// node:fs is loaded on the first line written: loading it costs the proxy about 1 ms on every connection,
// and a proxy run that succeeds writes nothing.
const writeSync = (fd: number, data: Uint8Array): number => (require("node:fs") as typeof import("node:fs")).writeSync(fd, data);

export const LOG_EMERG = 0;
export const LOG_ALERT = 1;
export const LOG_CRIT = 2;
export const LOG_ERR = 3;
export const LOG_WARNING = 4;
export const LOG_NOTICE = 5;
export const LOG_INFO = 6;
export const LOG_DEBUG = 7;

const LEVEL_NAMES = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"];

/** systemd's log_level_from_string(): a name or a number 0..7; null when invalid. */
export function parseLogLevel(s: string): number | null {
  const i = LEVEL_NAMES.indexOf(s);
  if (i >= 0) return i;
  if (/^[0-7]$/.test(s)) return Number(s);
  return null;
}

export type LogTarget = "console" | "kmsg";

/** Where lines go. The kmsg sink is given the syslog priority prefix; the console sink is not. */
export interface LogSink {
  /**
   * `bytes`: `line` is a byte string (see src/shared/raw-bytes.ts: one character per byte, e.g. a path
   * named in bytes that are not UTF-8), to be written byte for byte rather than encoded as UTF-8.
   */
  write(level: number, line: string, bytes?: boolean): void;
}

const encode = (text: string, bytes: boolean): Buffer => Buffer.from(text, bytes ? "latin1" : "utf8");

let stderrIsTty: boolean | undefined;

export const consoleSink: LogSink = {
  write(level, line, bytes = false) {
    stderrIsTty ??= !("NO_COLOR" in process.env) && process.env.SYSTEMD_LOG_COLOR !== "0" && isatty(2);
    writeSync(2, encode(consoleRecord(level, line, stderrIsTty), bytes));
  },
};

/** isatty(3), with node:tty loaded only when asked (it is not on the proxy's path). */
export function isatty(fd: number): boolean {
  try {
    return (require("node:tty") as typeof import("node:tty")).isatty(fd);
  } catch {
    return false;
  }
}

/** A sink writing `<PRI>ident[pid]: message` records to /dev/kmsg (or another path, for tests). */
export function kmsgSink(ident: string, path = "/dev/kmsg"): LogSink {
  let fd: number | null | undefined;
  return {
    write(level, line, bytes = false) {
      if (fd === undefined) {
        try {
          fd = require("node:fs").openSync(path, "w") as number;
        } catch {
          fd = null;
        }
      }
      const record = kmsgRecord(level, ident, process.pid, line);
      if (fd === null) return consoleSink.write(level, line, bytes);
      try {
        writeSync(fd, encode(record, bytes));
      } catch {
        consoleSink.write(level, line, bytes);
      }
    },
  };
}

// consola's numeric levels: 0 fatal/error, 1 warn, 2 log, 3 info, 4 debug. We keep the syslog level in the
// log object's tag so the reporter can print with systemd's semantics.
function consolaLevel(level: number): number {
  if (level <= LOG_ERR) return 0;
  if (level === LOG_WARNING) return 1;
  if (level <= LOG_INFO) return 3;
  return 4;
}

/** Marks a byte-string message in the tag that carries its level through consola. */
const BYTES_TAG = " bytes";

export class Logger {
  /** Maximum level printed; systemd's default is info. */
  maxLevel: number;
  sink: LogSink;
  private consola: ConsolaInstance | undefined;

  constructor(opts: { maxLevel?: number; sink?: LogSink } = {}) {
    this.maxLevel = opts.maxLevel ?? LOG_INFO;
    this.sink = opts.sink ?? consoleSink;
  }

  /** Apply $SYSTEMD_LOG_LEVEL, as systemd's log_parse_environment() does. Invalid values are ignored. */
  parseEnvironment(env: Record<string, string | undefined> = process.env): this {
    const lvl = env.SYSTEMD_LOG_LEVEL;
    if (lvl !== undefined) {
      const parsed = parseLogLevel(lvl);
      if (parsed !== null) this.maxLevel = parsed;
    }
    return this;
  }

  enabled(level: number): boolean {
    return level <= this.maxLevel;
  }

  log(level: number, message: string): void {
    if (!this.enabled(level)) return;
    this.instance().log({ level: consolaLevel(level), tag: String(level), args: [message] } as Partial<LogObject>);
  }

  /** log(), for a message that is a byte string (it names paths or arguments exactly as given). */
  logBytes(level: number, message: string): void {
    if (!this.enabled(level)) return;
    this.instance().log({ level: consolaLevel(level), tag: `${level}${BYTES_TAG}`, args: [message] } as Partial<LogObject>);
  }

  error(message: string): void {
    this.log(LOG_ERR, message);
  }
  warning(message: string): void {
    this.log(LOG_WARNING, message);
  }
  notice(message: string): void {
    this.log(LOG_NOTICE, message);
  }
  info(message: string): void {
    this.log(LOG_INFO, message);
  }
  debug(message: string): void {
    this.log(LOG_DEBUG, message);
  }

  private instance(): ConsolaInstance {
    if (this.consola) return this.consola;
    // Loaded on first use: the proxy's successful path never logs, and should not pay for it.
    const { createConsola } = require("consola/core") as typeof import("consola/core");
    const sink = () => this.sink;
    this.consola = createConsola({
      level: 5,
      // consola's default reporters write info to stdout; ours writes every level to our sink only.
      reporters: [
        {
          log: (o: LogObject) => {
            const bytes = o.tag.endsWith(BYTES_TAG);
            const level = Number(bytes ? o.tag.slice(0, -BYTES_TAG.length) : o.tag);
            const message = o.args.map(String).join(" ");
            // Sinks get byte strings: systemd cuts and splits the message's bytes.
            for (const line of logLines(bytes ? message : utf8Bytes(message))) sink().write(level, line, true);
          },
        },
      ],
      // systemd prints every message; consola would fold repeats of the same line.
      throttle: 0,
    });
    return this.consola;
  }
}

/** The process-wide logger. */
export const log = new Logger();

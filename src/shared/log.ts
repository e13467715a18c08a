// Logging the way systemd's tools log (src/basic/log.c), one logger for all three tools: syslog levels, the
// settings systemd reads ($SYSTEMD_LOG_LEVEL, $SYSTEMD_LOG_TARGET, and for a generator run by systemd the
// kernel command line's systemd.log_level=/systemd.log_target=/debug), and a sink the records go to. A
// message becomes its records as systemd's do (src/shared/log-core.ts).
//
// The console sink and the null sink live here; the kmsg sink, which only the generator uses, lives in
// src/shared/log-kmsg.ts, so the proxy (one process per ssh connection) never loads it.

import { consoleRecord, logLines } from "./log-core.ts";
import { type CmdlineItem, parseBoolean } from "./proc-cmdline.ts";
import { utf8Bytes } from "./raw-bytes.ts";

export const LOG_ERR = 3;
export const LOG_WARNING = 4;
export const LOG_NOTICE = 5;
const LOG_INFO = 6;
export const LOG_DEBUG = 7;

const LEVEL_NAMES = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"];

/** systemd's log_level_from_string(): a name or a number 0..7; null when invalid. */
function parseLogLevel(s: string): number | null {
  const i = LEVEL_NAMES.indexOf(s);
  if (i >= 0) return i;
  if (s.length === 1 && s >= "0" && s <= "7") return Number(s);
  return null;
}

/** The targets we have: systemd's others fall back to these, as they do without a journal or syslog socket. */
export type LogTarget = "console" | "kmsg" | "null";

/** systemd's log_target_from_string(), mapped onto the targets we have; null when invalid. */
function parseLogTarget(s: string): LogTarget | null {
  switch (s) {
    case "console":
    case "journal":
    case "syslog":
      return "console";
    case "kmsg":
    case "journal-or-kmsg":
    case "syslog-or-kmsg":
    case "auto":
      return "kmsg";
    case "null":
      return "null";
    default:
      return null;
  }
}

interface LogSettings {
  maxLevel: number;
  target: LogTarget;
}

type Env = Record<string, string | undefined>;

/**
 * The one place that reads systemd's log settings: log_parse_environment(), and with `generator`
 * log_setup_generator() before it (kmsg when systemd runs us: $SYSTEMD_EXEC_PID is our PID or "*"; then the
 * kernel command line, read only in that case). Invalid values are ignored; the environment wins. `start`:
 * the settings before these are read.
 */
export function logSettings(
  env: Env | ReadonlyMap<string, string>,
  start: LogSettings = { maxLevel: LOG_INFO, target: "console" },
  generator?: { kernelCommandLine: () => CmdlineItem[] },
): LogSettings {
  const s = { ...start };
  // The generator's raw environment is a Map; copying it into a record would cost more than reading it.
  const get = (name: string) => (env instanceof Map ? env.get(name) : (env as Env)[name]);
  const execPid = get("SYSTEMD_EXEC_PID");
  if (generator && (execPid === "*" || execPid === String(process.pid))) {
    s.target = "kmsg";
    for (const { key, value } of generator.kernelCommandLine()) {
      if (key === "debug" && value === null) s.maxLevel = LOG_DEBUG;
      else if (key === "systemd.log_target" && value !== null) s.target = parseLogTarget(value) ?? s.target;
      else if (key === "systemd.log_level" && value !== null) s.maxLevel = parseLogLevel(value) ?? s.maxLevel;
    }
  }
  const target = get("SYSTEMD_LOG_TARGET");
  if (target !== undefined) s.target = parseLogTarget(target) ?? s.target;
  const level = get("SYSTEMD_LOG_LEVEL");
  if (level !== undefined) s.maxLevel = parseLogLevel(level) ?? s.maxLevel;
  return s;
}

/** Where records go: `line` is a byte string (src/shared/raw-bytes.ts), written byte for byte. */
export interface LogSink {
  write(level: number, line: string): void;
}

// node:fs is loaded on the first line written: loading it costs the proxy about 1 ms on every connection,
// and a proxy run that succeeds writes nothing; so does a boot whose generator logs nothing.
export const writeSync = (fd: number, data: Uint8Array): number => (require("node:fs") as typeof import("node:fs")).writeSync(fd, data);

const isatty = (fd: number): boolean => {
  try {
    // node:tty is loaded only when a line is written.
    return (require("node:tty") as typeof import("node:tty")).isatty(fd);
  } catch {
    return false;
  }
};

/**
 * systemd's console colour: shown ($SYSTEMD_LOG_COLOR, else `shownByDefault`) and systemd's colors_enabled()
 * ($SYSTEMD_COLORS a boolean or a colour depth forces it on or off; else off for $NO_COLOR, an unset or dumb
 * $TERM, or a stdout or stderr that is not a terminal).
 */
function systemdColour(shownByDefault: boolean, env: Env = process.env): boolean {
  const shown = env.SYSTEMD_LOG_COLOR === undefined ? null : parseBoolean(env.SYSTEMD_LOG_COLOR);
  if (!(shown ?? shownByDefault)) return false;
  const forced = env.SYSTEMD_COLORS === undefined ? null : /^(16|256|24bit)$/.test(env.SYSTEMD_COLORS) || parseBoolean(env.SYSTEMD_COLORS);
  if (forced !== null) return forced;
  if ("NO_COLOR" in env || env.TERM === undefined || env.TERM === "dumb") return false;
  return isatty(1) && isatty(2);
}

/** stderr (never stdout: the proxy's stdout carries a file descriptor); write errors are ignored, as systemd's. */
function stderrSink(colourWanted: () => boolean): LogSink {
  let colour: boolean | undefined;
  return {
    write(level, line) {
      colour ??= colourWanted();
      try {
        writeSync(2, Buffer.from(consoleRecord(level, line, colour), "latin1"));
      } catch {}
    },
  };
}

/** The console of log_setup() (the proxy, systemd-ssh-issue), which shows colour unless told not to. */
const consoleSink = stderrSink(() => systemdColour(true));

/** The console of log_setup_generator(), which shows colour only when $SYSTEMD_LOG_COLOR asks. */
export const generatorConsoleSink = stderrSink(() => systemdColour(false));

export const nullSink: LogSink = { write() {} };

export class Logger {
  /** Maximum level printed; systemd's default is info. */
  maxLevel = LOG_INFO;
  sink: LogSink = consoleSink;

  /** Apply $SYSTEMD_LOG_LEVEL, as systemd's log_parse_environment() does (the console stays the target). */
  parseEnvironment(env: Env = process.env): this {
    this.maxLevel = logSettings(env, { maxLevel: this.maxLevel, target: "console" }).maxLevel;
    return this;
  }

  enabled(level: number): boolean {
    return level <= this.maxLevel;
  }

  /** A message in text (encoded as UTF-8, as systemd's C string of it would be). */
  log(level: number, message: string): void {
    if (this.enabled(level)) this.logBytes(level, utf8Bytes(message));
  }

  /** A message that is a byte string (it names paths or arguments exactly as given); bound, to be passed on. */
  logBytes = (level: number, message: string): void => {
    if (!this.enabled(level)) return;
    for (const line of logLines(message)) this.sink.write(level, line);
  };

  debug(message: string): void {
    this.log(LOG_DEBUG, message);
  }
}

/** The process-wide logger. */
export const log = new Logger();

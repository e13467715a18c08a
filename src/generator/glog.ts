// The generator's logging, with systemd's semantics down to the byte (src/basic/log.c, log_setup_generator()):
// messages are cut at LINE_MAX, split at newlines into one record each, and go to the kernel log when systemd
// runs us ($SYSTEMD_EXEC_PID is our PID, or "*"), otherwise to stderr; $SYSTEMD_LOG_TARGET/$SYSTEMD_LOG_LEVEL,
// and when run by systemd the kernel command line's systemd.log_target=/systemd.log_level=/debug, override.
//
// Kept apart from src/shared/log.ts on purpose: the generator runs at every boot and must not load consola,
// and its messages carry raw bytes (from the command line and credentials) that must reach the log unchanged.

import { isatty, parseLogLevel } from "../shared/log.ts";

// node:fs is loaded with the first line logged: a boot that logs nothing (the usual one) never loads it.
const fs = () => require("node:fs") as typeof import("node:fs");

const LINE_MAX = 2048;
const LOG_DAEMON = 3 << 3;

export type Target = "console" | "kmsg" | "null";

export function parseTarget(s: string): Target | null {
  switch (s) {
    case "console":
    case "journal":
    case "syslog":
      // Without a journal or syslog socket systemd falls back to the console.
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

export class GenLog {
  maxLevel = 6;
  target: Target = "console";
  private kmsgFd: number | null | undefined;
  private kmsgWindowStart = 0;
  private kmsgCount = 0;
  private kmsgDropped = 0;
  private colour: boolean | undefined;
  /** Where kmsg records go (tests point this elsewhere). */
  kmsgPath = "/dev/kmsg";
  ident = "systemd-ssh-generator";

  /** Everything logged, for explain mode and tests. */
  readonly records: Array<{ level: number; line: string }> = [];
  capture = false;

  log = (level: number, message: string): void => {
    if (level > this.maxLevel || this.target === "null") return;
    // vsnprintf() into a LINE_MAX buffer.
    let buf = message.length >= LINE_MAX ? message.slice(0, LINE_MAX - 1) : message;
    for (;;) {
      buf = buf.replace(/^[\n\r]+/, "");
      if (buf === "") break;
      const m = /[\n\r]/.exec(buf);
      const line = m ? buf.slice(0, m.index) : buf;
      this.dispatch(level, line);
      if (!m) break;
      buf = buf.slice(m.index + 1);
    }
  };

  private dispatch(level: number, line: string): void {
    if (this.capture) {
      this.records.push({ level, line });
      return;
    }
    if (this.target === "kmsg" && this.writeKmsg(level, line)) return;
    this.writeConsole(level, line);
  }

  private writeKmsg(level: number, line: string): boolean {
    if (this.kmsgFd === undefined) {
      try {
        this.kmsgFd = fs().openSync(this.kmsgPath, "w");
      } catch {
        this.kmsgFd = null;
      }
    }
    if (this.kmsgFd === null) return false;
    const now = Date.now();
    if (now - this.kmsgWindowStart >= 5000) {
      this.kmsgWindowStart = now;
      this.kmsgCount = 0;
      this.kmsgDropped = 0;
    }
    if (++this.kmsgCount > 200) {
      if (++this.kmsgDropped > 1) return true;
      line = "Too many messages being logged to kmsg, ignoring";
    }
    try {
      fs().writeSync(this.kmsgFd, Buffer.from(`<${LOG_DAEMON | level}>${this.ident}[${process.pid}]: ${line}\n`, "latin1"));
      return true;
    } catch {
      try {
        fs().closeSync(this.kmsgFd);
      } catch {}
      this.kmsgFd = null;
      return false;
    }
  }

  private writeConsole(level: number, line: string): void {
    this.colour ??= !("NO_COLOR" in process.env) && process.env.SYSTEMD_COLORS !== "0" && isatty(2);
    const c = this.colour ? colourFor(level) : null;
    try {
      fs().writeSync(2, Buffer.from(c ? `${c}${line}\x1b[0m\n` : `${line}\n`, "latin1"));
    } catch {}
  }

  /** log_setup_generator() + log_parse_environment(). */
  setup(env: Record<string, string | undefined>, cmdlineItems: () => Array<{ key: string; value: string | null }>): void {
    const execPid = env.SYSTEMD_EXEC_PID;
    const bySystemd = execPid === "*" || execPid === String(process.pid);
    if (bySystemd) {
      this.target = "kmsg";
      for (const { key, value } of cmdlineItems()) {
        if (key === "debug" && value === null) this.maxLevel = 7;
        else if (key === "systemd.log_target" && value !== null) {
          const t = parseTarget(value);
          if (t) this.target = t;
        } else if (key === "systemd.log_level" && value !== null) {
          const l = parseLogLevel(value);
          if (l !== null) this.maxLevel = l;
        }
      }
    }
    const t = env.SYSTEMD_LOG_TARGET !== undefined ? parseTarget(env.SYSTEMD_LOG_TARGET) : null;
    if (t) this.target = t;
    const l = env.SYSTEMD_LOG_LEVEL !== undefined ? parseLogLevel(env.SYSTEMD_LOG_LEVEL) : null;
    if (l !== null) this.maxLevel = l;
  }
}

function colourFor(level: number): string | null {
  if (level <= 3) return "\x1b[0;1;31m";
  if (level === 4) return "\x1b[0;1;38;5;185m";
  if (level === 5) return "\x1b[0;1;39m";
  if (level >= 7) return "\x1b[0;38;5;245m";
  return null;
}

// The generator's logging, with systemd's semantics down to the byte (src/basic/log.c, log_setup_generator()):
// messages are cut at LINE_MAX and split at newlines into one record each (src/shared/log-core.ts, the same
// for all three tools), and go to the kernel log when systemd
// runs us ($SYSTEMD_EXEC_PID is our PID, or "*"), otherwise to stderr; $SYSTEMD_LOG_TARGET/$SYSTEMD_LOG_LEVEL,
// and when run by systemd the kernel command line's systemd.log_target=/systemd.log_level=/debug, override.
//
// Kept apart from src/shared/log.ts on purpose: the generator runs at every boot and must not load consola,
// and its messages carry raw bytes (from the command line and credentials) that must reach the log unchanged.

import { isatty, parseLogLevel } from "../shared/log.ts";
import { consoleRecord, kmsgRecord, logLines } from "../shared/log-core.ts";
import { TOOLS } from "../shared/tool-names.ts";

// node:fs is loaded with the first line logged: a boot that logs nothing (the usual one) never loads it.
const fs = () => require("node:fs") as typeof import("node:fs");

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
  ident = TOOLS.generator.program;

  /** Everything logged, for explain mode and tests. */
  readonly records: Array<{ level: number; line: string }> = [];
  capture = false;

  log = (level: number, message: string): void => {
    if (level > this.maxLevel || this.target === "null") return;
    for (const line of logLines(message)) this.dispatch(level, line);
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
      fs().writeSync(this.kmsgFd, Buffer.from(kmsgRecord(level, this.ident, process.pid, line), "latin1"));
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
    try {
      fs().writeSync(2, Buffer.from(consoleRecord(level, line, this.colour), "latin1"));
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

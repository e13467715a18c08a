// The kmsg sink (systemd's log target "kmsg", src/basic/log.c write_to_kmsg()): `<PRI>ident[pid]: line`
// records on /dev/kmsg, at most 200 per 5 s and then one "Too many messages" record, as systemd's
// ratelimit does. When /dev/kmsg cannot be opened or written, records go to the console, as systemd falls
// back. Only the generator logs to kmsg: kept out of src/shared/log.ts so that the proxy never loads it.

import { kmsgRecord } from "./log-core.ts";
import { type LogSink, generatorConsoleSink, writeSync } from "./log.ts";

const fs = () => require("node:fs") as typeof import("node:fs");

const RATELIMIT_INTERVAL_MS = 5000;
const RATELIMIT_BURST = 200;

/** A kmsg sink writing to `path` (tests point it at a temp file), falling back to `fallback` (the generator's console). */
export function kmsgSink(ident: string, path = "/dev/kmsg", fallback: LogSink = generatorConsoleSink): LogSink {
  let fd: number | null | undefined;
  let windowStart = 0;
  let count = 0;
  let dropped = 0;
  const write = (level: number, line: string): boolean => {
    if (fd === undefined) {
      try {
        fd = fs().openSync(path, "w");
      } catch {
        fd = null;
      }
    }
    if (fd === null) return false;
    const now = Date.now();
    if (now - windowStart >= RATELIMIT_INTERVAL_MS) {
      windowStart = now;
      count = 0;
      dropped = 0;
    }
    if (++count > RATELIMIT_BURST) {
      if (++dropped > 1) return true;
      line = "Too many messages being logged to kmsg, ignoring";
    }
    try {
      writeSync(fd, Buffer.from(kmsgRecord(level, ident, process.pid, line), "latin1"));
      return true;
    } catch {
      try {
        fs().closeSync(fd);
      } catch {}
      fd = null;
      return false;
    }
  };
  return {
    write(level, line) {
      if (!write(level, line)) fallback.write(level, line);
    },
  };
}


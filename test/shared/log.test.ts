// The logger all three tools share: the settings systemd reads (src/shared/log.ts logSettings()), the kmsg
// sink with its rate limit and its fallback (src/shared/log-kmsg.ts), the console sink's records, and the
// core that cuts and splits messages (src/shared/log-core.ts). The kmsg sink writes to a temp file here,
// never to the real /dev/kmsg.

import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { consoleRecord, logLines } from "../../src/shared/log-core.ts";
import { kmsgSink } from "../../src/shared/log-kmsg.ts";
import { LOG_DEBUG, Logger, type LogSink, logSettings } from "../../src/shared/log.ts";
import { runSync } from "../helpers/spawn.ts";
import { removeDir, REPO, tempDir } from "../helpers/tmp.ts";

/** syslog's LOG_INFO, systemd's default level. */
const LOG_INFO = 6;

const dir = tempDir("shared-log");
afterAll(() => removeDir(dir));

const generator = (cmdline: Array<{ key: string; value: string | null }> = []) => ({ kernelCommandLine: () => cmdline });
const settings = (env: Record<string, string>, cmdline?: Array<{ key: string; value: string | null }>) =>
  logSettings(env, undefined, generator(cmdline));

describe("log settings", () => {
  test("not run by systemd: console, info", () => {
    expect(settings({})).toEqual({ target: "console", maxLevel: LOG_INFO });
  });
  test("a generator run by systemd ($SYSTEMD_EXEC_PID is our PID, or *): kmsg, and the kernel command line counts", () => {
    expect(settings({ SYSTEMD_EXEC_PID: String(process.pid) }).target).toBe("kmsg");
    expect(settings({ SYSTEMD_EXEC_PID: String(process.pid + 1) }).target).toBe("console");
    const s = settings({ SYSTEMD_EXEC_PID: "*" }, [{ key: "systemd.log_level", value: "debug" }, { key: "systemd.log_target", value: "console" }]);
    expect(s).toEqual({ target: "console", maxLevel: LOG_DEBUG });
    expect(settings({ SYSTEMD_EXEC_PID: "*" }, [{ key: "debug", value: null }]).maxLevel).toBe(LOG_DEBUG);
    // Not run by systemd: the command line is not consulted.
    expect(settings({}, [{ key: "debug", value: null }]).maxLevel).toBe(LOG_INFO);
    // Not a generator: neither $SYSTEMD_EXEC_PID nor the command line.
    expect(logSettings({ SYSTEMD_EXEC_PID: "*" }).target).toBe("console");
  });
  test("the environment wins; invalid values are ignored", () => {
    const s = settings({ SYSTEMD_EXEC_PID: "*", SYSTEMD_LOG_TARGET: "console", SYSTEMD_LOG_LEVEL: "warning" }, [{ key: "systemd.log_level", value: "debug" }]);
    expect(s).toEqual({ target: "console", maxLevel: 4 });
    expect(settings({ SYSTEMD_LOG_LEVEL: "bogus", SYSTEMD_LOG_TARGET: "bogus" })).toEqual({ target: "console", maxLevel: LOG_INFO });
    expect(settings({ SYSTEMD_LOG_TARGET: "null" }).target).toBe("null");
    expect(settings({ SYSTEMD_LOG_TARGET: "journal-or-kmsg", SYSTEMD_LOG_LEVEL: "2" })).toEqual({ target: "kmsg", maxLevel: 2 });
  });
  test("the proxy's and issue's parseEnvironment(): only the level, kept when unset or invalid", () => {
    const l = new Logger();
    l.maxLevel = LOG_DEBUG;
    expect(l.parseEnvironment({}).maxLevel).toBe(LOG_DEBUG);
    expect(l.parseEnvironment({ SYSTEMD_LOG_LEVEL: "nope" }).maxLevel).toBe(LOG_DEBUG);
    expect(l.parseEnvironment({ SYSTEMD_LOG_LEVEL: "err" }).maxLevel).toBe(3);
  });
});

/** A logger at debug level writing to a kmsg sink on `path`, its console fallback collected. */
function kmsgLogger(path: string): { log: Logger; fallback: string[] } {
  const fallback: string[] = [];
  const console: LogSink = { write: (level, line) => void fallback.push(`<${level}>${line}`) };
  const log = new Logger();
  log.maxLevel = LOG_DEBUG;
  log.sink = kmsgSink("systemd-ssh-generator", path, console);
  return { log, fallback };
}

describe("kmsg", () => {
  test("<PRI>systemd-ssh-generator[pid]: line, one record per line, LINE_MAX", () => {
    const path = join(dir, "kmsg");
    const { log, fallback } = kmsgLogger(path);
    log.logBytes(4, "Failed to parse systemd.ssh_listen= expression, ignoring: a\nb");
    log.logBytes(7, "\n\nx\r\ny\xe9");
    log.logBytes(6, "z".repeat(5000));
    log.log(6, "é");
    expect(readFileSync(path, "latin1").split("\n")).toEqual([
      `<28>systemd-ssh-generator[${process.pid}]: Failed to parse systemd.ssh_listen= expression, ignoring: a`,
      `<28>systemd-ssh-generator[${process.pid}]: b`,
      `<31>systemd-ssh-generator[${process.pid}]: x`,
      `<31>systemd-ssh-generator[${process.pid}]: y\xe9`,
      `<30>systemd-ssh-generator[${process.pid}]: ${"z".repeat(2047)}`,
      `<30>systemd-ssh-generator[${process.pid}]: \xc3\xa9`,
      "",
    ]);
    expect(fallback).toEqual([]);
  });
  test("kmsg that cannot be opened: the records go to the console instead, level filter first", () => {
    const { log, fallback } = kmsgLogger(join(dir, "no/such/dir/kmsg"));
    log.maxLevel = LOG_INFO;
    log.logBytes(7, "debug, dropped by level");
    log.logBytes(3, "to the console\nin two records");
    expect(fallback).toEqual(["<3>to the console", "<3>in two records"]);
  });
  test("kmsg that cannot be written: the console from then on", () => {
    // /dev/full opens, and every write to it fails with ENOSPC.
    const { log, fallback } = kmsgLogger("/dev/full");
    log.logBytes(3, "one");
    log.logBytes(4, "two");
    expect(fallback).toEqual(["<3>one", "<4>two"]);
  });
  test("rate limit: 200 records per 5 s, then one notice, then nothing", () => {
    const path = join(dir, "kmsg-rl");
    const { log, fallback } = kmsgLogger(path);
    for (let i = 0; i < 300; i++) log.logBytes(3, `m${i}`);
    const lines = readFileSync(path, "latin1").trimEnd().split("\n");
    expect(lines.length).toBe(201);
    expect(lines[199]).toEndWith("]: m199");
    expect(lines[200]).toBe(`<27>systemd-ssh-generator[${process.pid}]: Too many messages being logged to kmsg, ignoring`);
    expect(fallback).toEqual([]);
  });
});

describe("console", () => {
  test("a record is the line, coloured on a terminal with systemd's colours", () => {
    expect(consoleRecord(3, "e", false)).toBe("e\n");
    expect(consoleRecord(3, "e", true)).toBe("\x1b[0;1;31me\x1b[0m\n");
    expect(consoleRecord(4, "w", true)).toBe("\x1b[0;1;38;5;185mw\x1b[0m\n");
    expect(consoleRecord(5, "n", true)).toBe("\x1b[0;1;39mn\x1b[0m\n");
    expect(consoleRecord(6, "i", true)).toBe("i\n");
    expect(consoleRecord(7, "d", true)).toBe("\x1b[0;38;5;245md\x1b[0m\n");
  });
  test("the console sink writes byte strings to stderr, byte for byte, and not to stdout", () => {
    const script = `import { log } from ${JSON.stringify(join(REPO, "src/shared/log.ts"))}; log.logBytes(3, "a\\xe9\\nb"); log.log(4, "\\u00e9"); log.debug("no");`;
    const r = runSync([join(REPO, "node_modules/.bin/bun"), "-e", script], { env: { PATH: process.env.PATH ?? "" }, encoding: "latin1" });
    expect([r.status, r.stdout, r.stderr]).toEqual([0, "", "a\xe9\nb\n\xc3\xa9\n"]);
  });
  test("colour as systemd 262's: $SYSTEMD_COLORS forces it, $SYSTEMD_LOG_COLOR turns it off, or on for the generator", () => {
    // The process-wide logger writes to log_setup()'s console; the generator's has a sink of its own.
    const run = (sink: "log" | "generatorConsoleSink", env: Record<string, string>) => {
      const write = sink === "log" ? 'log.logBytes(3, "e")' : 's.write(3, "e")';
      const script = `import { log, generatorConsoleSink as s } from ${JSON.stringify(join(REPO, "src/shared/log.ts"))}; ${write};`;
      return runSync([join(REPO, "node_modules/.bin/bun"), "-e", script], { env: { PATH: process.env.PATH ?? "", ...env } }).stderr;
    };
    // stderr is a pipe here, not a terminal.
    expect(run("log", { TERM: "xterm" })).toBe("e\n");
    expect(run("log", { SYSTEMD_COLORS: "1" })).toBe("\x1b[0;1;31me\x1b[0m\n");
    expect(run("log", { SYSTEMD_COLORS: "256", NO_COLOR: "1", TERM: "dumb" })).toBe("\x1b[0;1;31me\x1b[0m\n");
    expect(run("log", { SYSTEMD_COLORS: "yes", SYSTEMD_LOG_COLOR: "no" })).toBe("e\n");
    expect(run("log", { SYSTEMD_COLORS: "bogus", TERM: "xterm" })).toBe("e\n");
    expect(run("log", { SYSTEMD_LOG_COLOR: "1", TERM: "xterm" })).toBe("e\n");
    expect(run("generatorConsoleSink", { SYSTEMD_COLORS: "1" })).toBe("e\n");
    expect(run("generatorConsoleSink", { SYSTEMD_COLORS: "1", SYSTEMD_LOG_COLOR: "1" })).toBe("\x1b[0;1;31me\x1b[0m\n");
    expect(run("generatorConsoleSink", { SYSTEMD_LOG_COLOR: "1", TERM: "xterm" })).toBe("e\n");
  });
});

describe("the core (src/shared/log-core.ts)", () => {
  test("split at every run of CR/LF, empty pieces dropped", () => {
    expect(logLines("a\rb")).toEqual(["a", "b"]);
    expect(logLines("\r\n\na\n\r\rb\r\n")).toEqual(["a", "b"]);
    expect(logLines("\n\r\n")).toEqual([]);
    expect(logLines("")).toEqual([]);
  });
  test("cut after 2047 bytes, before splitting, even inside a UTF-8 sequence", () => {
    expect(logLines("x".repeat(3000))).toEqual(["x".repeat(2047)]);
    expect(logLines(`${"x".repeat(2046)}\xc3\xa9`)).toEqual([`${"x".repeat(2046)}\xc3`]);
    expect(logLines(`${"x".repeat(2046)}\nyy`)).toEqual(["x".repeat(2046)]);
  });
});

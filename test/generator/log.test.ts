// The generator's logging: the target systemd picks (kmsg when systemd runs us, else the console), the
// environment overrides, and the record format: one record per line, cut at LINE_MAX, <PRI>ident[pid]: text.
// The kmsg sink writes to a temp file here, never to the real /dev/kmsg.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GenLog } from "../../src/generator/glog.ts";
import { logLines } from "../../src/shared/log-core.ts";

const dir = mkdtempSync(join(tmpdir(), "gen-log-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function setup(env: Record<string, string>, cmdline: Array<{ key: string; value: string | null }> = []): GenLog {
  const l = new GenLog();
  l.setup(env, () => cmdline);
  return l;
}

describe("log target and level", () => {
  test("not run by systemd: console, info", () => {
    const l = setup({});
    expect([l.target, l.maxLevel]).toEqual(["console", 6]);
  });
  test("run by systemd ($SYSTEMD_EXEC_PID is our PID, or *): kmsg, and the kernel command line counts", () => {
    expect(setup({ SYSTEMD_EXEC_PID: String(process.pid) }).target).toBe("kmsg");
    expect(setup({ SYSTEMD_EXEC_PID: String(process.pid + 1) }).target).toBe("console");
    const l = setup({ SYSTEMD_EXEC_PID: "*" }, [{ key: "systemd.log_level", value: "debug" }, { key: "systemd.log_target", value: "console" }]);
    expect([l.target, l.maxLevel]).toEqual(["console", 7]);
    expect(setup({ SYSTEMD_EXEC_PID: "*" }, [{ key: "debug", value: null }]).maxLevel).toBe(7);
    // Not run by systemd: the command line is not consulted.
    expect(setup({}, [{ key: "debug", value: null }]).maxLevel).toBe(6);
  });
  test("the environment wins", () => {
    const l = setup({ SYSTEMD_EXEC_PID: "*", SYSTEMD_LOG_TARGET: "console", SYSTEMD_LOG_LEVEL: "warning" }, [{ key: "systemd.log_level", value: "debug" }]);
    expect([l.target, l.maxLevel]).toEqual(["console", 4]);
    expect(setup({ SYSTEMD_LOG_LEVEL: "bogus" }).maxLevel).toBe(6);
    expect(setup({ SYSTEMD_LOG_TARGET: "null" }).target).toBe("null");
  });
});

describe("records", () => {
  test("kmsg: <PRI>systemd-ssh-generator[pid]: line, one record per line, LINE_MAX", () => {
    const path = join(dir, "kmsg");
    const l = setup({ SYSTEMD_EXEC_PID: "*" });
    l.kmsgPath = path;
    l.maxLevel = 7;
    l.log(4, "Failed to parse systemd.ssh_listen= expression, ignoring: a\nb");
    l.log(7, "\n\nx\r\ny\xe9");
    l.log(6, "z".repeat(5000));
    const lines = readFileSync(path, "latin1").split("\n");
    expect(lines.slice(0, 5)).toEqual([
      `<28>systemd-ssh-generator[${process.pid}]: Failed to parse systemd.ssh_listen= expression, ignoring: a`,
      `<28>systemd-ssh-generator[${process.pid}]: b`,
      `<31>systemd-ssh-generator[${process.pid}]: x`,
      `<31>systemd-ssh-generator[${process.pid}]: y\xe9`,
      `<30>systemd-ssh-generator[${process.pid}]: ${"z".repeat(2047)}`,
    ]);
  });
  test("kmsg unavailable: falls back to the console", () => {
    const l = setup({ SYSTEMD_EXEC_PID: "*" });
    l.kmsgPath = join(dir, "no/such/dir/kmsg");
    l.capture = false;
    // Writes to stderr; what matters is that it does not throw.
    l.log(7, "debug, dropped by level");
    expect(() => l.log(3, "to the console")).not.toThrow();
  });
  test("kmsg rate limit: 200 records per 5 s, then one notice", () => {
    const path = join(dir, "kmsg-rl");
    const l = setup({ SYSTEMD_EXEC_PID: "*" });
    l.kmsgPath = path;
    for (let i = 0; i < 300; i++) l.log(3, `m${i}`);
    const lines = readFileSync(path, "latin1").trimEnd().split("\n");
    expect(lines.length).toBe(201);
    expect(lines[200]).toEndWith("]: Too many messages being logged to kmsg, ignoring");
  });
});

describe("the core all three tools share (src/shared/log-core.ts)", () => {
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

// The same cases through systemd 262's ssh-proxy and ours: same exit status, same stderr, same stdout bytes,
// same bytes readable from the passed descriptor. Where ours is specified to do better, the test says so.
//
// SAFETY: the reference must never get a vsock case that would reach connect() (AF_VSOCK connects are
// forbidden on these machines); assertNoVsockConnect() refuses to run such a case.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { close } from "../../ffi/socket.ts";
import { parseHost, resolveTarget, type Lookups } from "../../src/proxy/core.ts";
import { readAll, runFdpass } from "../helpers/fdpass.ts";
import { requireReference } from "../helpers/reference.ts";
import { scriptedPeer, type Step } from "../helpers/scripted-peer.ts";
import { PROXY, removeDir, tempDir } from "../helpers/tmp.ts";

const ref = requireReference("262");
const dir = tempDir("proxy-parity");
afterAll(() => removeDir(dir));

const noLookup = (): never => {
  throw new Error("no lookups in the parity cases");
};
const NO_LOOKUPS: Lookups = { machine: noLookup, qemu: noLookup };

function assertNoVsockConnect(args: string[]): void {
  if (args.length !== 2) return;
  let kind: string;
  try {
    kind = resolveTarget(parseHost(args[0]!), args[1]!, NO_LOOKUPS).kind;
  } catch {
    return; // refused before any connect
  }
  if (kind === "vsock") throw new Error(`refusing to let the reference connect AF_VSOCK: ${args.join(" ")}`);
}

interface Outcome {
  code: number;
  stderr: string;
  stdout: number[];
  passed: string | null;
}

/** The environment for each log level a case runs at: systemd's default (info), and debug. */
const LEVELS = { info: { ...process.env, SYSTEMD_LOG_LEVEL: "info" }, debug: { ...process.env, SYSTEMD_LOG_LEVEL: "debug" } };
type Level = keyof typeof LEVELS;

async function outcome(cmd: string[], cwd?: string, level: Level = "info"): Promise<Outcome> {
  const old = process.cwd();
  if (cwd) process.chdir(cwd);
  try {
    const r = await runFdpass(cmd, { env: LEVELS[level] });
    let passed: string | null = null;
    if (r.fd !== null) {
      passed = new TextDecoder().decode(readAll(r.fd));
      close(r.fd);
    }
    return { code: r.code, stderr: r.stderr, stdout: Array.from(r.stdout), passed };
  } finally {
    process.chdir(old);
  }
}

/** A listener that greets every connection with a line naming the socket, then closes. */
function greeter(path: string) {
  return Bun.listen({
    unix: path,
    socket: {
      open(s) {
        s.end(`hello from ${path}\n`);
      },
      data() {},
    },
  });
}

async function compare(args: string[], opts: { cwd?: string; level?: Level } = {}): Promise<Outcome> {
  assertNoVsockConnect(args);
  const theirs = await outcome([ref!.tool("systemd-ssh-proxy"), ...args], opts.cwd, opts.level);
  const ours = await outcome([PROXY, ...args], opts.cwd, opts.level);
  expect(ours).toEqual(theirs);
  return ours;
}

describe.skipIf(!ref)("systemd-ssh-proxy parity with systemd 262", () => {
  const sock = join(dir, "greeter.sock");
  const server = greeter(sock);
  afterAll(() => server.stop(true));
  let deep = dir;
  while (deep.length < 160) deep = join(deep, "deeper-and-deeper");
  mkdirSync(deep, { recursive: true });
  const longSock = join(deep, "long.sock");
  // Bun binds with the full path, so go through a short relative name from inside the directory.
  const oldCwd = process.cwd();
  process.chdir(deep);
  const longServer = greeter("long.sock");
  process.chdir(oldCwd);
  afterAll(() => longServer.stop(true));
  const file = join(dir, "regular-file");
  writeFileSync(file, "x");

  const cases: [string, string[]][] = [
    ["no arguments", []],
    ["one argument", ["unix/x"]],
    ["three arguments", ["unix/x", "22", "extra"]],
    ["unknown scheme", ["foo/bar", "22"]],
    ["empty host", ["", "22"]],
    ["bare scheme", ["unix", "22"]],
    ["capitalised scheme", ["UNIX/run/x", "22"]],
    ["unix: a missing socket", ["unix/nonexistent/socket", "22"]],
    ["unix: the root directory", ["unix/", "22"]],
    ["unix: a regular file", [`unix${file}`, "22"]],
    ["unix: a directory", [`unix${dir}`, "22"]],
    ["unix: connected, descriptor passed", [`unix${sock}`, "22"]],
    ["unix%: connected", [`unix%${sock}`, "ignored"]],
    ["unix: path without the leading slash", [`unix/${sock.slice(1)}`, "22"]],
    ["unix: path longer than sun_path", [`unix${longSock}`, "22"]],
    ["unix: long missing path", [`unix${deep}/missing`, "22"]],
    ["vsock: bad cid", ["vsock/abc", "22"]],
    ["vsock%: bad cid", ["vsock%3x", "22"]],
    ["vsock: empty cid", ["vsock/", "22"]],
    ["vsock: cid out of range", ["vsock/4294967296", "22"]],
    ["vsock: negative cid", ["vsock/-5", "22"]],
    ["vsock: cid any", ["vsock/any", "22"]],
    ["vsock: cid -1", ["vsock/-1", "22"]],
    ["vsock: cid 4294967295", ["vsock/4294967295", "22"]],
    ["vsock: bad port", ["vsock/3", "abc"]],
    ["vsock: named cid, bad port", ["vsock/host", "2x"]],
    ["vsock: port VMADDR_PORT_ANY", ["vsock/3", "4294967295"]],
    ["vsock: negative port", ["vsock/hypervisor", "-1"]],
    ["vsock-mux: missing socket", ["vsock-mux/nonexistent", "22"]],
    // A message is cut at LINE_MAX (2047 bytes) and split at every run of CR/LF, empty pieces dropped.
    ["unix: CR in the path", ["unix/a\rb", "22"]],
    ["unix: runs of CR and LF in the path", ["unix/\n\ra\n\n\rb\r\n", "22"]],
    ["unix: a 3000-byte path", [`unix/${"x".repeat(3000)}`, "22"]],
    ["unix: a 3000-byte path of two-byte characters", [`unix/${"é".repeat(1500)}`, "22"]],
    ["unknown scheme with CR/LF runs", ["foo\r\n\nbar/x", "22"]],
    ["vsock: bad cid with a CR", ["vsock/3\r", "22"]],
    ["vsock-mux: missing socket, CRs in the path", ["vsock-mux/a\r\rb", "22"]],
    ["vsock-mux: a missing 3000-byte path", [`vsock-mux/${"y".repeat(3000)}`, "22"]],
  ];
  for (const [name, args] of cases) {
    for (const level of ["info", "debug"] as const) {
      test(`${name} (${level})`, async () => {
        await compare(args, { level });
      });
    }
  }

  test("unix: ./relative path, resolved against the working directory", async () => {
    const r = await compare(["unix/./greeter.sock", "22"], { cwd: dir });
    expect(r.passed).toBe(`hello from ${sock}\n`);
  });

  test("the greeting really arrives through the passed descriptor", async () => {
    const r = await compare([`unix${sock}`, "22"]);
    expect(r).toEqual({ code: 0, stderr: "", stdout: [0], passed: `hello from ${sock}\n` });
  });

  const muxCases: [string, Step[], string][] = [
    ["OK with payload", [{ write: "OK 22\nSSH-2.0-x\r\n" }, "close"], "22"],
    ["OK split", [{ write: "OK " }, { sleep: 100 }, { write: "22\nrest" }, "close"], "22"],
    ["OK split three ways", [{ write: "O" }, { sleep: 100 }, { write: "K 2" }, { sleep: 100 }, { write: "2\nrest" }, "close"], "22"],
    ["no OK line", [{ write: "SSH-2.0-x\r\n" }, "close"], "22"],
    ["port not open", ["close"], "2222"],
    ["closed mid-line", [{ write: "OK 2" }, "close"], "22"],
    ["garbage after consuming", [{ write: "OK" }, { sleep: 100 }, { write: "X\n" }, "close"], "22"],
    ["non-numeric port passed through", [{ write: "OK abc\n" }, "close"], "abc"],
    ["a 9-byte OK line", [{ write: "OK 65535\nrest" }, "close"], "22"],
    // 262's 9-byte buffer fills without a newline before anything was consumed: it passes the bytes on.
    ["a 15-byte OK line split across two reads", [{ write: "OK 999999" }, { sleep: 300 }, { write: "99999\n" }, { write: "rest" }, "close"], "22"],
    ["an unterminated OK line, then EOF", [{ write: "OK 1234567" }, "close"], "22"],
    ["an OK line whose port does not fit 32 bits", [{ write: "OK 4294967296\nrest" }, "close"], "22"],
    ["an OK line that is not a number past 9 bytes", [{ write: "OK 123456x\nrest" }, "close"], "22"],
    ["an OK line that is not a number, split past 9 bytes", [{ write: "OK 1234567" }, { sleep: 200 }, { write: "8x\nrest" }, "close"], "22"],
    ["an OK line of 9 digits and more, then EOF", [{ write: "OK 123456789" }, { sleep: 200 }, { write: "0123" }, "close"], "22"],
    // 262 consumed part of the line, then its buffer filled: it fails, and so do we unless it is an OK line.
    ["consumed, then a line too long", [{ write: "OK 10" }, { sleep: 200 }, { write: "737418240\nrest" }, "close"], "22"],
    ["consumed, then not a number", [{ write: "OK 1" }, { sleep: 200 }, { write: "2345x\nrest" }, "close"], "22"],
    ["consumed, then EOF past 9 bytes", [{ write: "OK 1" }, { sleep: 200 }, { write: "2345678" }, "close"], "22"],
  ];
  let n = 0;
  // A path with a two-byte character: debug lines name it byte for byte.
  const muxPath = () => join(dir, `mux-\u00e9-${n++}.sock`);
  const runMux = async (bin: string, script: Step[], port: string, level: Level) => {
    const path = muxPath();
    const peer = scriptedPeer(path, script);
    try {
      const r = await runFdpass([bin, `vsock-mux${path}`, port], { env: LEVELS[level] });
      // The script plays on in this process: let it finish before the blocking read of what was passed.
      await peer.done;
      let passed: string | null = null;
      if (r.fd !== null) {
        passed = new TextDecoder().decode(readAll(r.fd));
        close(r.fd);
      }
      const stderr = r.stderr.replaceAll(path, "PATH");
      return { code: r.code, stderr, stdout: Array.from(r.stdout), passed, received: peer.received.join("") };
    } finally {
      peer.stop();
    }
  };
  for (const [name, script, port] of muxCases) {
    for (const level of ["info", "debug"] as const) {
      test(`vsock-mux: ${name} (${level})`, async () => {
        expect(await runMux(PROXY, script, port, level)).toEqual(await runMux(ref!.tool("systemd-ssh-proxy"), script, port, level));
      });
    }
  }

  test("vsock-mux: an unterminated OK line, then silence: passed on (ours after 5 s of waiting for the rest)", async () => {
    const script: Step[] = [{ write: "OK 1234567" }, { sleep: 6000 }, { write: "late" }, "close"];
    expect(await runMux(PROXY, script, "22", "debug")).toEqual(await runMux(ref!.tool("systemd-ssh-proxy"), script, "22", "debug"));
  }, 60000);

  // Where ours does better: it consumes an OK line with any 32-bit port that 262's buffer cannot hold.
  const better: [string, Step[], { theirs: Partial<Outcome>; ours: Partial<Outcome> }][] = [
    ["Firecracker's OK line split across reads after 9 bytes", [{ write: "OK 107374" }, { sleep: 200 }, { write: "1824\nrest" }, "close"], {
      theirs: { code: 0, passed: "OK 1073741824\nrest" },
      ours: { code: 0, passed: "rest" },
    }],
    ["Firecracker's OK line split across reads before 9 bytes", [{ write: "OK 10" }, { sleep: 200 }, { write: "73741824\nrest" }, "close"], {
      theirs: { code: 1, passed: null },
      ours: { code: 0, passed: "rest" },
    }],
  ];
  for (const [name, script, want] of better) {
    test(`vsock-mux: ${name} — 262 leaks it or fails, ours consumes it`, async () => {
      const theirs = await runMux(ref!.tool("systemd-ssh-proxy"), script, "22", "info");
      const ours = await runMux(PROXY, script, "22", "info");
      expect(theirs).toMatchObject(want.theirs);
      expect(ours).toMatchObject({ ...want.ours, stderr: "" });
    });
  }

  test("vsock-mux: Firecracker's long OK line — systemd leaks it into the stream, ours consumes it", async () => {
    const script: Step[] = [{ write: "OK 1073741824\nSSH-2.0-x\r\n" }, "close"];
    const run = async (bin: string) => {
      const path = join(dir, `mux-${n++}.sock`);
      const peer = scriptedPeer(path, script);
      try {
        return await outcome([bin, `vsock-mux${path}`, "22"]);
      } finally {
        peer.stop();
      }
    };
    expect((await run(ref!.tool("systemd-ssh-proxy"))).passed).toBe("OK 1073741824\nSSH-2.0-x\r\n");
    expect((await run(PROXY)).passed).toBe("SSH-2.0-x\r\n");
  });

  // Bun's runtime holds two descriptors a C program does not (its event loop's epoll and eventfd). Bun lifts
  // the soft RLIMIT_NOFILE to the hard one at start-up by itself, so only a hard limit can leave 262 room for
  // its socket and us none; then ours lifts the limit by those two, which takes CAP_SYS_RESOURCE
  // (ffi/socket.ts). (The reference's bin/ wrapper needs descriptors of its own: run its loader directly.)
  const capSysResource = (BigInt(`0x${/^CapEff:\s*([0-9a-f]+)/m.exec(readFileSync("/proc/self/status", "latin1"))?.[1] ?? "0"}`) >> 24n) & 1n;
  // (At a hard limit of 4, where 262 still connects, Bun cannot start at all.)
  for (const ulimit of ["-Sn 5", "-n 5"]) {
    test(`a descriptor limit that leaves room for 262's socket only (ulimit ${ulimit})`, async () => {
      const limited = (argv: string[]) => ["/bin/sh", "-c", `ulimit ${ulimit} && exec "$@"`, "sh", ...argv, `unix${sock}`, "22"];
      const theirs = await outcome(limited(ref!.direct("systemd-ssh-proxy")));
      const ours = await outcome(limited([PROXY]));
      expect(theirs).toEqual({ code: 0, stderr: "", stdout: [0], passed: `hello from ${sock}\n` });
      if (ulimit.startsWith("-Sn") || capSysResource === 1n) expect(ours).toEqual(theirs);
      // Without the capability the hard limit stays: systemd's message, and no descriptor passed.
      else expect(ours).toEqual({ code: 1, stderr: "Failed to allocate AF_UNIX socket: Too many open files\n", stdout: [], passed: null });
    });
  }

  test("debug logging prints the same lines", async () => {
    const env = { ...process.env, SYSTEMD_LOG_LEVEL: "debug" };
    const theirs = await runFdpass([ref!.tool("systemd-ssh-proxy"), `unix${sock}`, "22"], { env });
    const ours = await runFdpass([PROXY, `unix${sock}`, "22"], { env });
    for (const r of [theirs, ours]) if (r.fd !== null) close(r.fd);
    expect(ours.stderr).toBe(theirs.stderr);
    expect(ours.stderr).toContain("Successfully sent AF_UNIX socket via STDOUT.");
  });
});

// The same cases through systemd 262's ssh-proxy and ours: same exit status, same stderr, same stdout bytes,
// same bytes readable from the passed descriptor. Where ours is specified to do better, the test says so.
//
// SAFETY: the reference must never get a vsock case that would reach connect() (AF_VSOCK connects are
// forbidden on these machines); assertNoVsockConnect() refuses to run such a case.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { close } from "../../ffi/socket.ts";
import { parseHostSpec } from "../../src/proxy/host-spec.ts";
import { parseVsockCid, parseVsockPort, VMADDR_CID_ANY } from "../../src/shared/vsock-address.ts";
import { readAll, runFdpass } from "../helpers/fdpass.ts";
import { requireReference } from "../helpers/reference.ts";
import { scriptedPeer, type Step } from "../helpers/scripted-peer.ts";
import { PROXY, removeDir, tempDir } from "../helpers/tmp.ts";

const ref = requireReference("262");
const dir = tempDir("proxy-parity");
afterAll(() => removeDir(dir));

function assertNoVsockConnect(args: string[]): void {
  if (args.length !== 2) return;
  const spec = parseHostSpec(args[0]!);
  if (spec?.kind !== "vsock") return;
  const cid = parseVsockCid(spec.cid);
  if (cid !== null && cid !== VMADDR_CID_ANY && parseVsockPort(args[1]!) !== null) {
    throw new Error(`refusing to let the reference connect AF_VSOCK: ${args.join(" ")}`);
  }
}

interface Outcome {
  code: number;
  stderr: string;
  stdout: number[];
  passed: string | null;
}

async function outcome(cmd: string[], cwd?: string): Promise<Outcome> {
  const old = process.cwd();
  if (cwd) process.chdir(cwd);
  try {
    const r = await runFdpass(cmd);
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

async function compare(args: string[], opts: { cwd?: string } = {}): Promise<Outcome> {
  assertNoVsockConnect(args);
  const theirs = await outcome([ref!.tool("systemd-ssh-proxy"), ...args], opts.cwd);
  const ours = await outcome([PROXY, ...args], opts.cwd);
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
  ];
  for (const [name, args] of cases) {
    test(name, async () => {
      await compare(args);
    });
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
    ["no OK line", [{ write: "SSH-2.0-x\r\n" }, "close"], "22"],
    ["port not open", ["close"], "2222"],
    ["closed mid-line", [{ write: "OK 2" }, "close"], "22"],
    ["garbage after consuming", [{ write: "OK" }, { sleep: 100 }, { write: "X\n" }, "close"], "22"],
    ["non-numeric port passed through", [{ write: "OK abc\n" }, "close"], "abc"],
  ];
  let n = 0;
  for (const [name, script, port] of muxCases) {
    test(`vsock-mux: ${name}`, async () => {
      const run = async (bin: string) => {
        const path = join(dir, `mux-${n++}.sock`);
        const peer = scriptedPeer(path, script);
        try {
          const o = await outcome([bin, `vsock-mux${path}`, port]);
          await peer.done;
          return { ...o, stderr: o.stderr.replaceAll(path, "PATH"), received: peer.received.join("") };
        } finally {
          peer.stop();
        }
      };
      expect(await run(PROXY)).toEqual(await run(ref!.tool("systemd-ssh-proxy")));
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

  test("debug logging prints the same lines", async () => {
    const env = { ...process.env, SYSTEMD_LOG_LEVEL: "debug" };
    const theirs = await runFdpass([ref!.tool("systemd-ssh-proxy"), `unix${sock}`, "22"], { env });
    const ours = await runFdpass([PROXY, `unix${sock}`, "22"], { env });
    for (const r of [theirs, ours]) if (r.fd !== null) close(r.fd);
    expect(ours.stderr).toBe(theirs.stderr);
    expect(ours.stderr).toContain("Successfully sent AF_UNIX socket via STDOUT.");
  });
});

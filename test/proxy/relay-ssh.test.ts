// Real ssh logins through the proxy in relay mode (`ProxyUseFdpass no`, i.e. pipes), over AF_UNIX and
// over a vsock multiplexer (fake: test/helpers/fake-vsock-mux.ts, in front of the test sshd), and bulk
// transfers both ways compared by sha256.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { type FakeVsockMux, type MuxReply, startFakeVsockMux } from "../helpers/fake-vsock-mux.ts";
import { runCommand, startSshd, type TestSshd } from "../helpers/sshd.ts";
import { connectUnix } from "../helpers/unix-conn.ts";

let sshd: TestSshd;
let relayCfg: string;
let fdpassCfg: string;
const muxes: FakeVsockMux[] = [];

// Fast cipher, no compression: the transfer tests measure the relay, not ssh's crypto.
const EXTRA = "  Ciphers aes128-gcm@openssh.com\n  Compression no";

beforeAll(async () => {
  sshd = await startSshd();
  relayCfg = sshd.sshConfig({ fdpass: false, extra: EXTRA, name: "relay_config" });
  fdpassCfg = sshd.sshConfig({ fdpass: true, extra: EXTRA, name: "fdpass_config" });
});
afterAll(async () => {
  for (const m of muxes) m.stop();
  await sshd?.stop();
});

const debugEnv = { ...process.env, SYSTEMD_LOG_LEVEL: "debug" } as Record<string, string>;
let muxCount = 0;
async function mux(reply: MuxReply): Promise<FakeVsockMux> {
  const m = await startFakeVsockMux({
    path: join(sshd.dir, `mux${muxCount++}.sock`),
    guest: (port) => (port === 22 ? sshd.socket : null),
    reply,
  });
  muxes.push(m);
  return m;
}

describe("ssh logins with ProxyUseFdpass no", () => {
  test("over AF_UNIX: the proxy relays", async () => {
    const r = await runCommand(["ssh", "-F", relayCfg, `unix/${sshd.socket}`, "echo relayed-login"], { env: debugEnv });
    expect(r.stdout).toBe("relayed-login\n");
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("Relaying: STDOUT is not a socket.");
  });

  test("ProxyUseFdpass yes still gets the descriptor", async () => {
    const r = await runCommand(["ssh", "-F", fdpassCfg, `unix/${sshd.socket}`, "echo fdpass-login"], { env: debugEnv });
    expect(r.stdout).toBe("fdpass-login\n");
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("Successfully sent AF_UNIX socket via STDOUT.");
    expect(r.stderr).not.toContain("Relaying");
  });

  test.each(["ok", "ok-with-payload", "ok-split", "firecracker", "none"] as MuxReply[])(
    "over vsock-mux, multiplexer reply %s",
    async (reply) => {
      const m = await mux(reply);
      const r = await runCommand(["ssh", "-F", relayCfg, `vsock-mux${m.path}`, "echo mux-login"]);
      expect(r).toEqual({ code: 0, stdout: "mux-login\n", stderr: "" });
      expect(m.connects).toEqual(["CONNECT 22"]);
      expect(m.events).not.toContain("reset");
    },
  );

  test("over vsock-mux with nothing on the port: systemd's message, ssh fails", async () => {
    const m = await mux("close");
    const r = await runCommand(["ssh", "-F", relayCfg, `vsock-mux${m.path}`, "true"]);
    expect(r.code).toBe(255);
    expect(r.stderr).toContain(`Port 22 on ${m.path} is not open`);
  });

  test("over vsock-mux with an incomplete OK line: the proxy's message, ssh fails", async () => {
    const m = await mux("partial");
    const r = await runCommand(["ssh", "-F", relayCfg, `vsock-mux${m.path}`, "true"]);
    expect(r.code).toBe(255);
    expect(r.stderr).toContain(`Connection closed before full OK PORT response received from ${m.path}.`);
  });
});

describe("the fake multiplexer follows the daemon's rules (controls)", () => {
  test("a CONNECT line split over two writes closes the connection", async () => {
    const m = await mux("ok");
    const c = await connectUnix(m.path);
    const got = c.readToEnd();
    await c.write("CONN");
    await Bun.sleep(50);
    await c.write("ECT 22\n").catch(() => {});
    expect((await got).toString()).toBe("");
    expect(m.events).toContain("garbage");
  });

  test("bytes sent before the OK line reset the connection", async () => {
    const m = await mux("ok-split");
    const c = await connectUnix(m.path);
    const got = c.readToEnd();
    await c.write("connect 22\r\n");
    await Bun.sleep(20); // "OK 2" is out, "2\n" is not
    await c.write("SSH-2.0-eager\r\n");
    expect((await got).toString()).toBe("OK 2");
    expect(m.events).toContain("reset");
  });
});

// A deterministic pseudo-random stream (AES-CTR of zeros), generated on both sides, never held in memory.
const gen = (bytes: number) =>
  `openssl enc -aes-128-ctr -nosalt -K 000102030405060708090a0b0c0d0e0f -iv 00000000000000000000000000000000 < /dev/zero 2>/dev/null | head -c ${bytes}`;

async function sh(script: string, timeoutMs = 120_000): Promise<string> {
  const r = await runCommand(["sh", "-c", script], { timeoutMs });
  if (r.code !== 0) throw new Error(`${script}\nexit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

describe("bulk transfers, sha256 compared", () => {
  const MiB = 1 << 20;
  const expected = new Map<number, string>();
  const hashOf = async (bytes: number) => {
    if (!expected.has(bytes)) expected.set(bytes, (await sh(`${gen(bytes)} | sha256sum`)).split(" ")[0]!);
    return expected.get(bytes)!;
  };

  test("256 MiB each way over AF_UNIX", async () => {
    const bytes = 256 * MiB;
    const want = await hashOf(bytes);
    const host = `unix/${sshd.socket}`;
    const up = sh(`${gen(bytes)} | ssh -F ${relayCfg} ${host} sha256sum`);
    const down = sh(`ssh -F ${relayCfg} ${host} '${gen(bytes)}' | sha256sum`);
    expect((await up).split(" ")[0]).toBe(want);
    expect((await down).split(" ")[0]).toBe(want);
  }, 120_000);

  test("32 MiB each way over vsock-mux", async () => {
    const bytes = 32 * MiB;
    const want = await hashOf(bytes);
    const m = await mux("ok");
    const host = `vsock-mux${m.path}`;
    const up = sh(`${gen(bytes)} | ssh -F ${relayCfg} ${host} sha256sum`);
    const down = sh(`ssh -F ${relayCfg} ${host} '${gen(bytes)}' | sha256sum`);
    expect((await up).split(" ")[0]).toBe(want);
    expect((await down).split(" ")[0]).toBe(want);
  }, 60_000);
});

// Waiting for a booting VM: the retry policy (fake clock), and the real handshake against a multiplexer that
// behaves like vhost-device-vsock while the guest boots (accepts and closes at once), then answers OK.

import { afterAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { close } from "../../ffi/socket.ts";
import { parseWaitSeconds, retryUntilUp, type WaitClock } from "../../src/proxy/boot-wait.ts";
import { Failure } from "../../src/shared/failure.ts";
import { readAll, runFdpass } from "../helpers/fdpass.ts";
import { scriptedPeerSequence } from "../helpers/scripted-peer.ts";
import { ensureBuilt } from "../helpers/build.ts";
import { PROXY, REPO, removeDir, tempDir } from "../helpers/tmp.ts";

const BUN = join(REPO, "node_modules/.bin/bun");
const DRIVER = join(import.meta.dir, "boot-wait-driver.ts");

function fakeClock() {
  let t = 0;
  const sleeps: number[] = [];
  const clock: WaitClock = {
    now: () => t,
    sleep: async (ms) => {
      sleeps.push(ms);
      t += ms;
    },
  };
  return { clock, sleeps, advance: (ms: number) => (t += ms) };
}

const policy = (timeoutMs: number) => ({ timeoutMs, firstDelayMs: 50, maxDelayMs: 500 });
const notUp = (code = "ECONNRESET") => new Failure(`Failed: ${code}`, code);

describe("retry policy", () => {
  test("backoff doubles from 50 ms to 500 ms, then stays", async () => {
    const { clock, sleeps } = fakeClock();
    let n = 0;
    const r = await retryUntilUp(() => {
      if (++n < 9) throw notUp();
      return "up";
    }, policy(60_000), "x", { clock });
    expect(r).toBe("up");
    expect(sleeps).toEqual([50, 100, 200, 400, 500, 500, 500, 500]);
  });

  test("gives up at the deadline with one line naming the target, the time and the last error", async () => {
    const { clock, sleeps } = fakeClock();
    let n = 0;
    const p = retryUntilUp(() => {
      n++;
      throw new Failure("Port 22 on /x/hybrid.sock is not open", "ECONNREFUSED");
    }, policy(2000), "vsock-mux/x/hybrid.sock port 22", { clock });
    await expect(p).rejects.toThrow(
      /^Gave up waiting for vsock-mux\/x\/hybrid\.sock port 22 after 2s \(\d+ attempts\): Port 22 on \/x\/hybrid\.sock is not open$/,
    );
    // The sleeps add up to the deadline exactly: the last one is cut short, then one last attempt.
    expect(sleeps.reduce((a, b) => a + b, 0)).toBe(2000);
    expect(n).toBe(sleeps.length + 1);
    const err = await p.catch((e) => e);
    expect(err).toBeInstanceOf(Failure);
    expect(err.code).toBe("ETIMEDOUT");
  });

  test("slow attempts count against the deadline", async () => {
    const { clock, advance } = fakeClock();
    let n = 0;
    await expect(
      retryUntilUp(() => {
        n++;
        advance(1500); // e.g. a vsock connect timing out
        throw notUp("ETIMEDOUT");
      }, policy(3000), "vsock/3 port 22", { clock }),
    ).rejects.toThrow(/^Gave up waiting for vsock\/3 port 22 after 3s/);
    expect(n).toBe(2);
  });

  test("an error that waiting cannot fix is thrown at once, unchanged", async () => {
    const { clock, sleeps } = fakeClock();
    for (const code of ["EACCES", "EINVAL", "EIO", undefined]) {
      const e = new Failure("nope", code);
      await expect(retryUntilUp(() => { throw e; }, policy(60_000), "x", { clock })).rejects.toBe(e);
    }
    const plain = new Error("not a Failure");
    await expect(retryUntilUp(() => { throw plain; }, policy(60_000), "x", { clock })).rejects.toBe(plain);
    expect(sleeps).toEqual([]);
  });

  test("no wait (0): one attempt, its own error", async () => {
    const { clock } = fakeClock();
    const e = notUp("ENOENT");
    let n = 0;
    await expect(retryUntilUp(() => { n++; throw e; }, policy(0), "x", { clock })).rejects.toBe(e);
    expect(n).toBe(1);
  });

  test("what counts as not up yet: retried; anything else is thrown after one attempt", async () => {
    const attempts = async (e: unknown) => {
      let n = 0;
      const fail = () => {
        n++;
        throw e;
      };
      await retryUntilUp(fail, policy(100), "t", { clock: fakeClock().clock }).catch(() => {});
      return n;
    };
    for (const c of ["ENOENT", "ECONNREFUSED", "EPIPE", "ECONNRESET", "ETIMEDOUT", "ENODEV", "EHOSTUNREACH", "EAGAIN"]) {
      expect({ c, n: await attempts(new Failure("x", c)) }).toEqual({ c, n: 3 });
    }
    for (const c of ["EACCES", "EINVAL", "EIO", "EAFNOSUPPORT", "ENOTSOCK"]) expect({ c, n: await attempts(new Failure("x", c)) }).toEqual({ c, n: 1 });
    expect(await attempts(new Error("x"))).toBe(1);
  });

  test("wait times: seconds, fractions, an optional s; anything else is refused", () => {
    expect(parseWaitSeconds("30", "--wait")).toBe(30_000);
    expect(parseWaitSeconds("2.5", "--wait")).toBe(2500);
    expect(parseWaitSeconds("10s", "--wait")).toBe(10_000);
    expect(parseWaitSeconds("0", "--wait")).toBe(0);
    for (const bad of ["", "-1", "abc", "1min", "1e3", "NaN", "Infinity", "99999999999"]) {
      expect(() => parseWaitSeconds(bad, "SYSTEMD_SSH_PROXY_WAIT")).toThrow(/^Invalid wait time in SYSTEMD_SSH_PROXY_WAIT: /);
    }
  });
});

describe("waiting for a booting VM over vsock-mux (real handshake, separate process)", () => {
  const dir = tempDir("boot-wait");
  afterAll(() => removeDir(dir));
  let n = 0;
  const drive = (path: string, waitMs: number, port = "22", marker?: string) =>
    runFdpass([BUN, DRIVER, path, port, String(waitMs), ...(marker ? [marker] : [])], { timeoutMs: 30_000 });

  test("the multiplexer accepts and closes at once (guest driver not up), then answers OK", async () => {
    const path = join(dir, `mux-${n++}.sock`);
    const peer = scriptedPeerSequence(path, ["close-at-once", "close-at-once", "close-at-once", [{ write: "OK 22\nSSH-2.0-guest\r\n" }, "close"]]);
    try {
      const r = await drive(path, 20_000);
      expect(r.stderr).toBe("attempts=4\n");
      expect(r.code).toBe(0);
      expect(r.fd).not.toBeNull();
      expect(new TextDecoder().decode(readAll(r.fd!))).toBe("SSH-2.0-guest\r\n");
      close(r.fd!);
      // Each attempt sent its CONNECT line (or was closed before it could); the last one got the OK.
      expect(peer.connections.length).toBe(4);
      expect(peer.connections[3]).toBe("CONNECT 22\n");
    } finally {
      peer.stop();
    }
  });

  test("the socket does not exist yet (ENOENT), then appears", async () => {
    const path = join(dir, `mux-${n++}.sock`);
    const marker = `${path}.first-attempt-failed`;
    let peer: ReturnType<typeof scriptedPeerSequence> | undefined;
    // The socket appears only once the driver's first attempt has failed (it says so with the marker), not
    // after a fixed delay that a slow start on a busy machine can outlast.
    const later = (async () => {
      for (let i = 0; i < 2000 && !existsSync(marker); i++) await Bun.sleep(10);
      peer = scriptedPeerSequence(path, [[{ write: "OK 22\n" }, "close"]]);
    })();
    try {
      const r = await drive(path, 20_000, "22", marker);
      await later;
      expect(r.code).toBe(0);
      expect(existsSync(marker)).toBe(true);
      expect(Number(r.stderr.match(/attempts=(\d+)/)![1])).toBeGreaterThan(1);
      close(r.fd!);
    } finally {
      await later;
      peer?.stop();
    }
  });

  test("a port that never opens: a clear message after the wait, not before", async () => {
    const path = join(dir, `mux-${n++}.sock`);
    const peer = scriptedPeerSequence(path, ["close-at-once"]);
    try {
      const t0 = performance.now();
      const r = await drive(path, 1500);
      const ms = performance.now() - t0;
      expect(r.code).toBe(1);
      expect(r.fd).toBeNull();
      const [line] = r.stderr.split("\n");
      expect(line).toMatch(
        new RegExp(`^Gave up waiting for vsock-mux/${path.replace(/[./]/g, "\\$&")} port 22 after 1\\.5s \\(\\d+ attempts\\): `),
      );
      // The last error is one of the "not up yet" shapes of an accept-and-close peer.
      expect(line).toMatch(/(is not open|Broken pipe|Connection reset by peer)$/);
      expect(ms).toBeGreaterThan(1400);
      expect(ms).toBeLessThan(15_000);
      expect(peer.connections.length).toBeGreaterThan(3);
    } finally {
      peer.stop();
    }
  });

  test("a malformed reply is final at once: no retry", async () => {
    const path = join(dir, `mux-${n++}.sock`);
    const peer = scriptedPeerSequence(path, [[{ write: "OK 2" }, { sleep: 50 }, "close"]]);
    try {
      const r = await drive(path, 20_000);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`Connection closed before full OK PORT response received from ${path}.\nattempts=1\n`);
      expect(peer.connections.length).toBe(1);
    } finally {
      peer.stop();
    }
  });
});

describe("systemd-ssh-proxy --wait=SECONDS and $SYSTEMD_SSH_PROXY_WAIT", () => {
  const dir = tempDir("boot-wait-bin");
  afterAll(() => removeDir(dir));
  let n = 0;
  const env = (extra: Record<string, string> = {}) => {
    const e: Record<string, string | undefined> = { ...process.env, ...extra };
    if (!("SYSTEMD_SSH_PROXY_WAIT" in extra)) delete e.SYSTEMD_SSH_PROXY_WAIT;
    return e;
  };

  test("the binary waits through a booting multiplexer and hands over the socket", async () => {
    await ensureBuilt();
    const path = join(dir, `mux-${n++}.sock`);
    const peer = scriptedPeerSequence(path, ["close-at-once", "close-at-once", [{ write: "OK 22\nSSH-2.0-guest\r\n" }, "close"]]);
    try {
      const r = await runFdpass([PROXY, "--wait=20", `vsock-mux${path}`, "22"], { env: env() });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(new TextDecoder().decode(readAll(r.fd!))).toBe("SSH-2.0-guest\r\n");
      close(r.fd!);
      expect(peer.connections.length).toBe(3);
    } finally {
      peer.stop();
    }
  });

  test("the environment variable does the same for ssh_config use; without either, no retry", async () => {
    await ensureBuilt();
    const path = join(dir, `mux-${n++}.sock`);
    let peer = scriptedPeerSequence(path, ["close-at-once", [{ write: "OK 22\n" }, "close"]]);
    try {
      const r = await runFdpass([PROXY, `vsock-mux${path}`, "22"], { env: env({ SYSTEMD_SSH_PROXY_WAIT: "20" }) });
      expect(r.code).toBe(0);
      close(r.fd!);
      expect(peer.connections.length).toBe(2);
    } finally {
      peer.stop();
    }
    peer = scriptedPeerSequence(path, ["close-at-once", [{ write: "OK 22\n" }, "close"]]);
    try {
      const r = await runFdpass([PROXY, `vsock-mux${path}`, "22"], { env: env() });
      // What an accept-and-close peer looks like without waiting: EOF, or a reset if our CONNECT was unread.
      expect(r.stderr).toMatch(/^(Port 22 on .* is not open|Failed to (receive OK from|send CONNECT to) .*: (Connection reset by peer|Broken pipe))\n$/);
      expect(r.code).toBe(1);
      expect(peer.connections.length).toBe(1);
    } finally {
      peer.stop();
    }
  });

  test("the socket never appears: one clear line after the wait; a bad value is refused at once", async () => {
    await ensureBuilt();
    const path = join(dir, "never.sock");
    const t0 = performance.now();
    const r = await runFdpass([PROXY, "--wait=1", `unix${path}`, "22"], { env: env() });
    expect(performance.now() - t0).toBeGreaterThan(900);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`^Gave up waiting for unix${path.replace(/[./]/g, "\\$&")} port 22 after 1s \\(\\d+ attempts\\): Failed to connect to AF_UNIX socket ${path.replace(/[./]/g, "\\$&")}: No such file or directory\n$`),
    );
    const bad = await runFdpass([PROXY, `unix${path}`, "22"], { env: env({ SYSTEMD_SSH_PROXY_WAIT: "-3" }) });
    expect(bad.stderr).toBe('Invalid wait time in $SYSTEMD_SSH_PROXY_WAIT: "-3" (expected seconds, e.g. 30 or 2.5).\n');
    expect(bad.code).toBe(1);
  });
});

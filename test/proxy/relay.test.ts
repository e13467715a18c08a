// Relay mode of dist/systemd-ssh-proxy against plain AF_UNIX servers: the exact half-close rules, no byte
// lost or reordered (random data, sha256), backpressure both ways, vanished peers, the fallbacks
// (regular files, O_APPEND), and the vsock-mux rule that EOF on stdin is not passed on.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as io from "../../ffi/io.ts";
import { close as closeFd } from "../../ffi/socket.ts";
import { socketpair } from "../../ffi/test-sockets.ts";
import { startFakeVsockMux } from "../helpers/fake-vsock-mux.ts";
import { random, readAll, sha256, spawnPiped, writeAll } from "../helpers/relay.ts";
import { PROXY, removeDir, tempDir } from "../helpers/tmp.ts";
import { type Conn, connectUnix, listenUnix } from "../helpers/unix-conn.ts";

let dir: string;
beforeAll(() => {
  dir = tempDir("relay");
});
afterAll(() => removeDir(dir));

let n = 0;
const sockPath = () => join(dir, `s${n++}.sock`);

describe("half-close", () => {
  test("EOF on stdin shuts the socket's write side; the reply after it still arrives in full", async () => {
    const path = sockPath();
    const request = random(8 << 20);
    const reply = random(3 << 20);
    const srv = listenUnix(path, async (s: Conn) => {
      const got = await s.readToEnd(); // EOF only arrives if the proxy shut its write side down
      await s.end(Buffer.concat([Buffer.from(`${sha256(got)}\n`), reply]));
    });
    const p = spawnPiped(["unix/" + path, "22"]);
    const out = readAll(p.stdout);
    await writeAll(p.stdin, request);
    p.stdin.end();
    const got = await out;
    expect(got.subarray(0, 65).toString()).toBe(`${sha256(request)}\n`);
    expect(sha256(got.subarray(65))).toBe(sha256(reply));
    expect(await p.exited).toBe(0);
    expect(await p.stderr).toBe("");
    srv.stop();
  });

  test("EOF from the socket closes stdout while stdin stays open; later input still gets through", async () => {
    const path = sockPath();
    const first = random(4 << 20);
    const later = random(2 << 20);
    let serverGot: Promise<Buffer> | undefined;
    const srv = listenUnix(path, (s: Conn) => {
      serverGot = s.readToEnd();
      void s.end(first); // half-close: the server keeps reading
    });
    const p = spawnPiped(["unix/" + path, "22"]);
    const out = await readAll(p.stdout); // EOF on stdout while we have not closed stdin
    expect(sha256(out)).toBe(sha256(first));
    await writeAll(p.stdin, later);
    p.stdin.end();
    expect(await p.exited).toBe(0);
    expect(sha256(await serverGot!)).toBe(sha256(later));
    expect(await p.stderr).toBe("");
    srv.stop();
  });

  test("vsock-mux: EOF on stdin is NOT passed on (a real multiplexer would cut the reply off)", async () => {
    const guestPath = sockPath();
    const reply = random(2 << 20);
    const request = random(1 << 20);
    let guestGot = 0;
    const guest = listenUnix(guestPath, (s: Conn) => {
      s.on("data", (d: Buffer) => {
        guestGot += d.length;
        // Reply once the whole request is in, a moment after the host's stdin has hit EOF.
        if (guestGot === request.length) setTimeout(() => void s.end(reply), 200);
      });
    });
    const mux = await startFakeVsockMux({ path: sockPath(), guest: (port) => (port === 22 ? guestPath : null) });
    const p = spawnPiped([`vsock-mux${mux.path}`, "22"]);
    const out = readAll(p.stdout);
    await writeAll(p.stdin, request);
    p.stdin.end();
    expect(sha256(await out)).toBe(sha256(reply));
    expect(await p.exited).toBe(0);
    expect(await p.stderr).toBe("");
    expect(mux.connects).toEqual(["CONNECT 22"]);
    // The host side ended only after the guest had: we never half-closed.
    expect(mux.events.indexOf("guest-eof")).toBeGreaterThan(0);
    expect(mux.events.indexOf("host-eof")).toBeGreaterThan(mux.events.indexOf("guest-eof"));
    expect(mux.events).not.toContain("abort");
    mux.stop();
    guest.stop();
  });

  test("the fake multiplexer does cut the reply off after a host-side half-close (control)", async () => {
    const guestPath = sockPath();
    const guest = listenUnix(guestPath, (s: Conn) => {
      s.on("data", () => {});
      s.on("end", () => setTimeout(() => void s.end("too late\n").catch(() => {}), 100));
    });
    const mux = await startFakeVsockMux({ path: sockPath(), guest: () => guestPath });
    // A client that half-closes after the OK line, as the proxy does on AF_UNIX connections.
    const host = await connectUnix(mux.path);
    const received = host.readToEnd();
    await host.write("CONNECT 22\n");
    while (!mux.events.includes("ok")) await Bun.sleep(5);
    await host.end();
    expect((await received).toString()).toBe("OK 22\n"); // "too late" never arrives
    expect(mux.events).toContain("abort");
    mux.stop();
    guest.stop();
  });
});

describe("no byte lost under backpressure", () => {
  test("a client that reads slowly gets every byte in order", async () => {
    const path = sockPath();
    const data = random(24 << 20);
    const srv = listenUnix(path, (s: Conn) => {
      s.on("data", () => {});
      void s.end(data);
    });
    const p = spawnPiped(["unix/" + path, "22"]);
    p.stdin.end();
    let chunks = 0;
    const parts: Buffer[] = [];
    for await (const c of p.stdout) {
      parts.push(c as Buffer);
      if (chunks++ % 4 === 0) await Bun.sleep(2);
    }
    expect(sha256(Buffer.concat(parts))).toBe(sha256(data));
    expect(await p.exited).toBe(0);
    srv.stop();
  });

  test("a server that reads slowly gets every byte in order", async () => {
    const path = sockPath();
    const data = random(24 << 20);
    let got: Promise<Buffer> | undefined;
    const srv = listenUnix(path, (s: Conn) => {
      got = s.readToEnd(1);
      void got.then(() => s.end());
    });
    const p = spawnPiped(["unix/" + path, "22"]);
    const out = readAll(p.stdout);
    await writeAll(p.stdin, data, 1 << 16);
    p.stdin.end();
    expect((await out).length).toBe(0);
    expect(await p.exited).toBe(0);
    expect(sha256(await got!)).toBe(sha256(data));
    srv.stop();
  });
});

describe("vanished peers end quietly", () => {
  test("the client closes stdout while data is coming: no error, no stack trace", async () => {
    const path = sockPath();
    const srv = listenUnix(path, (s: Conn) => {
      s.on("data", () => {});
      const chunk = Buffer.alloc(1 << 20, 1);
      void (async () => {
        while (!s.closed) await s.write(chunk).catch(() => {});
      })();
    });
    const p = spawnPiped(["unix/" + path, "22"]);
    for await (const _ of p.stdout) break; // read a little, then go away
    p.stdout.destroy();
    await Bun.sleep(100);
    p.stdin.end();
    expect(await p.exited).toBe(0);
    expect(await p.stderr).toBe("");
    srv.stop();
  });

  test("the server resets the connection while the client writes: what it sent is delivered, then EOF", async () => {
    const path = sockPath();
    const srv = listenUnix(path, (s: Conn) => {
      let first = true;
      s.on("data", () => {
        if (!first) return;
        first = false;
        void s.write("bye\n").then(() => s.destroy());
      });
    });
    const p = spawnPiped(["unix/" + path, "22"]);
    const out = readAll(p.stdout);
    const chunk = random(1 << 20);
    // Keep writing until the proxy stops reading stdin (its socket side is gone) or we have sent plenty.
    for (let i = 0; i < 64 && p.proc.exitCode === null; i++) {
      if (!p.stdin.write(chunk)) await Promise.race([new Promise((r) => p.stdin.once("drain", r)), Bun.sleep(200)]);
    }
    p.stdin.end();
    expect((await out).toString()).toBe("bye\n");
    expect(await p.exited).toBe(0);
    expect(await p.stderr).toBe("");
    srv.stop();
  });
});

describe("descriptors splice cannot handle", () => {
  test("a regular file on stdin and an O_APPEND file on stdout (copy fallback)", async () => {
    const path = sockPath();
    const srv = listenUnix(path, (s: Conn) => {
      // Echo, passing EOF on.
      s.on("data", (c) => {
        s.pause();
        void s.write(c).then(() => s.resume());
      });
      s.on("end", () => void s.end());
    });
    const input = random(3 << 20);
    const inFile = join(dir, "in.bin");
    const outFile = join(dir, "out.bin");
    writeFileSync(inFile, input);
    writeFileSync(outFile, "head:");
    const inFd = openSync(inFile, "r");
    const outFd = openSync(outFile, "a");
    const p = Bun.spawn([PROXY, "unix/" + path, "22"], { stdin: inFd, stdout: outFd, stderr: "pipe" });
    closeSync(inFd);
    closeSync(outFd);
    expect(await p.exited).toBe(0);
    expect(await new Response(p.stderr).text()).toBe("");
    const out = readFileSync(outFile);
    expect(out.subarray(0, 5).toString()).toBe("head:");
    expect(sha256(out.subarray(5))).toBe(sha256(input));
    srv.stop();
  });

  test("a real failure (stdin is a directory) is one clear line and exit status 1", async () => {
    const path = sockPath();
    const srv = listenUnix(path, (s: Conn) => void s.on("data", () => {}));
    const dirFd = openSync(dir, "r");
    // (--relay: Bun gives a child a socketpair for "pipe", which would otherwise get the descriptor.)
    const p = Bun.spawn([PROXY, "--relay", "unix/" + path, "22"], { stdin: dirFd, stdout: "pipe", stderr: "pipe" });
    closeSync(dirFd);
    expect(await p.exited).toBe(1);
    expect(await new Response(p.stderr).text()).toBe("Failed to relay STDIN to the AF_UNIX socket: Is a directory\n");
    srv.stop();
  });
});

// Go's x/crypto/ssh and JSch close both of the proxy's pipes when they are done. Toward a peer that does
// not close on our EOF, and over vsock-mux (where we pass no EOF on), the relay must end by itself then.
describe("a client that has gone ends the relay", () => {
  /** How the proxy ended within `ms`, or "still running" (then it is killed). */
  async function endedWithin(p: Bun.Subprocess, ms: number): Promise<number | "still running"> {
    const r = await Promise.race([p.exited, Bun.sleep(ms).then(() => "still running" as const)]);
    if (r === "still running") p.kill("SIGKILL");
    return r;
  }

  /** A peer that reads what comes and never closes its side, not even at EOF. */
  function neverCloses(path: string) {
    const conns: Conn[] = [];
    const srv = listenUnix(path, (s: Conn) => {
      conns.push(s);
      s.on("data", () => {});
    });
    return { stop: () => (conns.forEach((c) => c.destroy()), srv.stop()) };
  }

  /** Spawn with raw pipes on stdin and stdout: [proc, our stdin write end, our stdout read end]. */
  function spawnRaw(args: string[]): [Bun.Subprocess<number, number, "pipe">, number, number] {
    const [inR, inW] = io.pipe(false);
    const [outR, outW] = io.pipe(false);
    const proc = Bun.spawn([PROXY, ...args], { stdin: inR, stdout: outW, stderr: "pipe" });
    closeFd(inR);
    closeFd(outW);
    return [proc, inW, outR];
  }

  test("unix: both pipes closed, the peer never closes: the proxy exits", async () => {
    const path = sockPath();
    const peer = neverCloses(path);
    const [p, inW, outR] = spawnRaw(["unix/" + path, "22"]);
    await Bun.sleep(200); // relaying
    closeFd(inW);
    closeFd(outR);
    expect(await endedWithin(p, 10000)).toBe(0);
    expect(await new Response(p.stderr).text()).toBe("");
    peer.stop();
  });

  test("vsock-mux: both pipes closed, the guest never closes: the proxy exits", async () => {
    const guestPath = sockPath();
    const guest = neverCloses(guestPath);
    const mux = await startFakeVsockMux({ path: sockPath(), guest: (port) => (port === 22 ? guestPath : null) });
    const [p, inW, outR] = spawnRaw([`vsock-mux${mux.path}`, "22"]);
    await Bun.sleep(200);
    closeFd(inW);
    closeFd(outR);
    expect(await endedWithin(p, 10000)).toBe(0);
    expect(await new Response(p.stderr).text()).toBe("");
    mux.stop();
    guest.stop();
  });

  test("a socketpair on stdio (libssh) closed by the client: the proxy exits", async () => {
    const path = sockPath();
    const peer = neverCloses(path);
    const [ours, theirs] = socketpair();
    const p = Bun.spawn([PROXY, "--relay", "unix/" + path, "22"], { stdin: theirs, stdout: theirs, stderr: "pipe" });
    closeFd(theirs);
    await Bun.sleep(200);
    closeFd(ours);
    expect(await endedWithin(p, 10000)).toBe(0);
    expect(await new Response(p.stderr).text()).toBe("");
    peer.stop();
  });

  test("stdin closed but stdout still read: the relay goes on, a late reply arrives", async () => {
    const guestPath = sockPath();
    const guest = listenUnix(guestPath, (s: Conn) => {
      // Never closes; answers a while after the host's stdin has hit EOF.
      s.on("data", () => void setTimeout(() => void s.write("late reply\n"), 500));
    });
    const mux = await startFakeVsockMux({ path: sockPath(), guest: (port) => (port === 22 ? guestPath : null) });
    const [p, inW, outR] = spawnRaw([`vsock-mux${mux.path}`, "22"]);
    io.writeFrom(inW, new TextEncoder().encode("hello\n"), 0, 6);
    closeFd(inW);
    // Our end only (its own open file description): read without blocking this process's event loop.
    io.setStatusFlags(outR, io.getStatusFlags(outR) | io.O_NONBLOCK);
    const buf = new Uint8Array(new ArrayBuffer(64));
    let got = "";
    for (let i = 0; i < 100 && !got.includes("\n"); i++) {
      const n = io.readInto(outR, buf, buf.length);
      if (n > 0) got += new TextDecoder().decode(buf.subarray(0, n));
      else await Bun.sleep(50);
    }
    expect(got).toBe("late reply\n");
    expect(p.exitCode).toBeNull(); // still relaying: the client may read on
    closeFd(outR);
    expect(await endedWithin(p, 10000)).toBe(0);
    mux.stop();
    guest.stop();
  });
});

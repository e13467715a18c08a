// Fd-passing or relaying, decided from what the caller put on stdin/stdout (src/proxy/transport.ts), and
// the command-line options that force one.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { close, sendAll, setRecvTimeout, SHUT_WR, shutdown, SOL_SOCKET } from "../../ffi/socket.ts";
import { recvFd, setIntOption, socketpair } from "../../ffi/test-sockets.ts";
import { bytes } from "../../src/shared/raw-bytes.ts";
import { mapsFile, mapsLibssh } from "../../src/proxy/transport.ts";
import { runFdpass } from "../helpers/fdpass.ts";
import { readAll, spawnPiped } from "../helpers/relay.ts";
import { PROXY, removeDir, tempDir } from "../helpers/tmp.ts";

let dir: string;
let echo: Bun.Subprocess;
let sock: string;
beforeAll(async () => {
  dir = tempDir("relay-detect");
  sock = join(dir, "echo.sock");
  // A separate process: the tests below block on their own socket ends.
  echo = Bun.spawn(["socat", `UNIX-LISTEN:${sock},fork`, "EXEC:cat"], { stdout: "ignore", stderr: "ignore" });
  while (!existsSync(sock)) await Bun.sleep(5);
});
afterAll(async () => {
  echo.kill();
  await echo.exited;
  removeDir(dir);
});

const debug = { ...process.env, SYSTEMD_LOG_LEVEL: "debug" };

/** Run the proxy with ONE socket on stdin and stdout (OpenSSH's and libssh's way); `before` is written first. */
async function onSocketpair(args: string[], before: string, opts: { passRights?: boolean; eof?: boolean } = {}) {
  const [ours, theirs] = socketpair();
  if (opts.passRights === false) setIntOption(ours, SOL_SOCKET, SO_PASSRIGHTS, 0);
  if (before) sendAll(ours, new TextEncoder().encode(before));
  const p = Bun.spawn([PROXY, ...args], { stdin: theirs, stdout: theirs, stderr: "pipe", env: debug });
  close(theirs);
  if (opts.eof) shutdown(ours, SHUT_WR); // EOF is no byte: it does not count as the peer speaking
  setRecvTimeout(ours, { sec: 10, usec: 0 });
  const r = recvFd(ours, 4096); // blocks until the descriptor, or the echoed bytes, arrive
  if (r.fd !== null) close(r.fd);
  close(ours); // EOF on the proxy's stdin, if it relays
  const [code, stderr] = await Promise.all([p.exited, new Response(p.stderr).text()]);
  return { code, stderr, gotFd: r.fd !== null, data: new TextDecoder().decode(r.data) };
}

const SO_PASSRIGHTS = 83; // Linux 6.16+
function kernelHasPassRights(): boolean {
  const [a, b] = socketpair();
  try {
    setIntOption(a, SOL_SOCKET, SO_PASSRIGHTS, 1);
    return true;
  } catch {
    return false;
  } finally {
    close(a);
    close(b);
  }
}

describe("automatic choice", () => {
  test("pipes (OpenSSH with ProxyUseFdpass no, Paramiko, Go, PuTTY): relay", async () => {
    const p = spawnPiped([`unix/${sock}`, "22"], debug);
    const out = readAll(p.stdout);
    p.stdin.end("SSH-2.0-Test\r\n");
    expect((await out).toString()).toBe("SSH-2.0-Test\r\n");
    expect(await p.exited).toBe(0);
    expect(await p.stderr).toContain("Relaying: STDOUT is not a socket.");
  });

  test("one silent socketpair on stdin and stdout (OpenSSH with ProxyUseFdpass yes): the descriptor, as systemd", async () => {
    const r = await runFdpass([PROXY, `unix/${sock}`, "22"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.fd).not.toBeNull();
    expect(r.stdout).toEqual(new Uint8Array([0]));
    // It is the connection to the echo server.
    sendAll(r.fd!, new TextEncoder().encode("ping\n"));
    expect(new TextDecoder().decode(recvFd(r.fd!, 16).data)).toBe("ping\n");
    close(r.fd!);
  });

  test("one socketpair with the client's banner already on it (libssh): relay", async () => {
    const r = await onSocketpair([`unix/${sock}`, "22"], "SSH-2.0-libssh_0.10.6\r\n");
    expect(r).toMatchObject({ code: 0, gotFd: false, data: "SSH-2.0-libssh_0.10.6\r\n" });
    expect(r.stderr).toContain("Relaying: the peer already sent 23 bytes on STDIN.");
  });

  test("two different socketpairs (Node.js and Bun child processes): relay", async () => {
    const p = Bun.spawn([PROXY, `unix/${sock}`, "22"], { stdin: "pipe", stdout: "pipe", stderr: "pipe", env: debug });
    p.stdin.write("SSH-2.0-ssh2js\r\n");
    await p.stdin.end();
    expect(await new Response(p.stdout).text()).toBe("SSH-2.0-ssh2js\r\n");
    expect(await p.exited).toBe(0);
    expect(await new Response(p.stderr).text()).toContain("Relaying: STDIN and STDOUT are two different sockets.");
  });

  test.skipIf(!kernelHasPassRights())("a socket whose peer refuses descriptors (SO_PASSRIGHTS off): relay", async () => {
    // The relay passes our EOF on to the echo server, which closes; we see EOF, no descriptor, no NUL.
    const r = await onSocketpair([`unix/${sock}`, "22"], "", { passRights: false, eof: true });
    expect(r.gotFd).toBe(false);
    expect(r.data).toBe("");
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("STDOUT cannot take the socket (Operation not permitted), relaying instead.");
  });

  test("a libssh client is recognised by its mapped library even before it speaks", () => {
    const fake = join(dir, "libssh.so.4");
    copyFileSync(["/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/x86_64-linux-gnu/libz.so.1", "/lib64/libz.so.1", "/usr/lib64/libz.so.1"].find(existsSync)!, fake);
    const withLib = Bun.spawn(["sleep", "5"], { env: { ...process.env, LD_PRELOAD: fake } });
    const without = Bun.spawn(["sleep", "5"]);
    try {
      // Give the loader a moment to map it.
      Bun.sleepSync(200);
      expect(mapsLibssh(withLib.pid)).toBe(true);
      expect(mapsLibssh(without.pid)).toBe(false);
      expect(mapsLibssh(process.pid)).toBe(false);
    } finally {
      withLib.kill();
      without.kill();
    }
  });
});

describe("mapsFile: which /proc/PID/maps lines name libssh", () => {
  const line = (path: string) => `7f1c2a000000-7f1c2a050000 r-xp 00000000 fe:00 1234   ${path}\n`;
  const cases: Array<[string, boolean]> = [
    ["/usr/lib/x86_64-linux-gnu/libssh.so.4.9.4", true],
    ["/opt/lib/libssh.so", true],
    ["/usr/lib/x86_64-linux-gnu/libssh-gcrypt.so.4", true],
    ["/usr/lib/x86_64-linux-gnu/libssh2.so.1.0.1", false],
    ["/usr/lib/libssh.sock", false],
    ["/usr/lib/x86_64-linux-gnu/libsshfoo.so.1", false],
    ["/usr/lib/x86_64-linux-gnu/libz.so.1", false],
  ];
  for (const [path, found] of cases) {
    test(`${path}: ${found}`, () => {
      const maps = bytes(line("/usr/bin/ssh") + line(path) + line("[stack]"));
      expect(mapsFile(maps, "/libssh.so") || mapsFile(maps, "/libssh-gcrypt.so")).toBe(found);
    });
  }
  test("at the very end of the text, without a newline", () => {
    expect(mapsFile(bytes("... /usr/lib/libssh.so"), "/libssh.so")).toBe(false);
  });
});

describe("--relay and --fdpass", () => {
  test("--relay relays even on a socket that could take the descriptor", async () => {
    const r = await onSocketpair(["--relay", `unix/${sock}`, "22"], "hello\n");
    expect(r).toMatchObject({ code: 0, gotFd: false, data: "hello\n" });
  });

  test("--fdpass on a pipe fails with systemd's message", async () => {
    const p = spawnPiped(["--fdpass", `unix/${sock}`, "22"]);
    p.stdin.end();
    expect((await readAll(p.stdout)).length).toBe(0);
    expect(await p.exited).toBe(1);
    expect(await p.stderr).toBe("Failed to send socket via STDOUT: Socket operation on non-socket\n");
  });

  test("--fdpass sends the descriptor even when bytes are waiting", async () => {
    const r = await onSocketpair(["--fdpass", `unix/${sock}`, "22"], "SSH-2.0-x\r\n");
    expect(r.gotFd).toBe(true);
    expect(r.code).toBe(0);
  });
});

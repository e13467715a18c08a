// vsock-mux/PATH: the CONNECT/OK handshake against a peer that plays each reply pattern real multiplexers
// (and broken ones) produce. The proxy runs as ssh runs it: a separate process, descriptor over a socketpair.

import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { close, getRecvTimeout } from "../../ffi/socket.ts";
import { readAll, runFdpass } from "../helpers/fdpass.ts";
import { scriptedPeer, type Step } from "../helpers/scripted-peer.ts";
import { PROXY, removeDir, tempDir } from "../helpers/tmp.ts";

const dir = tempDir("vsock-mux");
afterAll(() => removeDir(dir));
let n = 0;

async function handshake(script: Step[], port = "22") {
  const path = join(dir, `mux-${n++}.sock`);
  const peer = scriptedPeer(path, script);
  try {
    const r = await runFdpass([PROXY, `vsock-mux${path}`, port]);
    let rest = "";
    let timeout = null;
    if (r.fd !== null) {
      timeout = getRecvTimeout(r.fd);
      await peer.done;
      rest = new TextDecoder().decode(readAll(r.fd));
      close(r.fd);
    }
    return { ...r, path, rest, timeout, received: peer.received };
  } finally {
    peer.stop();
  }
}

describe("vsock-mux handshake", () => {
  test("CONNECT goes out as one line in one write; OK in the same packet as the payload", async () => {
    const r = await handshake([{ write: "OK 22\nSSH-2.0-guest\r\n" }, "close"]);
    expect(r.received[0]).toBe("CONNECT 22\n");
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(Array.from(r.stdout)).toEqual([0]);
    expect(r.rest).toBe("SSH-2.0-guest\r\n");
  });

  test("the port argument is sent as given", async () => {
    const r = await handshake([{ write: "OK 2222\n" }, "close"], "2222");
    expect(r.received[0]).toBe("CONNECT 2222\n");
    expect(r.code).toBe(0);
  });

  test("OK split over two writes", async () => {
    const r = await handshake([{ write: "OK " }, { sleep: 100 }, { write: "22\nhello" }, "close"]);
    expect(r.code).toBe(0);
    expect(r.rest).toBe("hello");
  });

  test("OK split inside the number", async () => {
    const r = await handshake([{ write: "OK 2" }, { sleep: 100 }, { write: "2\n" }, { sleep: 50 }, { write: "after" }, "close"]);
    expect(r.code).toBe(0);
    expect(r.rest).toBe("after");
  });

  test("Firecracker's long OK line is consumed, not leaked into the SSH stream (systemd leaks it)", async () => {
    const r = await handshake([{ write: "OK 1073741824\nSSH-2.0-guest\r\n" }, "close"]);
    expect(r.code).toBe(0);
    expect(r.rest).toBe("SSH-2.0-guest\r\n");
  });

  test("the longest OK line, OK 4294967295, is consumed", async () => {
    const r = await handshake([{ write: "OK 4294967295\nX" }, "close"]);
    expect(r.rest).toBe("X");
  });

  test("a 32-bit OK line split after systemd's 9 bytes is consumed (262 passes it on)", async () => {
    const r = await handshake([{ write: "OK 429496" }, { sleep: 200 }, { write: "7295\nX" }, "close"]);
    expect([r.code, r.stderr, r.rest]).toEqual([0, "", "X"]);
  });

  test("a 32-bit OK line split before systemd's 9 bytes is consumed (262 fails)", async () => {
    const r = await handshake([{ write: "OK 42" }, { sleep: 200 }, { write: "94967295\nX" }, "close"]);
    expect([r.code, r.stderr, r.rest]).toEqual([0, "", "X"]);
  });

  test("a long OK line trickling in a byte at a time is consumed", async () => {
    const bytes = [..."OK 1073741824\n"].flatMap((c) => [{ write: c }, { sleep: 30 }]);
    const r = await handshake([...bytes, { write: "X" }, "close"]);
    expect([r.code, r.stderr, r.rest]).toEqual([0, "", "X"]);
  });

  test("an OK line with a port over 32 bits is passed on untouched", async () => {
    const r = await handshake([{ write: "OK 4294967296\nX" }, "close"]);
    expect([r.code, r.rest]).toEqual([0, "OK 4294967296\nX"]);
  });

  test("a multiplexer that sends no OK line gets its bytes passed through untouched", async () => {
    const r = await handshake([{ write: "SSH-2.0-direct\r\n" }, "close"]);
    expect(r.code).toBe(0);
    expect(r.rest).toBe("SSH-2.0-direct\r\n");
  });

  test("an overlong line that never ends within the limit is passed through untouched", async () => {
    const r = await handshake([{ write: "OK 123456789012345\nZ" }, "close"]);
    expect(r.code).toBe(0);
    expect(r.rest).toBe("OK 123456789012345\nZ");
  });

  test("closed before any byte: the port is not open", async () => {
    const r = await handshake(["close"], "2200");
    expect(r.code).toBe(1);
    expect(r.fd).toBeNull();
    expect(r.stdout.length).toBe(0);
    expect(r.stderr).toBe(`Port 2200 on ${r.path} is not open\n`);
  });

  test("closed in the middle of the OK line", async () => {
    const r = await handshake([{ write: "OK 2" }, "close"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`Connection closed before full OK PORT response received from ${r.path}.\n`);
  });

  test("garbage after part of the OK line was consumed", async () => {
    const r = await handshake([{ write: "OK" }, { sleep: 100 }, { write: "X22\n" }, "close"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`Received invalid response while waiting for OK PORT from ${r.path}\n`);
  });

  test("silence: after 5 s the socket is passed on untouched, with its receive timeout restored", async () => {
    const r = await handshake([{ sleep: 5600 }, { write: "late bytes" }, "close"]);
    expect(r.code).toBe(0);
    expect(r.timeout).toEqual({ sec: 0, usec: 0 });
    expect(r.rest).toBe("late bytes");
  }, 15000);

  test("a socket that is not there", async () => {
    const r = await runFdpass([PROXY, `vsock-mux${dir}/missing.sock`, "22"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`Failed to connect to AF_UNIX socket ${dir}/missing.sock: No such file or directory\n`);
  });
});

// Socket paths and other arguments that are not UTF-8 reach the kernel, and our messages, byte for byte,
// as with systemd 262 (Bun alone would decode argv as UTF-8 and re-encode it, changing such bytes).
// Arguments go through printf(1): Bun cannot put non-UTF-8 bytes into argv itself.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { close, recv, sendAll } from "../../ffi/socket.ts";
import { accept, listenUnix } from "../../ffi/test-sockets.ts";
import { runFdpass } from "../helpers/fdpass.ts";
import { requireReference } from "../helpers/reference.ts";
import { printfArg, shQuote } from "../helpers/shell.ts";
import { PROXY, removeDir, tempDir } from "../helpers/tmp.ts";

const ref = requireReference("262");
const dir = tempDir("proxy-bytes");
afterAll(() => removeDir(dir));

// Invalid UTF-8 (\xff), valid UTF-8 (é), and a truncated sequence (\xe2\x82), in one name.
const NAME = "-\xff-\xc3\xa9-\xe2\x82";
const latin1 = (b: Uint8Array) => Buffer.from(b).toString("latin1");

async function run(bin: string, args: string[]) {
  const words = args.map((a) => `"$(printf '${printfArg(a)}')"`).join(" ");
  const r = await runFdpass(["/bin/sh", "-c", `exec ${shQuote(bin)} ${words}`]);
  return { code: r.code, stderr: latin1(r.stderrBytes), stdout: Array.from(r.stdout), fd: r.fd };
}

describe.skipIf(!ref)("non-UTF-8 arguments, like systemd 262", () => {
  const sub = `${dir}/sub${NAME}`;
  mkdirSync(Buffer.from(sub, "latin1"));
  const sock = `${sub}/s${NAME}.sock`;
  const listener = listenUnix(Buffer.from(sock, "latin1"));
  afterAll(() => close(listener));

  test("the socket with that very name is the one connected", async () => {
    for (const bin of [ref!.tool("systemd-ssh-proxy"), PROXY]) {
      const r = await run(bin, [`unix${sock}`, "22"]);
      expect({ bin, code: r.code, stderr: r.stderr, stdout: r.stdout }).toEqual({ bin, code: 0, stderr: "", stdout: [0] });
      // Prove it by talking through the listener we made with those bytes.
      const peer = accept(listener);
      sendAll(peer, new TextEncoder().encode("hello"));
      expect(new TextDecoder().decode(recv(r.fd!, 16))).toBe("hello");
      close(peer);
      close(r.fd!);
    }
  });

  const failing: [string, string[]][] = [
    ["a missing socket is named byte for byte", [`unix${sub}/missing${NAME}`, "22"]],
    ["vsock-mux: a missing socket", [`vsock-mux${sub}/mux${NAME}`, "22"]],
    ["an unknown scheme", [`x${NAME}/y`, "22"]],
    ["a bad vsock cid", [`vsock/${NAME}`, "22"]],
    ["a bad vsock port", ["vsock/3", NAME]],
  ];
  for (const [name, args] of failing) {
    test(name, async () => {
      const theirs = await run(ref!.tool("systemd-ssh-proxy"), args);
      const ours = await run(PROXY, args);
      expect(ours).toEqual(theirs);
      expect(ours.code).toBe(1);
      expect(ours.stderr).toContain(NAME);
    });
  }
});

// Running the proxy the way stdio ProxyCommand clients do: real pipes on stdin and stdout (OpenSSH with
// ProxyUseFdpass no, Paramiko, Go, PuTTY), or socketpairs (libssh, Node/Bun child processes), with the
// test's end of them as Node streams. Servers: test/helpers/unix-conn.ts.

import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, type ReadStream, type WriteStream } from "node:fs";
import * as io from "../../ffi/io.ts";
import { close } from "../../ffi/socket.ts";
import { PROXY } from "./tmp.ts";

export interface PipedProxy {
  proc: Bun.Subprocess<number, number, "pipe">;
  /** Our end of the proxy's stdin pipe (end() it for EOF). */
  stdin: WriteStream;
  /** Our end of the proxy's stdout pipe. */
  stdout: ReadStream;
  stderr: Promise<string>;
  exited: Promise<number>;
}

/** Start the proxy with a pipe on stdin and a pipe on stdout. */
export function spawnPiped(args: string[], env: Record<string, string | undefined> = process.env): PipedProxy {
  const [inR, inW] = io.pipe(false);
  const [outR, outW] = io.pipe(false);
  const proc = Bun.spawn([PROXY, ...args], { stdin: inR, stdout: outW, stderr: "pipe", env: env as Record<string, string> });
  close(inR);
  close(outW);
  const stdin = createWriteStream("", { fd: inW });
  stdin.on("error", () => {});
  const stdout = createReadStream("", { fd: outR, highWaterMark: 1 << 20 });
  return { proc, stdin, stdout, stderr: new Response(proc.stderr).text(), exited: proc.exited };
}

export async function writeAll(w: WriteStream, data: Uint8Array, chunk = 1 << 20): Promise<void> {
  for (let off = 0; off < data.length; off += chunk) {
    if (!w.write(data.subarray(off, off + chunk))) await new Promise((r) => w.once("drain", r));
  }
}

/** Read a stream to its end; `delayMs` between chunks makes a slow reader (backpressure). */
export async function readAll(r: AsyncIterable<Buffer | Uint8Array>, delayMs = 0): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) {
    parts.push(Buffer.from(c));
    if (delayMs) await Bun.sleep(delayMs);
  }
  return Buffer.concat(parts);
}

export const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
export const random = (n: number) => new Uint8Array(randomBytes(n));

// Run a ProxyCommand the way OpenSSH does with ProxyUseFdpass: stdin and stdout are one end of a socketpair,
// and the descriptor arrives on the other end with SCM_RIGHTS.

import { readSync } from "node:fs";
import { close } from "../../ffi/socket.ts";
import { recvFd, socketpair } from "../../ffi/test-sockets.ts";

export interface FdpassResult {
  code: number;
  stderr: string;
  /** stderr exactly, for messages that carry non-UTF-8 bytes. */
  stderrBytes: Uint8Array;
  /** The descriptor the proxy sent (ours now, close it), or null. */
  fd: number | null;
  /** Every byte the proxy wrote to stdout besides the descriptor: must be exactly one NUL. */
  stdout: Uint8Array;
}

export async function runFdpass(cmd: string[], opts: { env?: Record<string, string | undefined>; timeoutMs?: number } = {}): Promise<FdpassResult> {
  const [ours, theirs] = socketpair();
  const p = Bun.spawn(cmd, { stdin: theirs, stdout: theirs, stderr: "pipe", env: (opts.env ?? process.env) as Record<string, string> });
  close(theirs);
  const timer = setTimeout(() => p.kill("SIGKILL"), opts.timeoutMs ?? 20000);
  const [stderrBuf, code] = await Promise.all([new Response(p.stderr).arrayBuffer(), p.exited]);
  const stderrBytes = new Uint8Array(stderrBuf);
  const stderr = new TextDecoder().decode(stderrBytes);
  clearTimeout(timer);
  // The proxy has exited, so everything it sent is queued: first message with the descriptor, then EOF.
  let fd: number | null = null;
  const chunks: number[] = [];
  for (;;) {
    const r = recvFd(ours, 4096);
    if (r.fd !== null) {
      if (fd !== null) close(r.fd);
      else fd = r.fd;
    }
    if (r.data.length === 0) break;
    chunks.push(...r.data);
  }
  close(ours);
  return { code, stderr, stderrBytes, fd, stdout: Uint8Array.from(chunks) };
}

/** Read from a descriptor until EOF or `max` bytes. Blocking: use on sockets whose peer will close. */
export function readAll(fd: number, max = 1 << 20): Uint8Array {
  const out: Uint8Array[] = [];
  let total = 0;
  const buf = Buffer.alloc(65536);
  while (total < max) {
    const n = readSync(fd, buf, 0, buf.length, null);
    if (n <= 0) break;
    out.push(Uint8Array.from(buf.subarray(0, n)));
    total += n;
  }
  return Buffer.concat(out);
}

// AF_UNIX stream connections for test peers, on Bun's native sockets, with what relay tests need and
// node:net in Bun does not give: real half-close (allowHalfOpen is ignored by Bun's net.Server, which
// closes both directions on EOF), pause/resume for backpressure, and writes that wait for room.

import type { Socket } from "bun";

type Listener = (...args: never[]) => void;

export class Conn {
  /** False once the peer's EOF has arrived. */
  readable = true;
  closed = false;
  private readonly listeners = new Map<string, Listener[]>();
  private readonly drainWaiters: (() => void)[] = [];
  private readonly closeWaiters: (() => void)[] = [];

  constructor(readonly socket: Socket<Conn | undefined>) {}

  on(ev: "data", f: (chunk: Buffer) => void): this;
  on(ev: "end" | "close", f: () => void): this;
  on(ev: string, f: Listener): this {
    const l = this.listeners.get(ev) ?? [];
    l.push(f);
    this.listeners.set(ev, l);
    // Data that came before anyone listened is handed to the first listener.
    if (ev === "data") for (const c of this.early.splice(0)) (f as (c: Buffer) => void)(c);
    return this;
  }

  private readonly early: Buffer[] = [];

  emit(ev: string, ...args: unknown[]): void {
    const l = this.listeners.get(ev);
    if (ev === "data" && !l?.length) {
      this.early.push(args[0] as Buffer);
      return;
    }
    for (const f of l ?? []) (f as (...a: unknown[]) => void)(...args);
  }

  /** Write all of `data`, waiting for room as often as needed. */
  async write(data: Uint8Array | string): Promise<void> {
    let buf = typeof data === "string" ? Buffer.from(data) : data;
    while (buf.length > 0) {
      if (this.closed) throw new Error("write on a closed connection");
      const n = this.socket.write(buf);
      if (n < 0) throw new Error("write failed");
      buf = buf.subarray(n);
      if (buf.length > 0) await new Promise<void>((r) => this.drainWaiters.push(r));
    }
  }

  /** Write `data` (if any), then shut the write side down: the peer sees EOF, we can still read. */
  async end(data?: Uint8Array | string): Promise<void> {
    if (data !== undefined) await this.write(data);
    if (!this.closed) this.socket.shutdown();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** Close both directions at once. */
  destroy(): void {
    if (!this.closed) this.socket.terminate();
  }

  /** Everything the peer sends until EOF; with `delayMs`, read slowly (pausing the socket between chunks). */
  readToEnd(delayMs = 0): Promise<Buffer> {
    const parts: Buffer[] = [];
    return new Promise((resolve) => {
      this.on("data", (c) => {
        parts.push(c);
        if (delayMs) {
          this.pause();
          setTimeout(() => this.resume(), delayMs);
        }
      });
      const done = () => resolve(Buffer.concat(parts));
      if (!this.readable) return done();
      this.on("end", done);
    });
  }

  whenClosed(): Promise<void> {
    return this.closed ? Promise.resolve() : new Promise((r) => this.closeWaiters.push(r));
  }

  /** @internal */ _drain(): void {
    for (const r of this.drainWaiters.splice(0)) r();
  }
  /** @internal */ _eof(): void {
    if (!this.readable) return;
    this.readable = false;
    this.emit("end");
  }
  /** @internal */ _close(): void {
    if (this.closed) return;
    this._eof();
    this.closed = true;
    this._drain();
    this.emit("close");
    for (const r of this.closeWaiters.splice(0)) r();
  }
}

const handlers = (onOpen?: (c: Conn) => void) => ({
  open(s: Socket<Conn | undefined>) {
    s.data = new Conn(s);
    onOpen?.(s.data);
  },
  data(s: Socket<Conn | undefined>, d: Buffer) {
    s.data!.emit("data", Buffer.from(d)); // Bun may reuse its buffer
  },
  drain(s: Socket<Conn | undefined>) {
    s.data!._drain();
  },
  end(s: Socket<Conn | undefined>) {
    s.data!._eof();
  },
  close(s: Socket<Conn | undefined>) {
    s.data?._close();
  },
  error(s: Socket<Conn | undefined>) {
    s.data?._close();
  },
});

export interface UnixServer {
  path: string;
  connections: Conn[];
  stop(): void;
}

/** Listen on `path`; `onConn` runs for each connection as it opens. */
export function listenUnix(path: string, onConn: (c: Conn) => void | Promise<void>): UnixServer {
  const connections: Conn[] = [];
  const server = Bun.listen<Conn | undefined>({
    unix: path,
    allowHalfOpen: true,
    socket: handlers((c) => {
      connections.push(c);
      void onConn(c);
    }),
  } as Parameters<typeof Bun.listen<Conn | undefined>>[0]);
  return {
    path,
    connections,
    stop() {
      for (const c of connections) c.destroy();
      server.stop(true);
    },
  };
}

/** Connect to `path`. Rejects when nothing listens there. */
export async function connectUnix(path: string): Promise<Conn> {
  const s = await Bun.connect<Conn | undefined>({
    unix: path,
    allowHalfOpen: true,
    socket: handlers(),
  } as Parameters<typeof Bun.connect<Conn | undefined>>[0]);
  return s.data!;
}

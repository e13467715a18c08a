// A fake vsock multiplexer (the "hybrid vsock" AF_UNIX socket of vhost-device-vsock, Firecracker and
// cloud-hypervisor), for tests: the real one needs a VM. It behaves like rust-vmm's vhost-device-vsock as
// measured in the VM lab (docs/vm.md), unless told to answer otherwise:
// - The host connects and sends `CONNECT <port>\n` in ONE write. The keyword is case-insensitive, `\r\n`
//   is accepted. A first read without a complete line, or any other text, closes the connection. Bytes
//   after the line in that same read are dropped.
// - Nothing listening on that guest port: no reply, the connection is closed.
// - Otherwise the daemon answers `OK <guest port>\n` (Firecracker: a host-side port, `OK 1073741824\n`),
//   then relays bytes both ways. Anything the host sends before the OK line is out gets a reset (here:
//   the connection is destroyed).
// - A host-side shutdown(SHUT_WR) shuts the whole connection down: the guest sees EOF, and what it still
//   sends back is cut off (the host's connection is closed). A guest-side EOF reaches the host as a close.
//
// "Guest ports" are AF_UNIX sockets in the test: `guest(port)` names the socket behind each port.

import { existsSync, unlinkSync } from "node:fs";
import { type Conn, connectUnix, listenUnix } from "./unix-conn.ts";

/** How the multiplexer answers a CONNECT for a port something listens on. */
export type MuxReply =
  /** `OK <port>\n` in a write of its own, then the guest's bytes (vhost-device-vsock). */
  | "ok"
  /** `OK <port>\n` and the guest's first bytes in one write. */
  | "ok-with-payload"
  /** `OK <po` and `rt>\n` in two writes 50 ms apart. */
  | "ok-split"
  /** Firecracker's `OK 1073741824\n` (a host-side port), then the guest's bytes. */
  | "firecracker"
  /** No OK line at all: the guest's bytes straight away. */
  | "none"
  /** Never answers, keeps the connection open. */
  | "silence"
  /** Closes the connection without a reply (what the daemon does when nothing listens on the port). */
  | "close"
  /** `OK 2` and then closes: an incomplete line. */
  | "partial";

export interface FakeVsockMuxOptions {
  /** The multiplexer's AF_UNIX socket path. */
  path: string;
  /** The AF_UNIX socket standing in for guest port `port`, or null when nothing listens there. */
  guest(port: number): string | null;
  reply?: MuxReply;
  /** Real multiplexers tear the connection down on a host-side half-close (default true). */
  abortOnHostHalfClose?: boolean;
}

export interface FakeVsockMux {
  path: string;
  /** The CONNECT lines received, as sent (without the newline). */
  connects: string[];
  /**
   * What happened, in order: "connect <port>", "ok", "host-eof" (the host half-closed or closed),
   * "abort", "guest-eof", "reset" (host bytes before OK), "garbage", "closed" (host connection gone).
   */
  events: string[];
  /** Resolves when `n` host connections have been closed. */
  closed(n?: number): Promise<void>;
  stop(): void;
}

const CONNECT_LINE = /^connect (\d+)\r?\n/i;

export async function startFakeVsockMux(opts: FakeVsockMuxOptions): Promise<FakeVsockMux> {
  const reply = opts.reply ?? "ok";
  const abort = opts.abortOnHostHalfClose ?? true;
  const connects: string[] = [];
  const events: string[] = [];
  let closedCount = 0;
  let closeWaiters: { n: number; resolve: () => void }[] = [];

  const onHost = (host: Conn) => {
    let okSent = false;
    let guestFlowing = false;
    let guest: Conn | null = null;
    let first = true;
    host.on("close", () => {
      closedCount++;
      events.push("closed");
      guest?.destroy();
      closeWaiters = closeWaiters.filter((w) => (closedCount >= w.n ? (w.resolve(), false) : true));
    });
    let hostEof = false;
    host.on("end", () => {
      events.push("host-eof");
      hostEof = true;
      if (!guest || !guest.readable) return; // not connected yet (see answer()), or nothing left to cut off
      if (abort) {
        // The whole vsock connection goes down: the guest sees EOF, the host loses the rest.
        events.push("abort");
        void guest.end();
        host.destroy();
      } else {
        void guest.end();
      }
    });
    host.on("data", (chunk) => {
      if (first) {
        first = false;
        const m = CONNECT_LINE.exec(chunk.toString("latin1"));
        if (!m) {
          events.push("garbage");
          host.destroy();
          return;
        }
        // Bytes after the line in this same read are dropped, as the daemon does.
        connects.push(m[0].replace(/\r?\n$/, ""));
        const port = Number(m[1]);
        events.push(`connect ${port}`);
        void answer(port);
        return;
      }
      if (!okSent) {
        events.push("reset");
        host.destroy();
        guest?.destroy();
        return;
      }
      if (guest) forward(host, guest, chunk);
    });

    // Guest bytes that came before the OK line went out: they follow it (the daemon sends OK first).
    const held: Buffer[] = [];
    const sendOk = async (line: string, payload?: Buffer) => {
      events.push("ok");
      const out = [Buffer.from(line), ...(payload ? [payload] : [])];
      okSent = true; // from here on, the host may talk
      try {
        await host.write(Buffer.concat(out));
        while (held.length > 0) await host.write(held.shift()!);
        guestFlowing = true; // set with nothing held and no await since: order is kept
      } catch {
        host.destroy();
      }
    };

    const answer = async (port: number) => {
      if (reply === "silence") return;
      if (reply === "partial") {
        await host.write("OK 2");
        host.destroy();
        return;
      }
      const target = reply === "close" ? null : opts.guest(port);
      if (target === null) return host.destroy();
      try {
        guest = await connectUnix(target);
      } catch {
        return host.destroy();
      }
      if (host.closed) return guest.destroy();
      if (hostEof) {
        // The host half-closed before the guest was reached: same teardown.
        events.push("abort");
        void guest.end();
        if (abort) return host.destroy();
      }
      let firstGuestBytes = reply === "ok-with-payload";
      guest.on("data", (chunk) => {
        if (firstGuestBytes) {
          firstGuestBytes = false;
          void sendOk(`OK ${port}\n`, chunk);
          return;
        }
        if (!guestFlowing) held.push(chunk);
        else forward(guest!, host, chunk);
      });
      guest.on("end", () => {
        // A guest-side EOF reaches the host as the end of the connection.
        events.push("guest-eof");
        void host.end();
      });
      guest.on("close", () => void host.end());
      switch (reply) {
        case "ok":
          return sendOk(`OK ${port}\n`);
        case "firecracker":
          return sendOk("OK 1073741824\n");
        case "ok-split": {
          const line = `OK ${port}\n`;
          await host.write(line.slice(0, 4)).catch(() => host.destroy());
          await Bun.sleep(50);
          return sendOk(line.slice(4));
        }
        case "none":
          // No line to wait for: the guest's bytes flow at once (none can be held yet: this runs
          // right after the connect, before any data event).
          okSent = guestFlowing = true;
          return;
        case "ok-with-payload":
          return; // goes out with the guest's first bytes
      }
    };
  };

  if (existsSync(opts.path)) unlinkSync(opts.path);
  const server = listenUnix(opts.path, onHost);
  return {
    path: opts.path,
    connects,
    events,
    closed(n = 1) {
      if (closedCount >= n) return Promise.resolve();
      return new Promise((resolve) => closeWaiters.push({ n, resolve }));
    },
    stop: () => server.stop(),
  };
}

/** Copy a chunk, pausing the source while the destination has no room (backpressure). */
function forward(from: Conn, to: Conn, chunk: Buffer): void {
  from.pause();
  to.write(chunk).then(
    () => from.resume(),
    () => from.destroy(),
  );
}

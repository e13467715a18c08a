// Relay mode: for SSH clients that cannot take a descriptor (anything but OpenSSH with ProxyUseFdpass),
// the proxy stays in the middle and copies bytes, stdin to the connected socket and the socket to stdout,
// until both directions are done.
//
// One process, one thread, no busy polling: a loop around poll(2) that moves data with splice(2), so the
// bytes go from one kernel buffer to the next without being copied through our memory. splice needs a
// pipe on one side: stdin and stdout usually are pipes (that is how ssh, Paramiko, Go, PuTTY and JSch run
// a ProxyCommand), and then each direction is a single splice; for a socket on stdio (libssh) we splice
// through a pipe of our own; a terminal, which cannot splice, is copied with read/write.
//
// Each direction ends on its own, exactly:
// - EOF on stdin: everything read is written to the socket, then the socket's write side is shut down
//   (shutdown(SHUT_WR)) and the other direction carries on. Except when told not to (vsock-mux: real
//   multiplexers tear down both directions on a host-side shutdown, as vhost-device-vsock does): then the write
//   side stays open and the connection ends when the peer closes.
// - EOF on the socket: everything read is written to stdout, then stdout is closed (a socket on stdout is
//   shut down for writing first, since stdin may be the same socket).
// - A vanished peer (EPIPE or ECONNRESET) ends the direction it broke, like EOF, without an error:
//   systemd-socket-proxyd treats these the same way. Bytes still coming the other way are delivered.
// - A client that has gone ends the relay: once stdin is done, stdout is watched even while there is
//   nothing to write to it, and when nobody can read it any more (poll(2) reports POLLERR for a pipe
//   without a reader, POLLHUP for a socket whose peer closed), what the socket sends could go nowhere.
//   Go's x/crypto/ssh and JSch close both pipes when done; without this, a peer that does not close on
//   our EOF (and any vsock-mux connection, where we pass no EOF on) would keep the proxy alive for ever.
//   A half-close alone (stdin at EOF, stdout still read) changes nothing.
// Any other failure ends the relay with Failure (one line, exit status 1).

import { Errno, errnoCode } from "../../ffi/errno.ts";
import { strerror } from "../../ffi/errors.ts";
import * as io from "../../ffi/io.ts";
import { close, SHUT_WR, shutdown } from "../../ffi/socket.ts";
import { log } from "../shared/log.ts";
import { Failure, withCause } from "../shared/failure.ts";

interface RelayOptions {
  /** The connected socket (ours: it is made non-blocking). */
  socket: number;
  /** What the socket is, for messages: "AF_UNIX socket", "AF_VSOCK socket". */
  socketName: string;
  /** Shut the socket's write side down at EOF on stdin (false for vsock-mux). */
  halfClose: boolean;
  /** Defaults 0 and 1; tests may pass others. */
  input?: number;
  output?: number;
}

/** How much one splice call may move; the kernel caps it at the room in the pipe. */
const SPLICE_CHUNK = 16 << 20;
const SPLICE_FLAGS = io.SPLICE_F_MOVE | io.SPLICE_F_NONBLOCK;
/** Pipe buffers we ask for (the default unprivileged maximum, /proc/sys/fs/pipe-max-size). */
const PIPE_SIZE = 1 << 20;
const COPY_BUFFER = 64 << 10;

/** One descriptor as the loop sees it, with the readiness last learnt from poll() or from a call. */
class End {
  readable = false;
  writable = false;
  /** For the two ends of a pipe of ours: the other end. */
  other: End | null = null;

  constructor(
    public fd: number,
    readonly type: io.FileType | null,
  ) {}
}

/** The step result for "this op has reached EOF on its input". */
const EOF = 0;

/** Moves bytes from one End to another; a direction is a chain of one or two of them. */
interface Op {
  readonly from: End;
  readonly to: End;
  done: boolean;
  /** Can a step be tried now? */
  ready(): boolean;
  /** Ask poll() for the readiness missing. */
  wants(add: (end: End, events: number) => void): void;
  /** One call: bytes moved (> 0), EOF, or -errno (EAGAIN already noted in the Ends). */
  step(): number;
}

class SpliceOp implements Op {
  done = false;
  constructor(
    readonly from: End,
    readonly to: End,
  ) {}

  ready(): boolean {
    return this.from.readable && this.to.writable;
  }

  wants(add: (end: End, events: number) => void): void {
    if (!this.from.readable) add(this.from, io.POLLIN);
    if (!this.to.writable) add(this.to, io.POLLOUT);
  }

  step(): number {
    const n = io.splice(this.from.fd, this.to.fd, SPLICE_CHUNK, SPLICE_FLAGS);
    if (n === -Errno.EAGAIN) {
      // Either side may be the one that is not ready: forget both and let poll() tell. Poll asks only for
      // what is unknown, and a step needs both, so a ready side never makes the loop spin.
      this.from.readable = false;
      this.to.writable = false;
    }
    return n;
  }
}

/** read(2) into a buffer, write(2) it out: for descriptors splice cannot handle (terminals). */
class CopyOp implements Op {
  done = false;
  private readonly buf = new Uint8Array(new ArrayBuffer(COPY_BUFFER));
  private off = 0;
  private len = 0;

  constructor(
    readonly from: End,
    readonly to: End,
  ) {}

  ready(): boolean {
    return this.len === 0 ? this.from.readable : this.to.writable;
  }

  wants(add: (end: End, events: number) => void): void {
    if (this.len === 0) add(this.from, io.POLLIN);
    else add(this.to, io.POLLOUT);
  }

  step(): number {
    if (this.len === 0) {
      const n = io.readInto(this.from.fd, this.buf, this.buf.length);
      if (n > 0) {
        this.off = 0;
        this.len = n;
      } else if (n === -Errno.EAGAIN) this.from.readable = false;
      return n;
    }
    const n = io.writeFrom(this.to.fd, this.buf, this.off, this.len);
    if (n > 0) {
      this.off += n;
      this.len -= n;
    } else if (n === -Errno.EAGAIN) this.to.writable = false;
    if (n === 0) {
      // A write of 0 bytes is not EOF: no progress, wait for room.
      this.to.writable = false;
      return -Errno.EAGAIN;
    }
    return n;
  }
}

interface Direction {
  /** "STDIN to the AF_UNIX socket", for messages. */
  name: string;
  ops: Op[];
  done: boolean;
  /** Run once, when the last op has delivered everything (or the peer vanished). */
  finish(): void;
}

const VANISHED = new Set<number>([Errno.EPIPE, Errno.ECONNRESET]);

/**
 * Relay between stdin/stdout and `socket` until both directions are done. Returns normally when they
 * are (including when a peer vanished); throws Failure on any other failure.
 */
export function relay(opts: RelayOptions): void {
  try {
    relayLoop(opts);
  } catch (e) {
    // Set-up calls (fcntl, pipe2) throw SysError; the loop itself throws Failure, which passes through.
    throw withCause(e, "Failed to relay the connection");
  }
}

function relayLoop(opts: RelayOptions): void {
  const input = opts.input ?? 0;
  const output = opts.output ?? 1;
  const sock = new End(opts.socket, "socket");
  const inEnd = new End(input, io.fileType(input));
  const outEnd = new End(output, io.fileType(output));
  const ownPipes: number[] = [];
  const restoreFlags: [number, number][] = [];

  try {
    // Ours, so non-blocking: a step must never wait on the socket while the other direction has work.
    setNonblocking(sock.fd, null);
    for (const end of [inEnd, outEnd]) {
      // A socket on stdio (libssh's socketpair) is a connection made for us alone, so making it
      // non-blocking for the duration harms nobody. Pipes need no such thing (SPLICE_F_NONBLOCK), and a
      // terminal is shared with the user's shell: never touch its flags.
      if (end.type === "socket") setNonblocking(end.fd, restoreFlags);
      // Bigger pipe buffers mean fewer, larger splices. Not being allowed to is no failure.
      if (end.type === "fifo") io.setPipeSize(end.fd, PIPE_SIZE);
    }

    const makePipe = (): [End, End] => {
      const [r, w] = io.pipe();
      ownPipes.push(r, w);
      io.setPipeSize(w, PIPE_SIZE);
      const re = new End(r, "fifo");
      const we = new End(w, "fifo");
      re.other = we;
      we.other = re;
      we.writable = true; // empty
      return [re, we];
    };

    const chain = (from: End, to: End): Op[] => {
      if (from.type === null) return []; // stdin not open: nothing to send
      if (from.type === "fifo" || to.type === "fifo") return [new SpliceOp(from, to)];
      if (canSplice(from.type) && canSplice(to.type)) {
        const [r, w] = makePipe();
        return [new SpliceOp(from, w), new SpliceOp(r, to)];
      }
      return [new CopyOp(from, to)];
    };

    const up: Direction = {
      name: `STDIN to the ${opts.socketName}`,
      ops: chain(inEnd, sock),
      done: false,
      finish() {
        if (!opts.halfClose) {
          log.debug("EOF on STDIN; not shutting down the connection's write side (vsock-mux).");
          return;
        }
        try {
          shutdown(sock.fd, SHUT_WR);
        } catch (e) {
          // The peer already gone (ENOTCONN) changes nothing for the other direction.
          log.debug(`Failed to shut down the write side of the ${opts.socketName}, ignoring: ${String(e)}`);
        }
      },
    };
    const down: Direction = {
      name: `the ${opts.socketName} to STDOUT`,
      ops: outEnd.type === null ? [] : chain(sock, outEnd),
      done: false,
      finish() {
        if (outEnd.type === "socket") {
          try {
            shutdown(outEnd.fd, SHUT_WR);
          } catch {
            // Peer gone: closing is all there is left to do.
          }
        }
        if (outEnd.type !== null) close(outEnd.fd);
        outEnd.fd = -1;
      },
    };
    const directions = [up, down];
    for (const d of directions) if (d.ops.length === 0) endDirection(d);

    const poll = new io.PollSet(8);
    const polled: End[] = [];
    const events: number[] = [];
    const add = (end: End, ev: number) => {
      polled.push(end);
      events.push(ev);
      poll.add(end.fd, ev);
    };

    while (!up.done || !down.done) {
      let progress = false;
      for (const d of directions) {
        if (d.done) continue;
        for (let i = 0; i < d.ops.length; i++) {
          const op = d.ops[i]!;
          if (op.done || !op.ready()) continue;
          const n = op.step();
          if (n > 0) {
            progress = true;
            // Our own pipe: what went in can come out, what came out made room.
            if (op.to.other) op.to.other.readable = true;
            if (op.from.other) op.from.other.writable = true;
          } else if (n === EOF) {
            progress = true;
            opReachedEof(d, i);
          } else if (n === -Errno.EAGAIN) {
            // noted by the op
          } else if (n === -Errno.EINVAL && op instanceof SpliceOp) {
            // This descriptor does not splice after all (e.g. a file opened O_APPEND): copy instead.
            log.debug(`splice() from fd ${op.from.fd} to fd ${op.to.fd} not supported, copying instead.`);
            d.ops[i] = new CopyOp(op.from, op.to);
            progress = true;
          } else if (n === -Errno.ECONNRESET && op.from.type === "socket") {
            // The sender vanished: what it sent before is all there is. Deliver that, like at EOF.
            log.debug(`Reading ${d.name}: ${strerror(-n)}; treating it as EOF.`);
            progress = true;
            opReachedEof(d, i);
          } else if (VANISHED.has(-n)) {
            // The receiver vanished: nothing more can be delivered this way.
            log.debug(`Relaying ${d.name} stopped: ${strerror(-n)}`);
            endDirection(d);
            progress = true;
            break;
          } else {
            throw new Failure(`Failed to relay ${d.name}: ${strerror(-n)}`, errnoCode(-n));
          }
        }
      }
      if (progress || (up.done && down.done)) continue;

      poll.clear();
      polled.length = 0;
      events.length = 0;
      for (const d of directions) {
        if (d.done) continue;
        for (const op of d.ops) if (!op.done && !op.ready()) op.wants(add);
      }
      // With stdin done, watch for the client's going away even while there is nothing to write to it.
      const clientWatch = up.done && !down.done && !polled.includes(outEnd) ? poll.add(outEnd.fd, 0) : -1;
      if (poll.count === 0) throw new Failure("Relay stalled: nothing to wait for (internal error).", "EIO");
      const r = poll.wait(-1);
      if (r < 0) throw new Failure(`Failed to wait for the connection: ${strerror(-r)}`, errnoCode(-r));
      if (clientWatch >= 0 && poll.revents(clientWatch) & (io.POLLERR | io.POLLHUP)) {
        log.debug("EOF on STDIN and nobody reads STDOUT any more: the client has gone, ending the relay.");
        endDirection(down);
        continue;
      }
      for (let i = 0; i < polled.length; i++) {
        const rev = poll.revents(i);
        if (rev === 0) continue;
        // Errors and hang-ups count as ready: the next call reports them (EOF, EPIPE, ...).
        if (events[i] === io.POLLIN) polled[i]!.readable = true;
        else polled[i]!.writable = true;
      }
    }
  } finally {
    const outputClosed = outEnd.fd < 0;
    for (const [fd, flags] of restoreFlags) if (!(outputClosed && fd === output)) trySetFlags(fd, flags);
    for (const fd of ownPipes) close(fd);
  }

  /** Op i of d has seen EOF on its input and delivered everything it took. */
  function opReachedEof(d: Direction, i: number): void {
    const op = d.ops[i]!;
    op.done = true;
    const next = d.ops[i + 1];
    if (next) {
      // Closing our pipe's write end lets the next op drain it and then see EOF itself.
      close(op.to.fd);
      ownPipes.splice(ownPipes.indexOf(op.to.fd), 1);
      next.from.readable = true;
      return;
    }
    endDirection(d);
  }

  function endDirection(d: Direction): void {
    if (d.done) return;
    d.done = true;
    for (const op of d.ops) op.done = true;
    d.finish();
  }
}

function canSplice(type: io.FileType | null): boolean {
  return type === "socket" || type === "fifo" || type === "reg" || type === "blk";
}

function setNonblocking(fd: number, restore: [number, number][] | null): void {
  const flags = io.getStatusFlags(fd);
  if (flags & io.O_NONBLOCK) return;
  io.setStatusFlags(fd, flags | io.O_NONBLOCK);
  restore?.push([fd, flags]);
}

function trySetFlags(fd: number, flags: number): void {
  try {
    io.setStatusFlags(fd, flags);
  } catch {
    // closed already, or gone: nothing to restore
  }
}

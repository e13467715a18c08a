// The vsock multiplexer handshake of Firecracker and cloud-hypervisor (and rust-vmm's vhost-device-vsock):
// on the VMM's AF_UNIX socket, send "CONNECT <port>\n", and the VMM answers "OK <number>\n" before the
// guest's bytes follow.
//
// systemd 262 reads the answer with a 9-byte buffer ("OK 65535\n"), peeking before it consumes, so that a
// multiplexer that sends no OK line gets its bytes passed on untouched; when nothing arrives for 5 seconds
// (per read: SO_RCVTIMEO) it passes the socket on as it is. We do exactly what it does, read for read and
// message for message, with one difference: where its buffer fills up without a newline, we read on (up to
// "OK 4294967295\n") and consume the line if it is an OK line with a 32-bit port, as Firecracker's
// "OK 1073741824\n" is (systemd leaks it into the SSH stream). Whenever the longer line turns out to be
// something else, the outcome is systemd's: the bytes are passed on untouched if systemd would have passed
// them on (nothing consumed yet: we wait for the rest without consuming, see ffi/epoll.ts), or the same
// error if systemd would have failed.

import { ArrivalWatch } from "../../ffi/epoll.ts";
import { SysError } from "../../ffi/errors.ts";
import { getRecvTimeout, MSG_DONTWAIT, MSG_PEEK, recv, sendAll, setRecvTimeout } from "../../ffi/socket.ts";
import { log, LOG_DEBUG } from "../shared/log.ts";
import { bytes } from "../shared/raw-bytes.ts";
import { Failure, withCause } from "../shared/failure.ts";

/** systemd's buffer: the longest OK line it consumes. */
const SYSTEMD_OK_LINE = "OK 65535\n".length;
/** The longest OK line we consume. */
const MAX_OK_LINE = "OK 4294967295\n".length;
const OK_PREFIX = "OK ";
const NEWLINE = 0x0a;
const MAX_PORT = 0xffffffff;
const HEADER_READ_TIMEOUT_SEC = 5;

/** Send the CONNECT line in one write: real multiplexers drop a line split across writes. */
export function sendConnect(fd: number, path: string, port: string): void {
  try {
    // `port` is a byte string (main.ts): send its bytes as they came.
    sendAll(fd, bytes(`CONNECT ${port}\n`));
  } catch (e) {
    throw withCause(e, `Failed to send CONNECT to ${path}:${port}`);
  }
}

/** What the multiplexer answered. "passthrough": no OK line, the socket is handed on untouched. */
type OkOutcome = { kind: "ok"; line: string } | { kind: "passthrough"; why: string };

/**
 * Wait (at most 5 s per read) for the OK line and consume exactly it. The socket's receive timeout is restored
 * before returning, as systemd does, since ssh inherits the socket.
 */
export function skipOkLine(fd: number, path: string, port: string): OkOutcome {
  let saved;
  try {
    saved = getRecvTimeout(fd);
  } catch (e) {
    throw withCause(e, `Failed to get socket receive timeout for ${path}`);
  }
  try {
    setRecvTimeout(fd, { sec: HEADER_READ_TIMEOUT_SEC, usec: 0 });
  } catch (e) {
    throw withCause(e, `Failed to set socket receive timeout for ${path}`);
  }
  const outcome = readOkLine(fd, path, port);
  try {
    setRecvTimeout(fd, saved);
  } catch (e) {
    throw withCause(e, `Failed to restore socket receive timeout for ${path}`);
  }
  return outcome;
}

function eio(message: string): Failure {
  return new Failure(message, "EIO");
}

/** Messages name the path as the byte string it is (src/shared/raw-bytes.ts). */
const debug = (message: string) => log.logBytes(LOG_DEBUG, message);
const latin1 = (b: Uint8Array): string => String.fromCharCode(...b);

const TOO_MANY = "Received too many bytes while waiting for OK PORT response from";

/**
 * The bytes of the answer so far: `seen` of them looked at (peeked), the first `consumed` of those
 * already taken off the socket. A peek always starts at the head of the queue, i.e. at `consumed`.
 */
class Answer {
  readonly buf = new Uint8Array(MAX_OK_LINE);
  consumed = 0;
  seen = 0;

  constructor(
    readonly fd: number,
    readonly path: string,
  ) {}

  /**
   * Take what was peeked off the socket before peeking further, as systemd does (and says so, unless
   * `log` is false): MSG_PEEK always starts at the head of the queue, and SO_PEEK_OFF is unreliable on
   * AF_UNIX before Linux 6.18.
   */
  consumeSeen(log = true): void {
    const n = this.seen - this.consumed;
    if (n <= 0) return;
    this.take(n);
    if (log) debug(`Successfully discarded ${n} bytes of response: ${latin1(this.buf.subarray(this.consumed - n, this.consumed))}`);
  }

  /** Consume the OK line of `length` bytes (all seen), and nothing after it. */
  finish(length: number): OkOutcome {
    if (length > this.consumed) this.take(length - this.consumed);
    const line = latin1(this.buf.subarray(0, length));
    debug(`Successfully discarded response from ${this.path}: ${line}`);
    return { kind: "ok", line };
  }

  /** A blocking peek for more (nothing unconsumed may be pending): what arrived, or why nothing did. */
  peek(): "data" | "timeout" | "eof" {
    let chunk: Uint8Array;
    try {
      chunk = recv(this.fd, MAX_OK_LINE - this.seen, MSG_PEEK);
    } catch (e) {
      if (e instanceof SysError && e.code === "EAGAIN") return "timeout";
      throw withCause(e, `Failed to receive OK from ${this.path}`);
    }
    if (chunk.length === 0) return "eof";
    this.buf.set(chunk, this.seen);
    this.seen += chunk.length;
    return "data";
  }

  /** Peek again at everything not consumed, without waiting: the bytes seen so far and any new ones. */
  repeek(): void {
    let chunk: Uint8Array;
    try {
      chunk = recv(this.fd, MAX_OK_LINE - this.consumed, MSG_PEEK | MSG_DONTWAIT);
    } catch (e) {
      if (e instanceof SysError && e.code === "EAGAIN") return;
      throw withCause(e, `Failed to receive OK from ${this.path}`);
    }
    this.buf.set(chunk, this.consumed);
    this.seen = Math.max(this.seen, this.consumed + chunk.length);
  }

  private take(n: number): void {
    let got: Uint8Array;
    try {
      got = recv(this.fd, n);
    } catch (e) {
      throw withCause(e, `Failed to discard OK PORT response from ${this.path}`);
    }
    if (got.length !== n) throw eio(`Short read while discarding OK PORT response from ${this.path}`);
    this.consumed += n;
  }
}

/** The multiplexer's bytes go to ssh as they are. */
function passthrough(why: string, path: string, assume: string): OkOutcome {
  debug(`${why} ${path}\n${assume}`);
  return { kind: "passthrough", why };
}

/**
 * Read the answer. The first part is systemd's loop as it is, looking at no more than its buffer holds;
 * only where that buffer would be full without a newline do we go on (longLine()).
 */
function readOkLine(fd: number, path: string, port: string): OkOutcome {
  const a = new Answer(fd, path);
  let pos = 0; // bytes checked
  for (;;) {
    while (pos < a.seen && pos < SYSTEMD_OK_LINE) {
      const c = a.buf[pos]!;
      if (pos < OK_PREFIX.length && c !== OK_PREFIX.charCodeAt(pos)) {
        if (a.consumed > 0) throw eio(`Received invalid response while waiting for OK PORT from ${path}`);
        return passthrough("Received response does not start with expected OK PORT response from", path, "Assume the multiplexer will not send OK PORT.");
      }
      pos++;
      if (c === NEWLINE) return a.finish(pos);
    }
    if (pos === SYSTEMD_OK_LINE) return longLine(a);
    a.consumeSeen();
    const got = a.peek();
    if (got === "timeout") {
      if (a.consumed > 0) throw eio(`Timed out to receive OK PORT from ${path}`);
      return passthrough("Timeout while waiting for OK PORT response from", path, "Assume the multiplexer will not send OK PORT.");
    }
    if (got === "eof") {
      debug(`Connection closed while waiting for OK PORT response from ${path}`);
      if (a.consumed > 0) throw eio(`Connection closed before full OK PORT response received from ${path}.`);
      debug("No data received, which means the connecting port is not open.");
      throw new Failure(`Port ${port} on ${path} is not open`, "ECONNREFUSED");
    }
  }
}

/**
 * What the first `len` bytes can still become: the length of a complete "OK <port>\n" line with a port
 * that fits 32 bits, "partial" while more bytes could complete one, or "invalid".
 */
function okLineState(buf: Uint8Array, len: number): number | "partial" | "invalid" {
  let port = 0;
  for (let i = 0; i < len; i++) {
    const c = buf[i]!;
    if (i < OK_PREFIX.length) {
      if (c !== OK_PREFIX.charCodeAt(i)) return "invalid";
      continue;
    }
    if (c === NEWLINE) return i > OK_PREFIX.length ? i + 1 : "invalid";
    if (c < 0x30 || c > 0x39 || i >= MAX_OK_LINE - 1) return "invalid";
    port = port * 10 + (c - 0x30);
    if (port > MAX_PORT) return "invalid";
  }
  return len < MAX_OK_LINE ? "partial" : "invalid";
}

/**
 * systemd's buffer is full and holds no newline. If it consumed nothing, systemd passes the socket on as
 * it is, and so do we unless the bytes become an OK line; we wait for the rest without consuming (an
 * edge-triggered watch wakes us at each arrival). If it had consumed some, it fails, and so do we unless
 * they become an OK line; there we may go on consuming, as it did.
 */
function longLine(a: Answer): OkOutcome {
  if (a.consumed > 0) {
    for (;;) {
      const state = okLineState(a.buf, a.seen);
      if (typeof state === "number") return a.finish(state);
      if (state === "invalid") throw eio(`${TOO_MANY} ${a.path}`);
      // Past systemd's buffer: its debug log ends here, with the error it would give.
      a.consumeSeen(false);
      if (a.peek() !== "data") throw eio(`${TOO_MANY} ${a.path}`);
    }
  }
  const untouched = () => passthrough(TOO_MANY, a.path, "Assume the multiplexer is not sending OK PORT.");
  let watch: ArrivalWatch;
  try {
    watch = new ArrivalWatch(a.fd);
  } catch (e) {
    // No descriptor for the watch (a tight RLIMIT_NOFILE): do what systemd does here.
    debug(`Cannot wait for the rest of the OK line from ${a.path}: ${e instanceof SysError ? e.strerror : String(e)}`);
    return untouched();
  }
  try {
    for (;;) {
      const state = okLineState(a.buf, a.seen);
      if (typeof state === "number") return a.finish(state);
      if (state === "invalid") return untouched();
      const arrival = watch.wait(HEADER_READ_TIMEOUT_SEC * 1000);
      if (arrival === "timeout") return untouched();
      a.repeek();
      // At a hang-up everything there will be is queued: if it did not complete the line, nothing will.
      if (arrival === "hangup" && okLineState(a.buf, a.seen) === "partial") return untouched();
    }
  } catch (e) {
    throw withCause(e, `Failed to receive OK from ${a.path}`);
  } finally {
    watch.close();
  }
}

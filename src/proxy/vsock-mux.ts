// The vsock multiplexer handshake of Firecracker and cloud-hypervisor (and rust-vmm's vhost-device-vsock):
// on the VMM's AF_UNIX socket, send "CONNECT <port>\n", and the VMM answers "OK <number>\n" before the
// guest's bytes follow.
//
// Like systemd we peek before consuming, so a multiplexer that sends no OK line gets its bytes passed on
// untouched, and when nothing arrives for 5 seconds we pass the socket on as it is. The limit is per read,
// as systemd's SO_RCVTIMEO is: a multiplexer trickling a byte every few seconds takes at most 14 reads.
// Unlike systemd (whose buffer fits "OK 65535\n" at most), we consume any OK line up to "OK 4294967295\n":
// Firecracker answers with a host-side port such as "OK 1073741824\n", which systemd leaks into the SSH
// stream.

import { SysError } from "../../ffi/errors.ts";
import { getRecvTimeout, MSG_PEEK, recv, sendAll, setRecvTimeout } from "../../ffi/socket.ts";
import { log } from "../shared/log.ts";
import { byteArray } from "../shared/raw-bytes.ts";
import { ProxyError, withCause } from "./errors.ts";

/** The longest OK line we consume. */
export const MAX_OK_LINE = "OK 4294967295\n".length;
const OK_PREFIX = "OK ";
const NEWLINE = 0x0a;
export const HEADER_READ_TIMEOUT_SEC = 5;

/** Send the CONNECT line in one write: real multiplexers drop a line split across writes. */
export function sendConnect(fd: number, path: string, port: string): void {
  try {
    // `port` is a byte string (runProxy): send its bytes as they came.
    sendAll(fd, byteArray(`CONNECT ${port}\n`));
  } catch (e) {
    throw withCause(e, `Failed to send CONNECT to ${path}:${port}`);
  }
}

/** What the multiplexer answered. "passthrough": no OK line, the socket is handed on untouched. */
export type OkOutcome = { kind: "ok"; line: string } | { kind: "passthrough"; why: string };

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

function eio(message: string): ProxyError {
  return new ProxyError(message, "EIO");
}

/**
 * The OK line is read by peeking, so that as long as nothing has been consumed we can still change our
 * mind and pass the socket on untouched. Peeked bytes must be consumed before peeking further (MSG_PEEK
 * always starts at the head of the queue, and SO_PEEK_OFF is unreliable on AF_UNIX before Linux 6.18);
 * once anything is consumed, a reply that turns out not to be an OK line can only be an error.
 */
function readOkLine(fd: number, path: string, port: string): OkOutcome {
  const line = new Uint8Array(MAX_OK_LINE);
  let consumed = 0; // bytes taken off the socket
  let seen = 0; // bytes consumed or peeked
  let pos = 0; // bytes checked

  const refuse = (why: string, error: string): OkOutcome => {
    if (consumed > 0) throw eio(error);
    log.debug(`${why} from ${path}\nAssume the multiplexer will not send OK PORT.`);
    return { kind: "passthrough", why };
  };

  for (;;) {
    if (pos >= seen) {
      if (seen >= MAX_OK_LINE) {
        return refuse(
          "Received too many bytes while waiting for OK PORT response",
          `Received too many bytes while waiting for OK PORT response from ${path}`,
        );
      }
      if (seen > consumed) {
        consume(fd, path, seen - consumed);
        consumed = seen;
      }
      let chunk: Uint8Array;
      try {
        chunk = recv(fd, MAX_OK_LINE - seen, MSG_PEEK);
      } catch (e) {
        if (e instanceof SysError && e.code === "EAGAIN") {
          return refuse("Timeout while waiting for OK PORT response", `Timed out to receive OK PORT from ${path}`);
        }
        throw withCause(e, `Failed to receive OK from ${path}`);
      }
      if (chunk.length === 0) {
        log.debug(`Connection closed while waiting for OK PORT response from ${path}`);
        if (consumed === 0) throw new ProxyError(`Port ${port} on ${path} is not open`, "ECONNREFUSED");
        throw eio(`Connection closed before full OK PORT response received from ${path}.`);
      }
      line.set(chunk, seen);
      seen += chunk.length;
    }
    const c = line[pos]!;
    if (pos < OK_PREFIX.length && c !== OK_PREFIX.charCodeAt(pos)) {
      return refuse(
        "Received response does not start with expected OK PORT response",
        `Received invalid response while waiting for OK PORT from ${path}`,
      );
    }
    pos++;
    if (c === NEWLINE) break;
  }
  if (pos > consumed) consume(fd, path, pos - consumed);
  const text = new TextDecoder().decode(line.subarray(0, pos));
  log.debug(`Successfully discarded response from ${path}: ${text}`);
  return { kind: "ok", line: text };
}

function consume(fd: number, path: string, n: number): void {
  let got: Uint8Array;
  try {
    got = recv(fd, n);
  } catch (e) {
    throw withCause(e, `Failed to discard OK PORT response from ${path}`);
  }
  if (got.length !== n) throw eio(`Short read while discarding OK PORT response from ${path}`);
}

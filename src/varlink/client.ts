// A small synchronous varlink client, as far as systemd-ssh needs one: calls on an AF_UNIX stream socket,
// each message a JSON object terminated by a NUL byte (https://varlink.org; systemd's sd-varlink).
//
//   → {"method":"io.systemd.Machine.List","parameters":{"name":"foo"}}\0
//   ← {"parameters":{...}}\0                          a reply
//   ← {"error":"io.systemd.Machine.NoSuchMachine","parameters":{}}\0   an error reply
//
// With "more":true the server may send any number of replies carrying "continues":true before the last
// one. Replies are checked the way sd-varlink checks them, and failures carry the errno sd-varlink's
// sd_varlink_call() returns for them, so callers can print systemd's "%m" text:
//   unparsable JSON: EINVAL (ENODATA for an empty message, ELNRNG when nested too deep);
//   a reply that breaks the protocol (unknown keys, "error" not a string, "parameters" not an object,
//   "continues" where no more replies were asked for): ECONNRESET, since sd-varlink drops the connection;
//   the peer hanging up before the reply: ECONNRESET; no reply within the timeout (45 s, sd-varlink's
//   default): ETIME; more than 16 MiB without a message end: ENOBUFS.
//
// Synchronous on purpose: the proxy is a one-shot program that has nothing else to do while it waits.

import { SysError } from "../../ffi/errors.ts";
import { close, connectUnix, recv, sendAll, setRecvTimeout } from "../../ffi/socket.ts";
import { Errno as E } from "../../ffi/errno.ts";
import { JsonObject, JsonParseError, parseJson } from "./json.ts";

const VARLINK_DEFAULT_TIMEOUT_MS = 45_000;
const VARLINK_BUFFER_MAX = 16 * 1024 * 1024;
const READ_SIZE = 64 * 1024;

/** One reply. `parameters` is an empty object when the reply had none (or null). */
interface VarlinkReply {
  error: string | null;
  parameters: JsonObject;
  continues: boolean;
}

/** Parameters of a call: plain JSON-encodable values. */
type VarlinkParameters = Record<string, unknown>;

/** errno values that mean the peer went away; sd-varlink reports them all as a disconnect (ECONNRESET). */
const DISCONNECT = new Set<number>([E.ECONNRESET, E.EPIPE, E.ECONNABORTED, E.ENOTCONN, E.ESHUTDOWN]);

function failure(errno: number): SysError {
  return new SysError("varlink", errno);
}

export class VarlinkConnection {
  private buffer = new Uint8Array(0);
  private closed = false;

  private constructor(
    readonly fd: number,
    readonly timeoutMs: number,
  ) {}

  /** Connect to the varlink service listening on `path`. Throws SysError (connect's or socket's errno). */
  static connect(path: string, opts: { timeoutMs?: number } = {}): VarlinkConnection {
    // `path` is text (from the environment, as decoded): its UTF-8 is the name.
    return new VarlinkConnection(connectUnix(new TextEncoder().encode(path)), opts.timeoutMs ?? VARLINK_DEFAULT_TIMEOUT_MS);
  }

  /** Call a method and return its one reply (which may be an error reply). Throws SysError. */
  call(method: string, parameters: VarlinkParameters = {}): VarlinkReply {
    this.send({ method, parameters });
    return this.receive(false, Date.now() + this.timeoutMs);
  }

  /**
   * Call a method with "more": yields every reply up to and including the last (the first one without
   * "continues", or an error reply). Throws SysError.
   */
  *callMore(method: string, parameters: VarlinkParameters = {}): Generator<VarlinkReply> {
    this.send({ method, parameters, more: true });
    for (;;) {
      // The timeout applies to each reply, as sd-varlink's does.
      const reply = this.receive(true, Date.now() + this.timeoutMs);
      yield reply;
      if (!reply.continues) return;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    close(this.fd);
  }

  private send(message: object): void {
    try {
      sendAll(this.fd, new TextEncoder().encode(`${JSON.stringify(message)}\0`));
    } catch (e) {
      // Like sd-varlink, a write to a vanished peer is not reported yet: the read that follows will
      // find the hang-up (or a reply the peer sent before going away).
      if (!(e instanceof SysError && DISCONNECT.has(e.errno))) throw e;
    }
  }

  private receive(more: boolean, deadline: number): VarlinkReply {
    const message = this.readMessage(deadline);
    let value;
    try {
      value = parseJson(message);
    } catch (e) {
      if (e instanceof JsonParseError) throw failure(e.errno);
      throw e;
    }
    if (!(value instanceof JsonObject)) throw failure(E.EINVAL);
    return checkReply(value, more);
  }

  /** The next message, without its NUL. */
  private readMessage(deadline: number): Uint8Array {
    for (;;) {
      const end = this.buffer.indexOf(0);
      if (end >= 0) {
        const message = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 1);
        return message;
      }
      if (this.buffer.length >= VARLINK_BUFFER_MAX) throw failure(E.ENOBUFS);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw failure(E.ETIME);
      setRecvTimeout(this.fd, { sec: Math.floor(remaining / 1000), usec: (remaining % 1000) * 1000 });
      let chunk: Uint8Array;
      try {
        chunk = recv(this.fd, Math.min(READ_SIZE, VARLINK_BUFFER_MAX - this.buffer.length));
      } catch (e) {
        if (e instanceof SysError && e.errno === E.EAGAIN /* the receive timeout */) throw failure(E.ETIME);
        if (e instanceof SysError && DISCONNECT.has(e.errno)) throw failure(E.ECONNRESET);
        throw e;
      }
      if (chunk.length === 0) throw failure(E.ECONNRESET);
      const grown = new Uint8Array(this.buffer.length + chunk.length);
      grown.set(this.buffer);
      grown.set(chunk, this.buffer.length);
      this.buffer = grown;
    }
  }
}

/** Check a reply object the way sd-varlink does; a violation drops the connection (ECONNRESET). */
function checkReply(reply: JsonObject, more: boolean): VarlinkReply {
  const violation = () => failure(E.ECONNRESET);
  let error: string | null = null;
  let parameters: JsonObject | null = null;
  let sawError = false;
  let sawParameters = false;
  let continues = false;
  for (const [key, value] of reply.entries) {
    switch (key) {
      case "error":
        if (sawError || typeof value !== "string") throw violation();
        sawError = true;
        error = value;
        break;
      case "parameters":
        if (sawParameters || !(value === null || value instanceof JsonObject)) throw violation();
        sawParameters = true;
        parameters = value;
        break;
      case "continues":
        if (continues || typeof value !== "boolean") throw violation();
        continues = value;
        break;
      default:
        throw violation();
    }
  }
  if (continues && (!more || error !== null)) throw violation();
  return { error, parameters: parameters ?? new JsonObject(), continues };
}

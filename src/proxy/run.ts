// systemd-ssh-proxy HOST PORT: connect to what HOST names, then hand the connected socket to ssh over
// stdout (ProxyUseFdpass), or relay its bytes for clients that cannot take a descriptor (transport.ts,
// relay.ts). This is the hot path, run once per ssh connection: it imports only the socket
// calls and the handshakes it needs; logging, the CLI and varlink load only when used.

import { SysError } from "../../ffi/errors.ts";
import * as sock from "../../ffi/socket.ts";
import { log, LOG_DEBUG, LOG_ERR } from "../shared/log.ts";
import { byteArray, rawArgs, utf8Bytes } from "../shared/raw-bytes.ts";
import { parseVsockCid, parseVsockPort, VMADDR_CID_ANY } from "../shared/vsock-address.ts";
import { parseProxyArgs, type Transport } from "./args.ts";
import { DEFAULT_DELAYS, parseWaitSeconds, retryUntilUp } from "./boot-wait.ts";
import { ProxyError, withCause } from "./errors.ts";
import { absolutizeSocketPath, parseHostSpec } from "./host-spec.ts";
import { peerCannotTakeFd, relayReason } from "./transport.ts";
import { sendConnect, skipOkLine } from "./vsock-mux.ts";

/** What the hand-off needs to know besides the socket. */
export interface HandOffContext {
  /** "AF_UNIX" or "AF_VSOCK": the socket's family, for messages. */
  family: string;
  /** From the command line: auto-detect, or force descriptor passing or relaying. */
  transport: Transport;
  /**
   * May EOF on stdin be passed on as shutdown(SHUT_WR)? Not on vsock-mux connections: there a host-side
   * half-close makes real multiplexers tear down both directions (vm-lab-notes).
   */
  halfClose: boolean;
}

/** "sent": the socket went to ssh over stdout. "relayed": we copied its bytes until both sides were done. */
export type HandOffResult = "sent" | "relayed";

/** The effects the proxy has on the world, injectable so tests can stop before a vsock connect. */
export interface ProxyDeps {
  connectUnix(path: string): number;
  connectVsock(cid: number, port: number): number;
  /** Hand the connected socket to our caller (ssh) and return when it has it (or the relay is over). */
  handOff(fd: number, ctx: HandOffContext): HandOffResult | void | Promise<HandOffResult | void>;
  close(fd: number): void;
}

const STDIN = 0;
const STDOUT = 1;

export const realDeps: ProxyDeps = {
  // Paths are byte strings (see runProxy): the kernel gets exactly the bytes ssh gave us.
  connectUnix: (path) => sock.connectUnix(byteArray(path)),
  connectVsock: sock.connectVsock,
  async handOff(fd, ctx) {
    if (ctx.transport !== "relay") {
      const why = ctx.transport === "auto" ? relayReason(STDIN, STDOUT) : null;
      if (why === null) {
        try {
          sock.sendFd(STDOUT, fd);
          return "sent";
        } catch (e) {
          // After a failed sendmsg() nothing was sent: relaying instead is safe.
          if (ctx.transport === "fdpass" || !peerCannotTakeFd(e)) throw e;
          log.debug(`STDOUT cannot take the socket (${(e as SysError).strerror}), relaying instead.`);
        }
      } else {
        log.debug(`Relaying: ${why}.`);
      }
    }
    // Loaded only when relaying: the fd-passing path stays as lean as systemd's.
    const { relay } = await import("./relay.ts");
    relay({ socket: fd, socketName: `${ctx.family} socket`, halfClose: ctx.halfClose });
    return "relayed";
  },
  close: sock.close,
};

async function handOff(deps: ProxyDeps, fd: number, ctx: HandOffContext): Promise<void> {
  let result: HandOffResult | void;
  try {
    result = await deps.handOff(fd, ctx);
  } catch (e) {
    throw withCause(e, "Failed to send socket via STDOUT");
  } finally {
    deps.close(fd);
  }
  if (result !== "relayed") log.debug(`Successfully sent ${ctx.family} socket via STDOUT.`);
}

function connectUnixOrFail(deps: ProxyDeps, path: string): number {
  try {
    return deps.connectUnix(path);
  } catch (e) {
    if (e instanceof SysError && e.syscall === "socket") throw withCause(e, "Failed to allocate AF_UNIX socket");
    throw withCause(e, `Failed to connect to AF_UNIX socket ${path}`);
  }
}

// Each target in two steps: open (connect, and for vsock-mux the handshake) returns the connected socket;
// handOff gives it to ssh. --wait repeats the open step while the VM is booting (boot-wait.ts).

export function openUnix(deps: ProxyDeps, rawPath: string): number {
  return connectUnixOrFail(deps, absolutizeSocketPath(rawPath));
}

export function openVsockCid(deps: ProxyDeps, cid: number, portArg: string): number {
  const port = parseVsockPort(portArg);
  if (port === null) throw new ProxyError(`Failed to parse vsock port: ${portArg}`, "EINVAL");
  try {
    return deps.connectVsock(cid, port);
  } catch (e) {
    if (e instanceof SysError && e.syscall === "socket") throw withCause(e, "Failed to allocate AF_VSOCK socket");
    throw withCause(e, `Failed to connect to vsock:${cid}:${port}`);
  }
}

export function openVsock(deps: ProxyDeps, cidArg: string, portArg: string): number {
  const cid = parseVsockCid(cidArg);
  if (cid === null) throw new ProxyError(`Failed to parse vsock cid: ${cidArg}`, "EINVAL");
  // "any", "-1" and 4294967295 parse (they are valid for listening), but name no peer.
  if (cid === VMADDR_CID_ANY) throw new ProxyError("Cannot use VMADDR_CID_ANY to connect to a remote host.", "EINVAL");
  return openVsockCid(deps, cid, portArg);
}

export function openVsockMux(deps: ProxyDeps, rawPath: string, port: string): number {
  const path = absolutizeSocketPath(rawPath);
  const fd = connectUnixOrFail(deps, path);
  try {
    sendConnect(fd, path, port);
    skipOkLine(fd, path, port);
  } catch (e) {
    deps.close(fd);
    throw e;
  }
  return fd;
}

const UNIX_CTX = { family: "AF_UNIX", halfClose: true } as const;
const VSOCK_CTX = { family: "AF_VSOCK", halfClose: true } as const;
// No half-close on vsock-mux: a host-side SHUT_WR tears down both directions there (vm-lab-notes).
const VSOCK_MUX_CTX = { family: "AF_UNIX", halfClose: false } as const;

export function proxyUnix(deps: ProxyDeps, rawPath: string, transport: Transport = "auto"): Promise<void> {
  return handOff(deps, openUnix(deps, rawPath), { ...UNIX_CTX, transport });
}

export function proxyVsockCid(deps: ProxyDeps, cid: number, portArg: string, transport: Transport = "auto"): Promise<void> {
  return handOff(deps, openVsockCid(deps, cid, portArg), { ...VSOCK_CTX, transport });
}

export function proxyVsock(deps: ProxyDeps, cidArg: string, portArg: string, transport: Transport = "auto"): Promise<void> {
  return handOff(deps, openVsock(deps, cidArg, portArg), { ...VSOCK_CTX, transport });
}

export function proxyVsockMux(deps: ProxyDeps, rawPath: string, port: string, transport: Transport = "auto"): Promise<void> {
  return handOff(deps, openVsockMux(deps, rawPath, port), { ...VSOCK_MUX_CTX, transport });
}

/** Run the proxy for argv (without the program name). Returns the exit status; errors are logged. */
export async function runProxy(args: readonly string[], deps: ProxyDeps = realDeps): Promise<number> {
  log.parseEnvironment();
  try {
    // Arguments as byte strings, as systemd's C sees them: a socket path need not be UTF-8. Every message
    // built from them is a byte string too, and is printed byte for byte.
    await proxy(rawArgs(args), deps);
    return 0;
  } catch (e) {
    const message = e instanceof ProxyError || e instanceof SysError ? e.message : utf8Bytes(`Unexpected error: ${String(e)}`);
    log.logBytes(LOG_ERR, message);
    return 1;
  }
}

/** The environment variable that sets --wait for ssh_config use (the command line wins). */
export const WAIT_ENV = "SYSTEMD_SSH_PROXY_WAIT";

async function proxy(args: readonly string[], deps: ProxyDeps): Promise<void> {
  const { host, port, transport, waitMs: argWait } = parseProxyArgs(args);
  const spec = parseHostSpec(host);
  if (spec === null) throw new ProxyError(`Don't know how to parse host name specification: ${host}`, "EINVAL");
  const env = process.env[WAIT_ENV];
  const waitMs = argWait ?? (env !== undefined && env !== "" ? parseWaitSeconds(env, `$${WAIT_ENV}`) : 0);

  let open: () => number;
  let ctx: Omit<HandOffContext, "transport">;
  switch (spec.kind) {
    case "vsock":
      open = () => openVsock(deps, spec.cid, port);
      ctx = VSOCK_CTX;
      break;
    case "unix":
      open = () => openUnix(deps, spec.path);
      ctx = UNIX_CTX;
      break;
    case "vsock-mux":
      open = () => openVsockMux(deps, spec.path, port);
      ctx = VSOCK_MUX_CTX;
      break;
    case "machine": {
      // Resolved through machined once; --wait does not apply (the machine must be registered).
      // machined speaks JSON, i.e. text: the name goes there decoded, and its messages come back as text.
      const { proxyMachine } = await import("./machine.ts");
      try {
        return await proxyMachine(deps, Buffer.from(spec.name, "latin1").toString("utf8"), port, transport);
      } catch (e) {
        throw e instanceof ProxyError ? new ProxyError(utf8Bytes(e.message), e.code) : e;
      }
    }
  }
  const fd =
    waitMs > 0
      ? await retryUntilUp(open, { timeoutMs: waitMs, ...DEFAULT_DELAYS }, `${host} port ${port}`, {
          // e.message names the path as the byte string it is.
          onRetry: (e, n, delay) => log.logBytes(LOG_DEBUG, `Not up yet (attempt ${n}: ${e.message}), retrying in ${delay} ms.`),
        })
      : open();
  return handOff(deps, fd, { ...ctx, transport });
}

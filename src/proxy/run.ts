// systemd-ssh-proxy HOST PORT: connect to what HOST names, then hand the connected socket to ssh over
// stdout (ProxyUseFdpass), or relay its bytes for clients that cannot take a descriptor (transport.ts,
// relay.ts). This is the hot path, run once per ssh connection: it imports only the socket
// calls and the handshakes it needs; logging, the CLI and varlink load only when used.

import { SysError } from "../../ffi/errors.ts";
import * as sock from "../../ffi/socket.ts";
import { log } from "../shared/log.ts";
import { parseVsockCid, parseVsockPort, VMADDR_CID_ANY } from "../shared/vsock-address.ts";
import { parseProxyArgs, type Transport } from "./args.ts";
import { ProxyError } from "./errors.ts";
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
  connectUnix: sock.connectUnix,
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

/** What systemd prints for a failed syscall: "<what>: <strerror>". Non-syscall errors pass through. */
function wrap(e: unknown, what: string): unknown {
  return e instanceof SysError ? new ProxyError(`${what}: ${e.strerror}`, e.code) : e;
}

async function handOff(deps: ProxyDeps, fd: number, ctx: HandOffContext): Promise<void> {
  let result: HandOffResult | void;
  try {
    result = await deps.handOff(fd, ctx);
  } catch (e) {
    throw wrap(e, "Failed to send socket via STDOUT");
  } finally {
    deps.close(fd);
  }
  if (result !== "relayed") log.debug(`Successfully sent ${ctx.family} socket via STDOUT.`);
}

function connectUnixOrFail(deps: ProxyDeps, path: string): number {
  try {
    return deps.connectUnix(path);
  } catch (e) {
    if (e instanceof SysError && e.syscall === "socket") throw wrap(e, "Failed to allocate AF_UNIX socket");
    throw wrap(e, `Failed to connect to AF_UNIX socket ${path}`);
  }
}

export function proxyUnix(deps: ProxyDeps, rawPath: string, transport: Transport = "auto"): Promise<void> {
  const path = absolutizeSocketPath(rawPath);
  return handOff(deps, connectUnixOrFail(deps, path), { family: "AF_UNIX", transport, halfClose: true });
}

export function proxyVsockCid(deps: ProxyDeps, cid: number, portArg: string, transport: Transport = "auto"): Promise<void> {
  const port = parseVsockPort(portArg);
  if (port === null) throw new ProxyError(`Failed to parse vsock port: ${portArg}`, "EINVAL");
  let fd: number;
  try {
    fd = deps.connectVsock(cid, port);
  } catch (e) {
    if (e instanceof SysError && e.syscall === "socket") throw wrap(e, "Failed to allocate AF_VSOCK socket");
    throw wrap(e, `Failed to connect to vsock:${cid}:${port}`);
  }
  return handOff(deps, fd, { family: "AF_VSOCK", transport, halfClose: true });
}

export function proxyVsock(deps: ProxyDeps, cidArg: string, portArg: string, transport: Transport = "auto"): Promise<void> {
  const cid = parseVsockCid(cidArg);
  if (cid === null) throw new ProxyError(`Failed to parse vsock cid: ${cidArg}`, "EINVAL");
  // "any", "-1" and 4294967295 parse (they are valid for listening), but name no peer.
  if (cid === VMADDR_CID_ANY) throw new ProxyError("Cannot use VMADDR_CID_ANY to connect to a remote host.", "EINVAL");
  return proxyVsockCid(deps, cid, portArg, transport);
}

export function proxyVsockMux(deps: ProxyDeps, rawPath: string, port: string, transport: Transport = "auto"): Promise<void> {
  const path = absolutizeSocketPath(rawPath);
  const fd = connectUnixOrFail(deps, path);
  try {
    sendConnect(fd, path, port);
    skipOkLine(fd, path, port);
  } catch (e) {
    deps.close(fd);
    throw e;
  }
  return handOff(deps, fd, { family: "AF_UNIX", transport, halfClose: false });
}

/** Run the proxy for argv (without the program name). Returns the exit status; errors are logged. */
export async function runProxy(args: readonly string[], deps: ProxyDeps = realDeps): Promise<number> {
  log.parseEnvironment();
  try {
    await proxy(args, deps);
    return 0;
  } catch (e) {
    log.error(e instanceof ProxyError ? e.message : e instanceof SysError ? e.message : `Unexpected error: ${String(e)}`);
    return 1;
  }
}

async function proxy(args: readonly string[], deps: ProxyDeps): Promise<void> {
  const { host, port, transport } = parseProxyArgs(args);
  const spec = parseHostSpec(host);
  if (spec === null) throw new ProxyError(`Don't know how to parse host name specification: ${host}`, "EINVAL");
  switch (spec.kind) {
    case "vsock":
      return proxyVsock(deps, spec.cid, port, transport);
    case "unix":
      return proxyUnix(deps, spec.path, transport);
    case "vsock-mux":
      return proxyVsockMux(deps, spec.path, port, transport);
    case "machine": {
      const { proxyMachine } = await import("./machine.ts");
      return proxyMachine(deps, spec.name, port, transport);
    }
  }
}

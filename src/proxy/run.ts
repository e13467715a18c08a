// systemd-ssh-proxy HOST PORT: connect to what HOST names, then hand the connected socket to ssh over
// stdout (ProxyUseFdpass). This is the hot path, run once per ssh connection: it imports only the socket
// calls and the handshakes it needs; logging, the CLI and varlink load only when used.

import { SysError } from "../../ffi/errors.ts";
import * as sock from "../../ffi/socket.ts";
import { log } from "../shared/log.ts";
import { parseVsockCid, parseVsockPort, VMADDR_CID_ANY } from "../shared/vsock-address.ts";
import { ProxyError } from "./errors.ts";
import { absolutizeSocketPath, parseHostSpec } from "./host-spec.ts";
import { sendConnect, skipOkLine } from "./vsock-mux.ts";

/** The effects the proxy has on the world, injectable so tests can stop before a vsock connect. */
export interface ProxyDeps {
  connectUnix(path: string): number;
  connectVsock(cid: number, port: number): number;
  /** Hand the connected socket to our caller (ssh) and return when it has it. */
  handOff(fd: number): void;
  close(fd: number): void;
}

const STDOUT = 1;

export const realDeps: ProxyDeps = {
  connectUnix: sock.connectUnix,
  connectVsock: sock.connectVsock,
  handOff(fd) {
    sock.sendFd(STDOUT, fd);
  },
  close: sock.close,
};

/** What systemd prints for a failed syscall: "<what>: <strerror>". Non-syscall errors pass through. */
function wrap(e: unknown, what: string): unknown {
  return e instanceof SysError ? new ProxyError(`${what}: ${e.strerror}`, e.code) : e;
}

function handOff(deps: ProxyDeps, fd: number, family: string): void {
  try {
    deps.handOff(fd);
  } catch (e) {
    throw wrap(e, "Failed to send socket via STDOUT");
  } finally {
    deps.close(fd);
  }
  log.debug(`Successfully sent ${family} socket via STDOUT.`);
}

function connectUnixOrFail(deps: ProxyDeps, path: string): number {
  try {
    return deps.connectUnix(path);
  } catch (e) {
    if (e instanceof SysError && e.syscall === "socket") throw wrap(e, "Failed to allocate AF_UNIX socket");
    throw wrap(e, `Failed to connect to AF_UNIX socket ${path}`);
  }
}

export function proxyUnix(deps: ProxyDeps, rawPath: string): void {
  const path = absolutizeSocketPath(rawPath);
  handOff(deps, connectUnixOrFail(deps, path), "AF_UNIX");
}

export function proxyVsockCid(deps: ProxyDeps, cid: number, portArg: string): void {
  const port = parseVsockPort(portArg);
  if (port === null) throw new ProxyError(`Failed to parse vsock port: ${portArg}`, "EINVAL");
  let fd: number;
  try {
    fd = deps.connectVsock(cid, port);
  } catch (e) {
    if (e instanceof SysError && e.syscall === "socket") throw wrap(e, "Failed to allocate AF_VSOCK socket");
    throw wrap(e, `Failed to connect to vsock:${cid}:${port}`);
  }
  handOff(deps, fd, "AF_VSOCK");
}

export function proxyVsock(deps: ProxyDeps, cidArg: string, portArg: string): void {
  const cid = parseVsockCid(cidArg);
  if (cid === null) throw new ProxyError(`Failed to parse vsock cid: ${cidArg}`, "EINVAL");
  // "any", "-1" and 4294967295 parse (they are valid for listening), but name no peer.
  if (cid === VMADDR_CID_ANY) throw new ProxyError("Cannot use VMADDR_CID_ANY to connect to a remote host.", "EINVAL");
  proxyVsockCid(deps, cid, portArg);
}

export function proxyVsockMux(deps: ProxyDeps, rawPath: string, port: string): void {
  const path = absolutizeSocketPath(rawPath);
  const fd = connectUnixOrFail(deps, path);
  try {
    sendConnect(fd, path, port);
    skipOkLine(fd, path, port);
  } catch (e) {
    deps.close(fd);
    throw e;
  }
  handOff(deps, fd, "AF_UNIX");
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
  if (args.length !== 2) throw new ProxyError("Expected two arguments: host and port.", "EINVAL");
  const [host, port] = args as [string, string];
  const spec = parseHostSpec(host);
  if (spec === null) throw new ProxyError(`Don't know how to parse host name specification: ${host}`, "EINVAL");
  switch (spec.kind) {
    case "vsock":
      return proxyVsock(deps, spec.cid, port);
    case "unix":
      return proxyUnix(deps, spec.path);
    case "vsock-mux":
      return proxyVsockMux(deps, spec.path, port);
    case "machine": {
      const { proxyMachine } = await import("./machine.ts");
      return proxyMachine(deps, spec.name, port);
    }
  }
}

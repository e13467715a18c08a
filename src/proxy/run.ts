// systemd-ssh-proxy HOST PORT: connect to what HOST names, then hand the connected socket to ssh over
// stdout (ProxyUseFdpass), or relay its bytes for clients that cannot take a descriptor (transport.ts,
// relay.ts). This is the hot path, run once per ssh connection: it imports only the socket
// calls and the handshakes it needs; logging, the CLI, varlink (machine/) and libvirt (qemu/) load only
// when used.

import { SysError } from "../../ffi/errors.ts";
import * as sock from "../../ffi/socket.ts";
import { log, LOG_DEBUG, LOG_ERR } from "../shared/log.ts";
import { byteArray, rawArgs, utf8Bytes } from "../shared/raw-bytes.ts";
import { parseProxyArgs, type Transport } from "./args.ts";
import { DEFAULT_DELAYS, parseWaitSeconds, retryUntilUp } from "./boot-wait.ts";
import { Failure, withCause } from "../shared/failure.ts";
import { parseHostSpec, type HostSpec } from "./host-spec.ts";
import type { QemuSpec } from "./qemu.ts";
import { resolveTarget, type Lookups, type Target } from "./target.ts";
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
   * half-close makes real multiplexers tear down both directions (measured with vhost-device-vsock).
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

// Each connection in three steps: resolve the host to a target (target.ts; machine/ and qemu/ look it
// up), open it (connect, and for vsock-mux the handshake), hand the connected socket to ssh. --wait
// repeats the open step while the VM is booting (boot-wait.ts); for qemu/ the lookup too, since a
// starting domain has no CID yet.

/** Connect to a target; for vsock-mux also the CONNECT/OK handshake. Throws Failure with systemd's message. */
export function openTarget(deps: ProxyDeps, target: Target): number {
  switch (target.kind) {
    case "unix":
      return connectUnixOrFail(deps, target.path);
    case "vsock":
      try {
        return deps.connectVsock(target.cid, target.port);
      } catch (e) {
        if (e instanceof SysError && e.syscall === "socket") throw withCause(e, "Failed to allocate AF_VSOCK socket");
        throw withCause(e, `Failed to connect to vsock:${target.cid}:${target.port}`);
      }
    case "vsock-mux": {
      const fd = connectUnixOrFail(deps, target.path);
      try {
        sendConnect(fd, target.path, target.port);
        skipOkLine(fd, target.path, target.port);
      } catch (e) {
        deps.close(fd);
        throw e;
      }
      return fd;
    }
  }
}

const CTX: Record<Target["kind"], Omit<HandOffContext, "transport">> = {
  unix: { family: "AF_UNIX", halfClose: true },
  vsock: { family: "AF_VSOCK", halfClose: true },
  // No half-close on vsock-mux: a host-side SHUT_WR tears down both directions there.
  "vsock-mux": { family: "AF_UNIX", halfClose: false },
};

const noLookup = (): never => {
  throw new Error("no lookup for this host form");
};
const NO_LOOKUPS: Lookups = { machine: noLookup, qemu: noLookup };

/**
 * A lookup that speaks text (machined's JSON, libvirt's UTF-8) behind the proxy's byte strings: the name
 * goes in decoded, its messages come back encoded, to be printed byte for byte.
 */
function asText<A, R>(f: (arg: A) => R, decode: (arg: A) => A): (arg: A) => R {
  return (arg) => {
    try {
      return f(decode(arg));
    } catch (e) {
      throw e instanceof Failure ? new Failure(utf8Bytes(e.message), e.code) : e;
    }
  };
}
const fromBytes = (s: string) => Buffer.from(s, "latin1").toString("utf8");

/** The real lookups a host spec needs, each module loaded only for its own host form. */
export async function lookupsFor(spec: HostSpec): Promise<Lookups> {
  if (spec.kind === "machine") {
    const { lookupMachine } = await import("./machine.ts");
    return { ...NO_LOOKUPS, machine: asText((name: string) => lookupMachine(name), fromBytes) };
  }
  if (spec.kind === "qemu") {
    const { realLibvirtDeps, resolveQemuCid } = await import("./qemu.ts");
    const libvirt = await realLibvirtDeps();
    const qemu = (q: QemuSpec) => resolveQemuCid(q, libvirt);
    return { ...NO_LOOKUPS, qemu: asText(qemu, (q) => ({ ...q, domain: fromBytes(q.domain) })) };
  }
  return NO_LOOKUPS;
}

/** HOST (a byte string) parsed, with systemd's message when no scheme matches. */
export function parseHostOrFail(host: string): HostSpec {
  const spec = parseHostSpec(host);
  if (spec === null) throw new Failure(`Don't know how to parse host name specification: ${host}`, "EINVAL");
  return spec;
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
    const message = e instanceof Failure || e instanceof SysError ? e.message : utf8Bytes(`Unexpected error: ${String(e)}`);
    log.logBytes(LOG_ERR, message);
    return 1;
  }
}

/** The environment variable that sets --wait for ssh_config use (the command line wins). */
export const WAIT_ENV = "SYSTEMD_SSH_PROXY_WAIT";

async function proxy(args: readonly string[], deps: ProxyDeps): Promise<void> {
  const { host, port, transport, waitMs: argWait } = parseProxyArgs(args);
  const spec = parseHostOrFail(host);
  const env = process.env[WAIT_ENV];
  const waitMs = argWait ?? (env !== undefined && env !== "" ? parseWaitSeconds(env, `$${WAIT_ENV}`) : 0);
  const lookups = await lookupsFor(spec);
  const resolve = () => resolveTarget(spec, port, lookups);

  let fd: number;
  let target: Target;
  // machine/: resolved through machined once; --wait does not apply (the machine must be registered).
  if (waitMs > 0 && spec.kind !== "machine") {
    // qemu/: the lookup is retried too (a starting domain has no CID yet); the others resolve once.
    const fixed = spec.kind === "qemu" ? null : resolve();
    fd = await retryUntilUp(
      () => openTarget(deps, (target = fixed ?? resolve())),
      { timeoutMs: waitMs, ...DEFAULT_DELAYS },
      `${host} port ${port}`,
      // e.message names the path as the byte string it is.
      { onRetry: (e, n, delay) => log.logBytes(LOG_DEBUG, `Not up yet (attempt ${n}: ${e.message}), retrying in ${delay} ms.`) },
    );
  } else {
    target = resolve();
    fd = openTarget(deps, target);
  }
  return handOff(deps, fd, { ...CTX[target!.kind], transport });
}

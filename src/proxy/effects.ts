// The proxy's effects on the world, behind ProxyEffects so tests can stop before a vsock connect: the
// connects, the hand-off of the connected socket to ssh (descriptor passing or relaying, transport.ts),
// and the machine/ and qemu/ lookups. This is on the hot path: the relay (relay.ts), varlink (machine.ts)
// and libvirt (qemu.ts) load only when used, each for its own host form.

import type { SysError } from "../../ffi/errors.ts";
import { exitNow } from "../../ffi/process.ts";
import * as sock from "../../ffi/socket.ts";
import { log } from "../shared/log.ts";
import { Failure } from "../shared/failure.ts";
import { utf8Bytes } from "../shared/raw-bytes.ts";
import type { HandOffContext, HostSpec, LibvirtListing, Lookups, MachineListing, QemuSpec } from "./core.ts";
import { peerCannotTakeFd, relayReason } from "./transport.ts";

/** "sent": the socket went to ssh over stdout. "relayed": we copied its bytes until both sides were done. */
export type HandOffResult = "sent" | "relayed";

export interface ProxyEffects {
  connectUnix(path: string): number;
  connectVsock(cid: number, port: number): number;
  /** Hand the connected socket to our caller (ssh) and return when it has it (or the relay is over). */
  handOff(fd: number, ctx: HandOffContext): HandOffResult | void | Promise<HandOffResult | void>;
  close(fd: number): void;
  /** The lookups a host spec needs (core.ts's resolveTarget asks them). */
  lookups(spec: HostSpec): Promise<Lookups>;
  /** End the process with this status (tests return it instead). */
  exit(code: number): number;
}

const STDIN = 0;
const STDOUT = 1;

async function handOff(fd: number, ctx: HandOffContext): Promise<HandOffResult> {
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
}

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

/** A byte string decoded as the UTF-8 it holds. */
const asUtf8 = (s: string) => Buffer.from(s, "latin1").toString("utf8");

/** The real lookups a host spec needs, each module loaded only for its own host form. */
async function lookups(spec: HostSpec): Promise<Lookups> {
  if (spec.kind === "machine") {
    const { lookupMachine } = await import("./machine.ts");
    return { ...NO_LOOKUPS, machine: asText((name: string) => lookupMachine(name), asUtf8) };
  }
  if (spec.kind === "qemu") {
    const { realLibvirt, resolveQemuCid } = await import("./qemu.ts");
    const libvirt = await realLibvirt();
    const qemu = (q: QemuSpec) => resolveQemuCid(q, libvirt);
    return { ...NO_LOOKUPS, qemu: asText(qemu, (q) => ({ ...q, domain: asUtf8(q.domain) })) };
  }
  return NO_LOOKUPS;
}

export const realEffects: ProxyEffects = {
  // Paths are byte strings (see main.ts): the kernel gets exactly the bytes ssh gave us.
  connectUnix: (path) => sock.connectUnix(path),
  connectVsock: sock.connectVsock,
  handOff,
  close: sock.close,
  lookups,
  // ssh waits for its ProxyCommand to exit. Everything the proxy writes (the descriptor, relayed bytes,
  // log lines) is written synchronously, so the runtime's teardown is skipped.
  exit: exitNow,
};

/** machined's machines in the user's scope and the system's, each with where machine/NAME leads (`systemd-ssh machines`). */
export async function listMachines(env: Record<string, string | undefined> = process.env): Promise<MachineListing[]> {
  const { listScope, SCOPES } = await import("./machine.ts");
  return SCOPES.map((scope) => listScope(scope, env));
}

/** The libvirt domains with a CID on each URI qemu/NAME asks; null when libvirt is not installed. */
export async function listLibvirtDomains(): Promise<LibvirtListing[] | null> {
  const { listLibvirt, realLibvirt } = await import("./qemu.ts");
  return listLibvirt(await realLibvirt());
}

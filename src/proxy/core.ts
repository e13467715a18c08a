// The proxy's pure decisions: what HOST names (a host spec), where it leads (a target, once machine/ and
// qemu/ are looked up through injected lookups), and how the connected socket is handed on. No I/O: the
// lookups and the sockets are effects.ts's; main.ts wires the two together, and `systemd-ssh resolve` and
// `systemd-ssh machines` (src/cli/) ask the same functions.
//
// The host argument of `systemd-ssh-proxy HOST PORT`: a scheme, then '/' or '%' (scp and rsync treat a
// host with a '/' as a local path, so '%' stands in for it), then the scheme's own part. systemd's four
// schemes, and libvirt-ssh-proxy's qemu/, qemu:system/ and qemu:session/ (src/proxy/qemu.ts).

import { VMADDR_CID_ANY } from "../../ffi/sockaddr.ts";
import { Failure } from "../shared/failure.ts";
import { parseVsockCid, parseVsockPort } from "../shared/vsock-address.ts";
import type { Transport } from "./args.ts";
import { parseWaitSeconds } from "./boot-wait.ts";

export type QemuScope = "system" | "session";

/** The qemu host forms: `scope` null for plain qemu/X (system, then session). */
export interface QemuSpec {
  scope: QemuScope | null;
  domain: string;
}

export type HostSpec =
  | { kind: "vsock"; cid: string }
  | { kind: "unix"; path: string }
  | { kind: "vsock-mux"; path: string }
  | { kind: "machine"; name: string }
  | ({ kind: "qemu" } & QemuSpec);

/** The text after `prefix` and one separator, or null: "vsock-mux/x" does not match prefix "vsock". */
function afterSeparator(host: string, prefix: string): string | null {
  if (!host.startsWith(prefix)) return null;
  const sep = host[prefix.length];
  return sep === "/" || sep === "%" ? host.slice(prefix.length + 1) : null;
}

/** Parse the host; null when no scheme matches. The order of the checks is systemd's. */
function parseHostSpec(host: string): HostSpec | null {
  let rest = afterSeparator(host, "vsock");
  if (rest !== null) return { kind: "vsock", cid: rest };
  rest = afterSeparator(host, "unix");
  if (rest !== null) return { kind: "unix", path: rest };
  rest = afterSeparator(host, "vsock-mux");
  if (rest !== null) return { kind: "vsock-mux", path: rest };
  rest = afterSeparator(host, "machine");
  if (rest !== null) return { kind: "machine", name: rest };
  // libvirt-ssh-proxy's forms (not systemd's); no other scheme starts with "qemu".
  rest = afterSeparator(host, "qemu");
  if (rest !== null) return { kind: "qemu", scope: null, domain: rest };
  for (const scope of ["system", "session"] as const) {
    rest = afterSeparator(host, `qemu:${scope}`);
    if (rest !== null) return { kind: "qemu", scope, domain: rest };
  }
  return null;
}

/** HOST (a byte string) parsed, with systemd's message when no scheme matches. */
export function parseHost(host: string): HostSpec {
  const spec = parseHostSpec(host);
  if (spec === null) throw new Failure(`Don't know how to parse host name specification: ${host}`, "EINVAL");
  return spec;
}

/** Paths are absolute unless they start with "./"; systemd prepends '/' to anything else. */
function absolutizeSocketPath(path: string): string {
  return path.startsWith("/") || path.startsWith("./") ? path : `/${path}`;
}

/** The environment variable that sets --wait for ssh_config use (the command line wins). */
export const WAIT_ENV = "SYSTEMD_SSH_PROXY_WAIT";

/** How long to keep trying, in ms (0: once): --wait=, else $SYSTEMD_SSH_PROXY_WAIT's value, else 0. */
export function waitTime(argWaitMs: number | null, envValue: string | undefined): number {
  if (argWaitMs !== null) return argWaitMs;
  return envValue !== undefined && envValue !== "" ? parseWaitSeconds(envValue, `$${WAIT_ENV}`) : 0;
}

export type Target =
  | { kind: "unix"; path: string }
  | { kind: "vsock"; cid: number; port: number }
  | { kind: "vsock-mux"; path: string; port: string };

/** machined's two instances: the user's (asked first) and the system's. */
export type RuntimeScope = "user" | "system";

/** Where a registered machine is reached: its exported sshd socket, or its CID. */
export type MachineTarget = { kind: "container"; path: string } | { kind: "vm"; cid: number };

/** The lookups machine/ and qemu/ need. Both throw Failure with the line to print. */
export interface Lookups {
  /** A registered machine: its exported sshd socket (checked to be one) or its CID. */
  machine(name: string): MachineTarget;
  /** A libvirt domain's vsock CID. */
  qemu(spec: QemuSpec): number;
}

function vsockPort(portArg: string): number {
  const port = parseVsockPort(portArg);
  if (port === null) throw new Failure(`Failed to parse vsock port: ${portArg}`, "EINVAL");
  return port;
}

/** Resolve a parsed host and the port argument to a target, with systemd's messages and order of checks. */
export function resolveTarget(spec: HostSpec, port: string, lookups: Lookups): Target {
  switch (spec.kind) {
    case "unix":
      return { kind: "unix", path: absolutizeSocketPath(spec.path) };
    case "vsock-mux":
      return { kind: "vsock-mux", path: absolutizeSocketPath(spec.path), port };
    case "vsock": {
      const cid = parseVsockCid(spec.cid);
      if (cid === null) throw new Failure(`Failed to parse vsock cid: ${spec.cid}`, "EINVAL");
      // "any", "-1" and 4294967295 parse (they are valid for listening), but name no peer.
      if (cid === VMADDR_CID_ANY) throw new Failure("Cannot use VMADDR_CID_ANY to connect to a remote host.", "EINVAL");
      return { kind: "vsock", cid, port: vsockPort(port) };
    }
    case "machine": {
      // systemd looks the machine up before it parses the port.
      const m = lookups.machine(spec.name);
      return m.kind === "container" ? { kind: "unix", path: m.path } : { kind: "vsock", cid: m.cid, port: vsockPort(port) };
    }
    case "qemu": {
      // libvirt-ssh-proxy parses the port first: a bad one never reaches libvirt.
      const p = vsockPort(port);
      return { kind: "vsock", cid: lookups.qemu({ scope: spec.scope, domain: spec.domain }), port: p };
    }
  }
}

/** One line naming the target: `vsock CID 42 port 22`, `unix /run/…`, `vsock-mux /path port 22`. */
export function describeTarget(t: Target): string {
  switch (t.kind) {
    case "unix":
      return `unix ${t.path}`;
    case "vsock":
      return `vsock CID ${t.cid} port ${t.port}`;
    case "vsock-mux":
      return `vsock-mux ${t.path} port ${t.port}`;
  }
}

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

const FAMILY: Record<Target["kind"], Omit<HandOffContext, "transport">> = {
  unix: { family: "AF_UNIX", halfClose: true },
  vsock: { family: "AF_VSOCK", halfClose: true },
  "vsock-mux": { family: "AF_UNIX", halfClose: false },
};

export function handOffContext(target: Target, transport: Transport): HandOffContext {
  return { ...FAMILY[target.kind], transport };
}

/** A machine as `systemd-ssh machines` lists it: where machine/NAME leads, or why it cannot. */
export interface ListedMachine {
  name: string;
  class: string;
  service: string;
  target: MachineTarget | null;
  why: string | null;
}

/** One machined instance's machines, or why it cannot be asked. */
export type MachineListing =
  | { scope: RuntimeScope; ok: true; machines: ListedMachine[] }
  | { scope: RuntimeScope; ok: false; error: string };

/** One libvirt URI's domains that have a usable CID, or why the URI cannot be listed. */
export type LibvirtListing =
  | { scope: QemuScope; uri: string; ok: true; domains: { name: string; cid: number }[] }
  | { scope: QemuScope; uri: string; ok: false; error: string };

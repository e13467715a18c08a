// Where a host spec leads, as data: the pure step between parsing HOST PORT and connecting. machine/ and
// qemu/ need a lookup (machined, libvirt), which is injected; the other forms are parsed only. The proxy
// opens the target (run.ts); `systemd-ssh resolve` prints it (src/cli/resolve.ts).

import { parseVsockCid, parseVsockPort, VMADDR_CID_ANY } from "../shared/vsock-address.ts";
import { Failure } from "../shared/failure.ts";
import { absolutizeSocketPath, type HostSpec } from "./host-spec.ts";
import type { QemuSpec } from "./qemu.ts";

export type Target =
  | { kind: "unix"; path: string }
  | { kind: "vsock"; cid: number; port: number }
  | { kind: "vsock-mux"; path: string; port: string };

/** The lookups machine/ and qemu/ need. Both throw Failure with the line to print. */
export interface Lookups {
  /** A registered machine: its exported sshd socket (checked to be one) or its CID. */
  machine(name: string): { kind: "container"; path: string } | { kind: "vm"; cid: number };
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

// AF_VSOCK CIDs and ports as systemd spells them (vsock_parse_cid()/vsock_parse_port() in
// src/basic/socket-util.c): the CID names, otherwise safe_atou() numbers.

import { VMADDR_CID_ANY, VMADDR_CID_HOST, VMADDR_CID_HYPERVISOR, VMADDR_CID_LOCAL, VMADDR_PORT_ANY } from "../../ffi/sockaddr.ts";
import { safeAtou } from "./parse-number.ts";

const CID_NAMES: Record<string, number> = {
  hypervisor: VMADDR_CID_HYPERVISOR,
  local: VMADDR_CID_LOCAL,
  host: VMADDR_CID_HOST,
  // systemd 262 also reads these as VMADDR_CID_ANY, which only makes sense for listening sockets.
  any: VMADDR_CID_ANY,
  "-1": VMADDR_CID_ANY,
};

/** A CID, or null when systemd would refuse it. */
export function parseVsockCid(s: string): number | null {
  const named = Object.hasOwn(CID_NAMES, s) ? CID_NAMES[s] : undefined;
  if (named !== undefined) return named;
  const r = safeAtou(s);
  return r.ok ? r.value : null;
}

/** A port, or null when systemd would refuse it: anything safe_atou() refuses, and VMADDR_PORT_ANY. */
export function parseVsockPort(s: string): number | null {
  const r = safeAtou(s);
  return r.ok && r.value !== VMADDR_PORT_ANY ? r.value : null;
}

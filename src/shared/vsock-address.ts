// AF_VSOCK CIDs and ports as systemd spells them (vsock_parse_cid()/vsock_parse_port() in
// src/basic/socket-util.c): the CID names, otherwise safe_atou() numbers.

import { VMADDR_CID_ANY, VMADDR_CID_HOST, VMADDR_CID_HYPERVISOR, VMADDR_CID_LOCAL, VMADDR_PORT_ANY } from "../../ffi/sockaddr.ts";
import { safeAtou } from "./parse-number.ts";

/** A CID's name, if `s` is one. */
function namedCid(s: string): number | undefined {
  switch (s) {
    case "hypervisor":
      return VMADDR_CID_HYPERVISOR;
    case "local":
      return VMADDR_CID_LOCAL;
    case "host":
      return VMADDR_CID_HOST;
    // systemd 262 also reads these as VMADDR_CID_ANY, which only makes sense for listening sockets.
    case "any":
    case "-1":
      return VMADDR_CID_ANY;
  }
  return undefined;
}

/** A CID, or null when systemd would refuse it. */
export function parseVsockCid(s: string): number | null {
  const named = namedCid(s);
  if (named !== undefined) return named;
  const r = safeAtou(s);
  return r.ok ? r.value : null;
}

/** A port, or null when systemd would refuse it: anything safe_atou() refuses, and VMADDR_PORT_ANY. */
export function parseVsockPort(s: string): number | null {
  const r = safeAtou(s);
  return r.ok && r.value !== VMADDR_PORT_ANY ? r.value : null;
}

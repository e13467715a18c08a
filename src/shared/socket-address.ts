// Socket addresses as systemd spells them: socket_address_parse() (src/shared/socket-netlink.c) and
// socket_address_print() (src/basic/socket-util.c), including glibc's inet_pton()/inet_ntop() rules, the
// C-style escaping of AF_UNIX paths, and the bases safe_atou() accepts for ports.
//
// Pure: interface names are resolved through the injected SocketEnv. Strings are byte strings (latin1).

import type { ErrnoName } from "../../ffi/errno.ts";
import { SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET } from "../../ffi/arch.ts";
import { SUN_PATH_SIZE, VMADDR_CID_ANY, VMADDR_PORT_ANY } from "../../ffi/sockaddr.ts";
import { safeAtou, type ParseResult } from "./parse-number.ts";
import { parseVsockCid } from "./vsock-address.ts";

export type SocketAddress =
  | { family: "unix"; /** "@name" for abstract sockets, else the absolute path */ path: string }
  | { family: "inet"; addr: Uint8Array; port: number }
  | { family: "inet6"; addr: Uint8Array; port: number; scopeId: number }
  | { family: "vsock"; cid: number; port: number; /** 0, or SOCK_STREAM/SOCK_DGRAM/SOCK_SEQPACKET */ type: number };

export interface SocketEnv {
  /** socket_ipv6_is_supported(): /proc/net/if_inet6 exists. */
  ipv6Supported(): boolean;
  /** An interface name to its index; an errno name (e.g. "ENODEV") when there is none. */
  resolveInterface(name: string): number | ErrnoName;
  /** An interface index to its name, or null when there is no such interface. */
  interfaceName(index: number): string | null;
}

export type Parsed = { ok: true; address: SocketAddress } | { ok: false; errno: ErrnoName };

const IFNAMSIZ = 16;
const ALTIFNAMSIZ = 128;

const fail = (errno: ErrnoName): Parsed => ({ ok: false, errno });


/** inet_pton(AF_INET) as glibc does it: exactly four decimal octets, no leading zeros. */
function inetPton4(s: string): Uint8Array | null {
  const out = new Uint8Array(4);
  let octets = 0;
  let sawDigit = false;
  let cur = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    if (ch >= 48 && ch <= 57) {
      const v = out[cur]! * 10 + (ch - 48);
      if (sawDigit && out[cur] === 0) return null;
      if (v > 255) return null;
      out[cur] = v;
      if (!sawDigit) {
        if (++octets > 4) return null;
        sawDigit = true;
      }
    } else if (ch === 46 && sawDigit) {
      if (octets === 4) return null;
      cur++;
      sawDigit = false;
    } else {
      return null;
    }
  }
  return octets < 4 ? null : out;
}

function hexValue(ch: number): number {
  if (ch >= 48 && ch <= 57) return ch - 48;
  if (ch >= 97 && ch <= 102) return ch - 87;
  if (ch >= 65 && ch <= 70) return ch - 55;
  return -1;
}

/** inet_pton(AF_INET6) as glibc does it. */
function inetPton6(s: string): Uint8Array | null {
  const tmp = new Uint8Array(16);
  let tp = 0;
  let colonp = -1;
  let i = 0;
  const end = s.length;
  if (end === 0) return null;
  if (s[0] === ":") {
    i++;
    if (i === end || s[i] !== ":") return null;
  }
  let curtok = i;
  let digits = 0;
  let val = 0;
  while (i < end) {
    const ch = s.charCodeAt(i++);
    const d = hexValue(ch);
    if (d >= 0) {
      if (digits === 4) return null;
      val = (val << 4) | d;
      if (val > 0xffff) return null;
      digits++;
      continue;
    }
    if (ch === 58) {
      curtok = i;
      if (digits === 0) {
        if (colonp >= 0) return null;
        colonp = tp;
        continue;
      } else if (i === end) {
        return null;
      }
      if (tp + 2 > 16) return null;
      tmp[tp++] = (val >> 8) & 0xff;
      tmp[tp++] = val & 0xff;
      digits = 0;
      val = 0;
      continue;
    }
    if (ch === 46 && tp + 4 <= 16) {
      const v4 = inetPton4(s.slice(curtok));
      if (v4) {
        tmp.set(v4, tp);
        tp += 4;
        digits = 0;
        break;
      }
    }
    return null;
  }
  if (digits > 0) {
    if (tp + 2 > 16) return null;
    tmp[tp++] = (val >> 8) & 0xff;
    tmp[tp++] = val & 0xff;
  }
  if (colonp >= 0) {
    if (tp === 16) return null;
    const n = tp - colonp;
    const moved = tmp.slice(colonp, tp);
    tmp.fill(0, colonp, 16);
    tmp.set(moved, 16 - n);
    tp = 16;
  }
  return tp === 16 ? tmp : null;
}

/** inet_ntop(AF_INET6) as glibc does it. */
function inetNtop6(a: Uint8Array): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((a[2 * i]! << 8) | a[2 * i + 1]!);
  let best = { base: -1, len: 0 };
  let cur = { base: -1, len: 0 };
  for (let i = 0; i < 8; i++) {
    if (words[i] === 0) {
      if (cur.base === -1) cur = { base: i, len: 1 };
      else cur.len++;
    } else if (cur.base !== -1) {
      if (best.base === -1 || cur.len > best.len) best = cur;
      cur = { base: -1, len: 0 };
    }
  }
  if (cur.base !== -1 && (best.base === -1 || cur.len > best.len)) best = cur;
  if (best.base !== -1 && best.len < 2) best = { base: -1, len: 0 };
  let out = "";
  for (let i = 0; i < 8; i++) {
    if (best.base !== -1 && i >= best.base && i < best.base + best.len) {
      if (i === best.base) out += ":";
      continue;
    }
    if (i !== 0) out += ":";
    if (i === 6 && best.base === 0 && (best.len === 6 || (best.len === 5 && words[5] === 0xffff))) {
      out += `${a[12]}.${a[13]}.${a[14]}.${a[15]}`;
      return out;
    }
    out += words[i]!.toString(16);
  }
  if (best.base !== -1 && best.base + best.len === 8) out += ":";
  return out;
}

/** parse_ip_port(): safe_atou16() in systemd's bases, refusing leading whitespace and 0. */
function parseIpPort(s: string): ParseResult {
  if (s.length > 0 && " \t\n\r".includes(s[0]!)) return { ok: false, error: "EINVAL" };
  const r = safeAtou(s, { bits: 16 });
  if (!r.ok) return r;
  if (r.value === 0) return { ok: false, error: "EINVAL" };
  return r;
}

/** parse_ifindex(): safe_atoi() in systemd's bases, positive. */
function parseIfindex(s: string): number | null {
  const r = safeAtou(s, { bits: 32 });
  if (!r.ok || r.value <= 0 || r.value > 0x7fffffff) return null;
  return r.value;
}

/** ifname_valid_full(name, IFNAME_VALID_ALTERNATIVE|IFNAME_VALID_NUMERIC). */
function ifnameValid(p: string): boolean {
  if (p.length === 0) return false;
  if (parseIfindex(p) !== null) return true;
  if (p.length >= ALTIFNAMSIZ) return false;
  if (p === "." || p === ".." || p === "all" || p === "default") return false;
  let numeric = true;
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c >= 127 || c <= 32 || c === 58 || c === 47 || c === 37) return false;
    numeric = numeric && c >= 48 && c <= 57;
  }
  return !numeric;
}

function parseUnix(s: string): Parsed {
  if (s.length < 2) return fail("EINVAL");
  if (s.length + 1 > SUN_PATH_SIZE) return fail(s[0] === "@" ? "EINVAL" : "ENAMETOOLONG");
  return { ok: true, address: { family: "unix", path: s } };
}

function parseVsock(rest: string, type: number, cidAny: boolean): Parsed {
  const colon = rest.indexOf(":");
  if (colon < 0) return fail("EINVAL");
  const portText = rest.slice(colon + 1);
  const port = safeAtou(portText);
  if (!port.ok) return fail(port.error);
  if (port.value === VMADDR_PORT_ANY) return fail("EINVAL");
  const cidText = rest.slice(0, colon);
  let cid = VMADDR_CID_ANY;
  if (cidText !== "") {
    const parsed = !cidAny && (cidText === "any" || cidText === "-1") ? null : parseVsockCid(cidText);
    if (parsed === null) {
      const r = safeAtou(cidText);
      return fail(r.ok ? "EINVAL" : r.error);
    }
    cid = parsed;
  }
  return { ok: true, address: { family: "vsock", cid, port: port.value, type } };
}

const VSOCK_PREFIXES: ReadonlyArray<readonly [string, number]> = [
  ["vsock:", 0],
  ["vsock-dgram:", SOCK_DGRAM],
  ["vsock-seqpacket:", SOCK_SEQPACKET],
  ["vsock-stream:", SOCK_STREAM],
];

export interface ParseOptions {
  /** Accept "any" and "-1" as VMADDR_CID_ANY (systemd 258+; 257 refuses them). Default true. */
  vsockCidAny?: boolean;
}

/** socket_address_parse(). */
export function parseSocketAddress(s: string, env: SocketEnv, opts: ParseOptions = {}): Parsed {
  if (s[0] === "/" || s[0] === "@") return parseUnix(s);
  for (const [prefix, type] of VSOCK_PREFIXES) {
    if (s.startsWith(prefix)) return parseVsock(s.slice(prefix.length), type, opts.vsockCidAny ?? true);
  }

  const port = parseIpPort(s);
  if (!port.ok && port.error === "ERANGE") return fail("ERANGE");
  if (port.ok) {
    return env.ipv6Supported()
      ? { ok: true, address: { family: "inet6", addr: new Uint8Array(16), port: port.value, scopeId: 0 } }
      : { ok: true, address: { family: "inet", addr: new Uint8Array(4), port: port.value } };
  }

  // in_addr_port_ifindex_name_from_string_auto(), with a port and an interface allowed, no server name.
  let rest = s;
  if (rest.includes("#")) return fail("EINVAL");
  let ifindex = 0;
  const pct = rest.indexOf("%");
  if (pct >= 0) {
    const name = rest.slice(pct + 1);
    if (name === "" || !ifnameValid(name)) return fail("EINVAL");
    const index = parseIfindex(name);
    const idx = index === null ? env.resolveInterface(name) : env.interfaceName(index) === null ? "ENODEV" : index;
    if (typeof idx === "string") return fail(idx);
    ifindex = idx;
    rest = rest.slice(0, pct);
  }
  let family: "inet" | "inet6";
  let addr: Uint8Array | null;
  let p = 0;
  const colon = rest.lastIndexOf(":");
  if (colon >= 0) {
    if (rest[0] === "[") {
      if (colon === 0 || rest[colon - 1] !== "]") return fail("EINVAL");
      family = "inet6";
      const pr = parseIpPort(rest.slice(colon + 1));
      if (!pr.ok) return fail(pr.error);
      p = pr.value;
      addr = inetPton6(rest.slice(1, colon - 1));
      if (!addr) return fail("EINVAL");
    } else {
      addr = inetPton6(rest);
      if (addr) {
        family = "inet6";
      } else {
        family = "inet";
        addr = inetPton4(rest.slice(0, colon));
        if (!addr) return fail("EINVAL");
        const pr = parseIpPort(rest.slice(colon + 1));
        if (!pr.ok) return fail(pr.error);
        p = pr.value;
      }
    }
  } else {
    family = "inet";
    addr = inetPton4(rest);
    if (!addr) return fail("EINVAL");
  }
  if (p === 0) return fail("EINVAL");
  return family === "inet"
    ? { ok: true, address: { family, addr, port: p } }
    : { ok: true, address: { family, addr, port: p, scopeId: ifindex } };
}

/** cescape() of a byte string: C escapes, other control and non-ASCII bytes as \ooo. */
function cescape(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    switch (c) {
      case 7: out += "\\a"; break;
      case 8: out += "\\b"; break;
      case 12: out += "\\f"; break;
      case 10: out += "\\n"; break;
      case 13: out += "\\r"; break;
      case 9: out += "\\t"; break;
      case 11: out += "\\v"; break;
      case 92: out += "\\\\"; break;
      case 34: out += '\\"'; break;
      case 39: out += "\\'"; break;
      default:
        if (c < 32 || c >= 127) out += `\\${(c >> 6) & 7}${(c >> 3) & 7}${c & 7}`;
        else out += s[i];
    }
  }
  return out;
}

export type Printed = { ok: true; text: string } | { ok: false; errno: ErrnoName };

/** socket_address_print(): refuses what socket_address_verify() refuses (e.g. vsock-seqpacket). */
export function printSocketAddress(a: SocketAddress, env: Pick<SocketEnv, "interfaceName">): Printed {
  switch (a.family) {
    case "unix":
      return { ok: true, text: a.path[0] === "@" ? `@${cescape(a.path.slice(1))}` : cescape(a.path) };
    case "inet":
      return { ok: true, text: `${a.addr[0]}.${a.addr[1]}.${a.addr[2]}.${a.addr[3]}:${a.port}` };
    case "inet6": {
      let scope = "";
      if (a.scopeId !== 0) scope = `%${env.interfaceName(a.scopeId) ?? String(a.scopeId)}`;
      return { ok: true, text: `[${inetNtop6(a.addr)}]:${a.port}${scope}` };
    }
    case "vsock":
      if (a.type !== 0 && a.type !== SOCK_STREAM && a.type !== SOCK_DGRAM) return { ok: false, errno: "EINVAL" };
      return { ok: true, text: a.cid === VMADDR_CID_ANY ? `vsock::${a.port}` : `vsock:${a.cid}:${a.port}` };
  }
}


// qemu/X, qemu:system/X, qemu:session/X (and qemu%X for scp and rsync): a libvirt domain's vsock CID.
//
// The semantics are libvirt-ssh-proxy's (tools/ssh-proxy/ssh-proxy.c in libvirt 11):
//  - qemu:system/X asks qemu:///system, qemu:session/X asks qemu:///session; qemu/X asks the system URI,
//    then the session URI, and skips the session URI when run as root (euid 0).
//  - On each URI: a read-only connection, then X as a domain name, else as a UUID, else, if X is a
//    decimal int (C's strtol() rules: leading blanks and a sign allowed, nothing after), as a domain ID.
//  - The CID is the first /domain/devices/vsock/cid/@address of the domain's XML (flags 0: the live XML of
//    a running domain, the inactive one otherwise) that is a decimal number.
//  - qemu/X moves on to the session URI whenever the system URI yields no CID, for whatever reason.
// Unlike libvirt-ssh-proxy, which says only "No usable vsock found", we say in one line which domain was
// looked for, on which URI(s), and what each one answered.
//
// Everything libvirt is injected (LibvirtEffects), so tests drive each branch; the real one is ffi/libvirt.ts.
//
// Test hook: $SYSTEMD_SSH_LIBVIRT_SYSTEM_URI and $SYSTEMD_SSH_LIBVIRT_SESSION_URI replace qemu:///system
// and qemu:///session (e.g. with libvirt's test driver, test:///PATH/node.xml), in the manner of systemd's
// $SYSTEMD_* test variables. Messages name the URI actually tried.

import type { Connection, Domain } from "../../ffi/libvirt.ts";
import type { ErrnoName } from "../../ffi/errno.ts";
import { VMADDR_CID_ANY } from "../../ffi/sockaddr.ts";
import { Failure } from "../shared/failure.ts";
import type { LibvirtListing, QemuScope, QemuSpec } from "./core.ts";

const SYSTEM_URI = "qemu:///system";
const SESSION_URI = "qemu:///session";
export const SYSTEM_URI_ENV = "SYSTEMD_SSH_LIBVIRT_SYSTEM_URI";
export const SESSION_URI_ENV = "SYSTEMD_SSH_LIBVIRT_SESSION_URI";

const VSOCK_CID_PATH = "/domain/devices/vsock/cid/@address";

/**
 * What the lookup needs from libvirt: ffi/libvirt.ts's Connection and Domain, which tests fake (a type-only
 * import loads nothing).
 */
export interface LibvirtEffects {
  /** Throws LibvirtMissing (not installed) or LibvirtError (libvirt's message). */
  openReadOnly(uri: string): Connection;
  /** The string values of the nodes an XPath selects in a document; null when it is not well-formed. */
  xpathStrings(xml: string, path: string): string[] | null;
  isMissing(e: unknown): boolean;
  isLibvirtError(e: unknown): e is Error;
  euid: number;
  env: Record<string, string | undefined>;
}

/** The URIs to try, in order, for a spec: libvirt-ssh-proxy's order and root rule. */
export function urisFor(spec: QemuSpec, euid: number, env: Record<string, string | undefined>): string[] {
  const system = env[SYSTEM_URI_ENV] || SYSTEM_URI;
  const session = env[SESSION_URI_ENV] || SESSION_URI;
  if (spec.scope === "system") return [system];
  if (spec.scope === "session") return [session];
  return euid === 0 ? [system] : [system, session];
}

/** libvirt's virStrToLong_i(s, NULL, 10): strtol() over the whole string, within int. */
export function parseDomainId(s: string): number | null {
  let i = 0;
  while (i < s.length && " \t\n\v\f\r".includes(s[i]!)) i++;
  let sign = 1;
  if (s[i] === "+" || s[i] === "-") sign = s[i++] === "-" ? -1 : 1;
  const start = i;
  let value = 0;
  for (; i < s.length; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return null;
    value = value * 10 + d;
    if (value > 2 ** 31) return null;
  }
  if (i === start) return null;
  const v = sign * value;
  return v >= -(2 ** 31) && v <= 2 ** 31 - 1 ? v : null;
}

/** A CID from an address attribute: plain decimal, and one a peer can have (not VMADDR_CID_ANY). */
function parseCidAddress(s: string): number | null {
  if (s.length === 0 || s.length > 10) return null;
  let value = 0;
  for (let i = 0; i < s.length; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return null;
    value = value * 10 + d;
  }
  return value < VMADDR_CID_ANY ? value : null;
}

/** How one URI answered. "no-cid" is the one state waiting can end: a vsock device whose CID is not assigned yet. */
type Outcome =
  | { ok: true; cid: number }
  | { ok: false; kind: "connect" | "no-domain" | "no-vsock" | "no-cid" | "bad-xml"; detail: string };

function findDomain(conn: Connection, key: string): Domain | null {
  const byName = conn.lookupByName(key);
  if (byName) return byName;
  const byUuid = conn.lookupByUUIDString(key);
  if (byUuid) return byUuid;
  const id = parseDomainId(key);
  return id === null ? null : conn.lookupByID(id);
}

/** The first usable CID in a domain's XML, or why there is none. */
export function cidFromXml(xml: string, xpathStrings: LibvirtEffects["xpathStrings"]): Outcome {
  const addresses = xpathStrings(xml, VSOCK_CID_PATH);
  if (addresses === null) return { ok: false, kind: "bad-xml", detail: "libvirt's domain XML is not well-formed" };
  for (const a of addresses) {
    const cid = parseCidAddress(a);
    if (cid !== null) return { ok: true, cid };
  }
  const devices = xpathStrings(xml, "/domain/devices/vsock") ?? [];
  return devices.length === 0
    ? { ok: false, kind: "no-vsock", detail: "the domain has no vsock device" }
    : { ok: false, kind: "no-cid", detail: "its vsock device has no CID assigned (is the domain running?)" };
}

function lookupOn(uri: string, key: string, libvirt: LibvirtEffects): Outcome {
  let conn: Connection;
  try {
    conn = libvirt.openReadOnly(uri);
  } catch (e) {
    if (libvirt.isLibvirtError(e)) return { ok: false, kind: "connect", detail: `cannot connect: ${e.message}` };
    throw e;
  }
  try {
    const dom = findDomain(conn, key);
    if (dom === null) return { ok: false, kind: "no-domain", detail: "no such domain (by name, UUID or ID)" };
    try {
      return cidFromXml(dom.xml(), libvirt.xpathStrings);
    } catch (e) {
      if (libvirt.isLibvirtError(e)) return { ok: false, kind: "connect", detail: `cannot read the domain's XML: ${e.message}` };
      throw e;
    } finally {
      dom.free();
    }
  } finally {
    conn.close();
  }
}

// Error codes, for --wait (boot-wait.ts retries only "not up yet" codes): a vsock without a CID is a
// domain that is starting; everything else is final.
const CODE: Record<Exclude<Outcome, { ok: true }>["kind"], ErrnoName> = {
  connect: "ENOTCONN",
  "no-domain": "ESRCH",
  "no-vsock": "ENXIO",
  "no-cid": "EAGAIN",
  "bad-xml": "EBADMSG",
};

/** Resolve a qemu host spec to the domain's CID. Throws Failure with our one line. */
export function resolveQemuCid(spec: QemuSpec, libvirt: LibvirtEffects): number {
  const uris = urisFor(spec, libvirt.euid, libvirt.env);
  if (spec.domain === "") throw new Failure("No libvirt domain named in the host (expected qemu/NAME, qemu:system/NAME or qemu:session/NAME).", "EINVAL");
  const failures: { uri: string; outcome: Exclude<Outcome, { ok: true }> }[] = [];
  for (const uri of uris) {
    let outcome: Outcome;
    try {
      outcome = lookupOn(uri, spec.domain, libvirt);
    } catch (e) {
      if (libvirt.isMissing(e)) {
        throw new Failure(
          `Cannot look up libvirt domain ${spec.domain} at ${uris.join(" or ")}: libvirt is not installed (libvirt.so.0 cannot be loaded).`,
          "ELIBACC",
        );
      }
      throw e;
    }
    if (outcome.ok) return outcome.cid;
    failures.push({ uri, outcome });
  }
  const what =
    failures.length === 1
      ? ` at ${failures[0]!.uri}: ${failures[0]!.outcome.detail}`
      : `: ${failures.map((f) => `${f.uri}: ${f.outcome.detail}`).join("; ")}`;
  const waitable = failures.some((f) => f.outcome.kind === "no-cid");
  throw new Failure(`No usable vsock found for libvirt domain ${spec.domain}${what}.`, waitable ? "EAGAIN" : CODE[failures[0]!.outcome.kind]);
}

/** The real libvirt, through ffi/libvirt.ts and ffi/libxml2.ts (both load their library on first call). */
export async function realLibvirt(env: Record<string, string | undefined> = process.env): Promise<LibvirtEffects> {
  const [lv, xml] = await Promise.all([import("../../ffi/libvirt.ts"), import("../../ffi/libxml2.ts")]);
  return {
    openReadOnly: lv.openReadOnly,
    xpathStrings: xml.xpathStrings,
    isMissing: (e) => e instanceof lv.LibvirtMissing,
    isLibvirtError: (e): e is Error => e instanceof lv.LibvirtError,
    euid: process.geteuid?.() ?? 0,
    env,
  };
}

/**
 * List the domains with a CID on each URI qemu/NAME would ask (the root rule included). null when libvirt
 * is not installed: then there is nothing to say about it.
 */
export function listLibvirt(libvirt: LibvirtEffects): LibvirtListing[] | null {
  const uris = urisFor({ scope: null, domain: "" }, libvirt.euid, libvirt.env);
  const scopes: QemuScope[] = ["system", "session"];
  const out: LibvirtListing[] = [];
  for (const [i, uri] of uris.entries()) {
    const scope = scopes[i]!;
    try {
      const conn = libvirt.openReadOnly(uri);
      try {
        const domains: { name: string; cid: number }[] = [];
        for (const dom of conn.listAll()) {
          try {
            const r = cidFromXml(dom.xml(), libvirt.xpathStrings);
            if (r.ok) domains.push({ name: dom.name(), cid: r.cid });
          } finally {
            dom.free();
          }
        }
        out.push({ scope, uri, ok: true, domains });
      } finally {
        conn.close();
      }
    } catch (e) {
      if (libvirt.isMissing(e)) return null;
      if (!libvirt.isLibvirtError(e)) throw e;
      out.push({ scope, uri, ok: false, error: `cannot connect: ${e.message}` });
    }
  }
  return out;
}

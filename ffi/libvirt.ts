// libvirt's client library (libvirt.so.0) through bun:ffi: read-only connections, domain lookups, the
// domain XML, and libvirt's own text for the last error. Loaded on first use, which only the qemu/ host
// forms and `systemd-ssh machines` make: the other proxy paths never map it.
//
// libvirt reports every error to a global handler that prints it to stderr unless one is set; we set a
// handler that drops it (as libvirt-ssh-proxy does) and read virGetLastErrorMessage() instead, so the
// caller prints the one line it wants.

import { CString, dlopen, FFIType, JSCallback, read, type Pointer } from "bun:ffi";

const { i32, u32, ptr, cstring, void: none } = FFIType;

const LIBVIRT_SONAME = "libvirt.so.0";

const symbols = {
  virConnectOpenReadOnly: { args: [ptr], returns: ptr },
  virConnectClose: { args: [ptr], returns: i32 },
  virConnectListAllDomains: { args: [ptr, ptr, u32], returns: i32 },
  virDomainLookupByName: { args: [ptr, ptr], returns: ptr },
  virDomainLookupByUUIDString: { args: [ptr, ptr], returns: ptr },
  virDomainLookupByID: { args: [ptr, i32], returns: ptr },
  virDomainGetName: { args: [ptr], returns: cstring },
  virDomainGetXMLDesc: { args: [ptr, u32], returns: ptr },
  virDomainFree: { args: [ptr], returns: i32 },
  virGetLastErrorMessage: { args: [], returns: cstring },
  virResetLastError: { args: [], returns: none },
  virSetErrorFunc: { args: [ptr, ptr], returns: none },
  // The XML string and the domain array are malloc()ed by libvirt; dlsym on libvirt's handle finds libc's
  // free() among its dependencies.
  free: { args: [ptr], returns: none },
} as const;

type Lib = ReturnType<typeof dlopen<typeof symbols>>["symbols"];
let lib: Lib | undefined;
let silencer: JSCallback | undefined;

/** libvirt.so.0 cannot be loaded: libvirt's client library is not installed. */
export class LibvirtMissing extends Error {
  override readonly name = "LibvirtMissing";
}

/** A libvirt call failed; the message is libvirt's own (virGetLastErrorMessage()). */
export class LibvirtError extends Error {
  override readonly name = "LibvirtError";
}

function libvirt(): Lib {
  if (lib) return lib;
  let l: Lib;
  try {
    l = dlopen(LIBVIRT_SONAME, symbols).symbols;
  } catch (e) {
    throw new LibvirtMissing(`cannot load ${LIBVIRT_SONAME}: ${e instanceof Error ? e.message : String(e)}`);
  }
  // threadsafe: libvirt may report an error from one of its own threads.
  silencer = new JSCallback(() => {}, { args: [ptr, ptr], returns: none, threadsafe: true });
  l.virSetErrorFunc(null, silencer.ptr);
  return (lib = l);
}

function lastError(what: string): LibvirtError {
  const l = libvirt();
  const msg = String(l.virGetLastErrorMessage());
  l.virResetLastError();
  return new LibvirtError(msg && msg !== "no error" ? msg : `${what} failed`);
}

const cstr = (s: string) => Buffer.from(`${s}\0`, "utf8");

export interface Domain {
  name(): string;
  /** The domain's XML as virDomainGetXMLDesc(dom, 0) gives it: the live XML of a running domain. */
  xml(): string;
  free(): void;
}

export interface Connection {
  /** The three lookups return null when libvirt finds no such domain (or refuses the key). */
  lookupByName(name: string): Domain | null;
  lookupByUUIDString(uuid: string): Domain | null;
  lookupByID(id: number): Domain | null;
  /** Every domain, running or not. */
  listAll(): Domain[];
  close(): void;
}

function domain(p: Pointer): Domain {
  let freed = false;
  return {
    name() {
      const n = libvirt().virDomainGetName(p);
      if (n === null) throw lastError("virDomainGetName");
      return String(n);
    },
    xml() {
      const l = libvirt();
      const x = l.virDomainGetXMLDesc(p, 0) as Pointer | null;
      if (x === null) throw lastError("virDomainGetXMLDesc");
      try {
        return String(new CString(x));
      } finally {
        l.free(x);
      }
    },
    free() {
      if (freed) return;
      freed = true;
      libvirt().virDomainFree(p);
    },
  };
}

/** Found, or null after clearing the error libvirt recorded for the miss. */
function found(p: Pointer | null): Domain | null {
  if (p === null) {
    libvirt().virResetLastError();
    return null;
  }
  return domain(p);
}

/** virConnectOpenReadOnly(uri). Throws LibvirtMissing, or LibvirtError with libvirt's message. */
export function openReadOnly(uri: string): Connection {
  const l = libvirt();
  const conn = l.virConnectOpenReadOnly(cstr(uri)) as Pointer | null;
  if (conn === null) throw lastError("virConnectOpenReadOnly");
  let closed = false;
  return {
    lookupByName: (name) => found(l.virDomainLookupByName(conn, cstr(name)) as Pointer | null),
    lookupByUUIDString: (uuid) => found(l.virDomainLookupByUUIDString(conn, cstr(uuid)) as Pointer | null),
    lookupByID: (id) => found(l.virDomainLookupByID(conn, id) as Pointer | null),
    listAll() {
      const out = new BigUint64Array(1);
      const n = l.virConnectListAllDomains(conn, out, 0);
      if (n < 0) throw lastError("virConnectListAllDomains");
      const array = Number(out[0]) as Pointer;
      const doms: Domain[] = [];
      for (let i = 0; i < n; i++) doms.push(domain(read.ptr(array, i * 8) as Pointer));
      if (array) l.free(array);
      return doms;
    },
    close() {
      if (closed) return;
      closed = true;
      l.virConnectClose(conn);
    },
  };
}

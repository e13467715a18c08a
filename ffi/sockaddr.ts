// Socket address layouts, built in plain ArrayBuffers. Pure: no libc calls, so tests can check the bytes
// against what the C compiler says (test/ffi/sockaddr.test.ts builds a small C program for that, for
// x86-64 and aarch64). The numbers and offsets come from ffi/arch.ts.

import {
  AF_UNIX, AF_VSOCK, VMADDR_CID_ANY, VMADDR_PORT_ANY, sockaddr_un as UN, sockaddr_vm as VM,
} from "./arch.ts";
import { pathBytes, type PathArg } from "./path-bytes.ts";

export { AF_UNIX, AF_VSOCK, VMADDR_CID_ANY, VMADDR_PORT_ANY };

/** offsetof(struct sockaddr_un, sun_path) */
const SUN_PATH_OFFSET = UN.sun_path;
/** sizeof(((struct sockaddr_un){}).sun_path) */
export const SUN_PATH_SIZE = UN.sun_path_size;
/** sizeof(struct sockaddr_vm) */
const SOCKADDR_VM_SIZE = VM.size;

/** The reserved CIDs (linux/vm_sockets.h): none of them names a VM. */
export const VMADDR_CID_HYPERVISOR = 0;
export const VMADDR_CID_LOCAL = 1;
export const VMADDR_CID_HOST = 2;

/** A socket address ready for connect()/bind(): the bytes, and the length to pass alongside them. */
export interface SockAddr {
  readonly family: number;
  /** The struct, exactly `length` bytes long (an ArrayBuffer of its own, so pointers to it stay valid). */
  readonly bytes: Uint8Array;
  readonly length: number;
}

/**
 * struct sockaddr_un for a file-system path, or for an abstract name when the first byte is NUL.
 * A path socket's length counts the terminating NUL (offsetof(sun_path) + strlen + 1), as systemd and the
 * kernel's own getsockname() do; an abstract name's length is exact (its bytes may contain anything).
 * Throws RangeError when the name does not fit: callers with long paths go through /proc/self/fd instead.
 */
export function sockaddrUn(path: PathArg): SockAddr {
  const name = pathBytes(path);
  const abstract = name.length > 0 && name[0] === 0;
  if (name.length === 0) throw new RangeError("AF_UNIX socket path is empty");
  if (!abstract && name.includes(0)) throw new RangeError("AF_UNIX socket path contains a NUL byte");
  const max = abstract ? SUN_PATH_SIZE : SUN_PATH_SIZE - 1;
  if (name.length > max) throw new RangeError(`AF_UNIX socket path is longer than ${max} bytes`);

  const length = SUN_PATH_OFFSET + name.length + (abstract ? 0 : 1);
  const buf = new ArrayBuffer(length);
  new DataView(buf).setUint16(UN.sun_family, AF_UNIX, true);
  new Uint8Array(buf, SUN_PATH_OFFSET).set(name);
  return { family: AF_UNIX, bytes: new Uint8Array(buf), length };
}

/** struct sockaddr_vm: svm_family, svm_reserved1, svm_port, svm_cid, svm_flags, svm_zero[3]. */
export function sockaddrVm(cid: number, port: number, flags = 0): SockAddr {
  for (const [what, v, max] of [["cid", cid, 0xffffffff], ["port", port, 0xffffffff], ["flags", flags, 0xff]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`vsock ${what} out of range: ${v}`);
  }
  const buf = new ArrayBuffer(SOCKADDR_VM_SIZE);
  const view = new DataView(buf);
  view.setUint16(VM.svm_family, AF_VSOCK, true);
  view.setUint16(VM.svm_reserved1, 0, true);
  view.setUint32(VM.svm_port, port, true);
  view.setUint32(VM.svm_cid, cid, true);
  view.setUint8(VM.svm_flags, flags); // svm_zero[3] stays 0
  return { family: AF_VSOCK, bytes: new Uint8Array(buf), length: SOCKADDR_VM_SIZE };
}

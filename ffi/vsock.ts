// AF_VSOCK facts about the machine we run on. Neither function connects anything: creating an AF_VSOCK
// socket and asking /dev/vsock for our CID are safe everywhere; connect() is not (our development and CI
// machines are VMs whose vsock belongs to the hosting infrastructure).

import { IOCTL_VM_SOCKETS_GET_LOCAL_CID } from "./arch.ts";
import { SysError } from "./errors.ts";
import { getU32 } from "./le-fields.ts";
import { errno, libc } from "./libc.ts";
import { AF_VSOCK } from "./sockaddr.ts";
import { close, openReadOnly, SOCK_CLOEXEC, SOCK_STREAM } from "./socket.ts";

/**
 * Whether the kernel can make AF_VSOCK sockets, decided the way systemd does: create one and look at the
 * error. Returns the errno on failure (EAFNOSUPPORT and friends) so callers can log it.
 */
export function vsockSupport(): { ok: true } | { ok: false; error: SysError } {
  const fd = libc.socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return { ok: false, error: new SysError("socket", errno()) };
  close(fd);
  return { ok: true };
}

/** Our own CID, from ioctl(IOCTL_VM_SOCKETS_GET_LOCAL_CID) on /dev/vsock. Throws SysError. */
export function localCid(): number {
  const fd = openReadOnly("/dev/vsock");
  try {
    const cid = new Uint8Array(new ArrayBuffer(4));
    if (libc.ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, cid) < 0) throw new SysError("ioctl", errno());
    return getU32(cid, 0);
  } finally {
    close(fd);
  }
}

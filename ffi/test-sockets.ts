// The socket calls only tests and benches make: listening and accepting (to play a VMM, machined or sshd),
// receiving a descriptor (to play ssh with ProxyUseFdpass), and a few socket options. The tools never
// import this module, so none of it is in the shipped binary.

import { SO_TYPE, SCM_RIGHTS, MSG_CMSG_CLOEXEC } from "./arch.ts";
import { fail } from "./errors.ts";
import { libc } from "./libc.ts";
import { CM, MH, MsgLayout } from "./msghdr.ts";
import { AF_UNIX, sockaddrUn, type SockAddr } from "./sockaddr.ts";
import type { PathArg } from "./path-bytes.ts";
import { close, socket, socketIntOption, SOCK_CLOEXEC, SOCK_STREAM, SOL_SOCKET } from "./socket.ts";


export function socketpair(type = SOCK_STREAM): [number, number] {
  const fds = new Int32Array(new ArrayBuffer(8));
  if (libc.socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds) < 0) fail("socketpair");
  return [fds[0]!, fds[1]!];
}

function bind(fd: number, sa: SockAddr): void {
  if (libc.bind(fd, sa.bytes, sa.length) < 0) fail("bind");
}

function listen(fd: number, backlog = 128): void {
  if (libc.listen(fd, backlog) < 0) fail("listen");
}

export function accept(fd: number): number {
  const r = libc.accept4(fd, null, null, SOCK_CLOEXEC);
  if (r < 0) fail("accept");
  return r;
}

/** Create-and-bind an AF_UNIX listening socket. */
export function listenUnix(path: PathArg, type = SOCK_STREAM): number {
  const fd = socket(AF_UNIX, type);
  try {
    bind(fd, sockaddrUn(path));
    listen(fd);
    return fd;
  } catch (e) {
    close(fd);
    throw e;
  }
}

interface ReceivedFd {
  /** The descriptor received (close-on-exec), or null when the message carried none. */
  fd: number | null;
  /** The ordinary bytes that came with it. */
  data: Uint8Array;
}

/** Receive one message with at most one SCM_RIGHTS descriptor (the counterpart of ffi/socket.ts's sendFd). */
export function recvFd(sock: number, maxData = 16): ReceivedFd {
  const m = new MsgLayout(CM.spaceInt, maxData);
  const r = Number(libc.recvmsg(sock, m.bytes, MSG_CMSG_CLOEXEC));
  if (r < 0) fail("recvmsg");
  let fd: number | null = null;
  const controllen = Number(m.view.getBigUint64(MH.msg_controllen, true));
  if (controllen >= CM.lenInt) {
    const level = m.view.getInt32(m.ctlOff + CM.cmsg_level, true);
    const type = m.view.getInt32(m.ctlOff + CM.cmsg_type, true);
    if (level === SOL_SOCKET && type === SCM_RIGHTS) fd = m.view.getInt32(m.ctlOff + CM.data, true);
  }
  return { fd, data: m.bytes.slice(m.dataOff, m.dataOff + r) };
}

/** SO_TYPE of a socket, or null when fd is not a socket (ENOTSOCK) or not open. */
export function socketType(fd: number): number | null {
  return socketIntOption(fd, SO_TYPE);
}

/** setsockopt(fd, level, name, &int value, sizeof(int)). */
export function setIntOption(fd: number, level: number, name: number, value: number): void {
  const v = new Int32Array(new ArrayBuffer(4));
  v[0] = value;
  if (libc.setsockopt(fd, level, name, v, 4) < 0) fail("setsockopt");
}

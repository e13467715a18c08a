// Sockets through libc: small typed functions over socket/connect/sendmsg/recv and friends.
// Every function takes and returns plain values; failures throw SysError (ffi/errors.ts).

import {
  SOCK_STREAM, SOCK_CLOEXEC, SOL_SOCKET, MSG_PEEK, MSG_DONTWAIT,
  MSG_NOSIGNAL, SHUT_WR, SO_PEERCRED, SO_DOMAIN, FIONREAD, SO_RCVTIMEO, SCM_RIGHTS,
  O_RDONLY, O_CLOEXEC, O_PATH, RLIMIT_NOFILE, rlimit as RL, ucred as UC, timeval as TV,
} from "./arch.ts";
import { Errno } from "./errno.ts";
import { fail, SysError } from "./errors.ts";
import { setU64 } from "./le-fields.ts";
import { errno, libc } from "./libc.ts";
import { CM, MsgLayout } from "./msghdr.ts";
import { cPath, pathBytes, type PathArg } from "./path-bytes.ts";
import { AF_UNIX, AF_VSOCK, sockaddrUn, sockaddrVm, SUN_PATH_SIZE, type SockAddr } from "./sockaddr.ts";

export { SOCK_STREAM, SOCK_CLOEXEC, SOL_SOCKET, MSG_PEEK, MSG_DONTWAIT, SHUT_WR };

export function socket(family: number, type = SOCK_STREAM, protocol = 0): number {
  const fd = libc.socket(family, type | SOCK_CLOEXEC, protocol);
  if (fd >= 0) return fd;
  const err = errno();
  // makeRoomForRuntime() makes calls of its own: keep socket()'s errno for the message.
  if (err !== Errno.EMFILE || !makeRoomForRuntime()) throw new SysError("socket", err);
  const again = libc.socket(family, type | SOCK_CLOEXEC, protocol);
  if (again < 0) fail("socket");
  return again;
}

/**
 * Descriptors Bun's runtime holds from start-up that a C program does not: its event loop's epoll instance
 * and eventfd (Bun 1.4). Under a descriptor limit that leaves a C tool just room for its socket (systemd's
 * proxy connects at `ulimit -n 4`), they would take that room. Bun lifts the soft limit to the hard one at
 * start-up itself, so in practice this is about a hard limit, which only CAP_SYS_RESOURCE may raise.
 */
const RUNTIME_DESCRIPTORS = 2;
let roomMade = false;

/**
 * Lift RLIMIT_NOFILE by the runtime's own descriptors, once, as far as the kernel lets us (the hard limit
 * too when privileged), so that the limit counts our descriptors as it would a C program's. Whether it did.
 */
function makeRoomForRuntime(): boolean {
  if (roomMade) return false;
  roomMade = true;
  // RL: struct rlimit { rlim_t cur, max; }
  const lim = new BigUint64Array(new ArrayBuffer(RL.size));
  const [CUR, MAX] = [RL.rlim_cur / 8, RL.rlim_max / 8];
  if (libc.getrlimit(RLIMIT_NOFILE, lim) < 0) return false;
  const [cur, max] = [lim[CUR]!, lim[MAX]!];
  const want = cur + BigInt(RUNTIME_DESCRIPTORS);
  lim[CUR] = want;
  lim[MAX] = max > want ? max : want;
  if (libc.setrlimit(RLIMIT_NOFILE, lim) === 0) return true;
  if (max <= cur) return false;
  lim[CUR] = max < want ? max : want;
  lim[MAX] = max;
  return libc.setrlimit(RLIMIT_NOFILE, lim) === 0;
}

export function close(fd: number): void {
  // Linux releases the descriptor even when close() reports an error, so there is nothing to retry.
  libc.close(fd);
}

/** Run `body` with the descriptor, closing it if body throws. Returns body's result. */
function closingOnError<T>(fd: number, body: (fd: number) => T): T {
  try {
    return body(fd);
  } catch (e) {
    close(fd);
    throw e;
  }
}

function connect(fd: number, sa: SockAddr): void {
  // sa.bytes is the call argument itself, so it stays alive and in place for the call.
  if (libc.connect(fd, sa.bytes, sa.length) < 0) fail("connect");
}

/** open(path, O_PATH|O_CLOEXEC): a handle on an inode that need not be readable, e.g. a socket. */
function openPath(path: PathArg): number {
  const fd = libc.open(cPath(path), O_PATH | O_CLOEXEC, 0);
  if (fd < 0) fail("open");
  return fd;
}

export function openReadOnly(path: PathArg): number {
  const fd = libc.open(cPath(path), O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) fail("open");
  return fd;
}

/**
 * Connect an AF_UNIX socket to a path of any length. Paths that fit in sun_path are connected directly;
 * longer ones, the way systemd's connect_unix_path() does it, through an O_PATH descriptor of the socket
 * inode and the short magic link /proc/self/fd/N. An empty path is EINVAL, as with systemd (the kernel
 * would otherwise read it as an abstract name).
 */
function connectUnixPath(fd: number, path: PathArg): void {
  const bytes = pathBytes(path);
  if (bytes.length === 0) throw new SysError("connect", Errno.EINVAL);
  if (bytes.length < SUN_PATH_SIZE) return connect(fd, sockaddrUn(bytes));

  const inode = openPath(bytes);
  try {
    connect(fd, sockaddrUn(`/proc/self/fd/${inode}`));
  } finally {
    close(inode);
  }
}

/** A new AF_UNIX stream socket connected to `path` (any length). */
export function connectUnix(path: PathArg): number {
  return closingOnError(socket(AF_UNIX), (fd) => {
    connectUnixPath(fd, path);
    return fd;
  });
}

/**
 * A new AF_VSOCK stream socket connected to cid:port.
 * Never call this on the development and CI machines: they are VMs whose vsock device
 * belongs to the hosting infrastructure. Tests stop before it through an injected connector.
 */
export function connectVsock(cid: number, port: number): number {
  const sa = sockaddrVm(cid, port);
  const fd = socket(AF_VSOCK);
  return closingOnError(fd, () => {
    connect(fd, sa);
    return fd;
  });
}

export function shutdown(fd: number, how: number): void {
  if (libc.shutdown(fd, how) < 0) fail("shutdown");
}

/** getsockopt(fd, SOL_SOCKET, name) of an int option, or null when fd is not a socket or not open. */
export function socketIntOption(fd: number, name: number): number | null {
  // One ArrayBuffer holds both out-values (the int, then its socklen_t); each is passed as a view of it.
  // Uint8Array and DataView only: every other typed array's first use costs the hot path more.
  const buf = new ArrayBuffer(8);
  const view = new DataView(buf);
  view.setUint32(4, 4, true);
  if (libc.getsockopt(fd, SOL_SOCKET, name, new Uint8Array(buf, 0, 4), new Uint8Array(buf, 4, 4)) < 0) return null;
  return view.getInt32(0, true);
}

/** SO_DOMAIN of a socket (AF_UNIX, AF_INET, ...), or null when fd is not a socket or not open. */
export function socketFamily(fd: number): number | null {
  return socketIntOption(fd, SO_DOMAIN);
}

/**
 * The PID of the peer of a connected AF_UNIX socket (SO_PEERCRED: the process that connected, or that
 * created the socketpair), or null when unknown (not a socket, or the peer lives in a PID namespace we
 * cannot see, where the kernel reports 0).
 */
export function peerPid(fd: number): number | null {
  // UC: struct ucred { pid_t pid; uid_t uid; gid_t gid; }
  const buf = new ArrayBuffer(UC.size + 4);
  const view = new DataView(buf);
  view.setUint32(UC.size, UC.size, true);
  if (libc.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, new Uint8Array(buf, 0, UC.size), new Uint8Array(buf, UC.size, 4)) < 0) return null;
  const pid = view.getInt32(UC.pid, true);
  return pid > 0 ? pid : null;
}

/** How many bytes are queued for reading on a socket (FIONREAD), or null when that cannot be told. */
export function queuedBytes(fd: number): number | null {
  const buf = new ArrayBuffer(8);
  if (libc.ioctl(fd, FIONREAD, new Uint8Array(buf)) < 0) return null;
  return new DataView(buf).getInt32(0, true);
}

/**
 * Send `fd` over the AF_UNIX socket `sock` with SCM_RIGHTS, along with a single NUL byte (OpenSSH's
 * ProxyUseFdpass expects exactly that), as systemd's send_one_fd_iov() does. MSG_NOSIGNAL: a vanished
 * peer is an EPIPE error, not a SIGPIPE death.
 */
export function sendFd(sock: number, fd: number): void {
  const m = new MsgLayout(CM.spaceInt, 1);
  setU64(m.view, m.ctlOff + CM.cmsg_len, CM.lenInt);
  m.view.setInt32(m.ctlOff + CM.cmsg_level, SOL_SOCKET, true);
  m.view.setInt32(m.ctlOff + CM.cmsg_type, SCM_RIGHTS, true);
  m.view.setInt32(m.ctlOff + CM.data, fd, true);
  m.bytes[m.dataOff] = 0;
  // m.bytes is the call argument: the msghdr and everything it points into live in its ArrayBuffer.
  const r = libc.sendmsg(sock, m.bytes, MSG_NOSIGNAL);
  if (r < 0) fail("sendmsg");
}

/**
 * recv() into a fresh buffer of at most `max` bytes; the result is shorter when less was there, and empty
 * at end of stream. With MSG_PEEK the bytes stay queued. Throws SysError (EAGAIN on a receive timeout).
 */
export function recv(fd: number, max: number, flags = 0): Uint8Array {
  const buf = new Uint8Array(new ArrayBuffer(Math.max(max, 1)));
  for (;;) {
    const r = Number(libc.recv(fd, buf, max, flags));
    if (r >= 0) return buf.subarray(0, r);
    const e = errno();
    if (e !== Errno.EINTR) throw new SysError("recv", e);
  }
}

/** Send all of `data` on a socket (MSG_NOSIGNAL), looping over short writes. */
export function sendAll(fd: number, data: Uint8Array): void {
  // Copy into an ArrayBuffer of our own: `data` may be a view into a small, movable typed array.
  const buf = new Uint8Array(new ArrayBuffer(data.length));
  buf.set(data);
  let off = 0;
  while (off < buf.length) {
    const chunk = off === 0 ? buf : buf.subarray(off);
    const r = Number(libc.send(fd, chunk, buf.length - off, MSG_NOSIGNAL));
    if (r < 0) {
      const e = errno();
      if (e === Errno.EINTR) continue;
      throw new SysError("send", e);
    }
    off += r;
  }
}

interface Timeval {
  sec: number;
  usec: number;
}

// TV: struct timeval { time_t tv_sec; suseconds_t tv_usec; }, two 64-bit fields on LP64.
export function getRecvTimeout(fd: number): Timeval {
  const buf = new ArrayBuffer(TV.size + 8);
  const tv = new BigInt64Array(buf, 0, TV.size / 8);
  const len = new Uint32Array(buf, TV.size, 1);
  len[0] = TV.size;
  if (libc.getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, len) < 0) fail("getsockopt");
  if (len[0] !== TV.size) throw new SysError("getsockopt", Errno.EIO);
  return { sec: Number(tv[TV.tv_sec / 8]), usec: Number(tv[TV.tv_usec / 8]) };
}

export function setRecvTimeout(fd: number, t: Timeval): void {
  const tv = new BigInt64Array(new ArrayBuffer(TV.size));
  tv[TV.tv_sec / 8] = BigInt(t.sec);
  tv[TV.tv_usec / 8] = BigInt(t.usec);
  if (libc.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, TV.size) < 0) fail("setsockopt");
}

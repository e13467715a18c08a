// Sockets through libc: small typed functions over socket/connect/sendmsg/recv and friends.
// Every function takes and returns plain values; failures throw SysError (ffi/errors.ts).

import { ptr } from "bun:ffi";
import { fail, SysError } from "./errors.ts";
import { errno, libc } from "./libc.ts";
import { AF_UNIX, AF_VSOCK, sockaddrUn, sockaddrVm, SUN_PATH_SIZE, type SockAddr } from "./sockaddr.ts";

export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_SEQPACKET = 5;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;

export const SOL_SOCKET = 1;
const SO_TYPE = 3;
const SO_PEERCRED = 17;
const SO_DOMAIN = 39;
const FIONREAD = 0x541b; // SIOCINQ: bytes queued for reading
const SO_RCVTIMEO = 20; // SO_RCVTIMEO_OLD: struct timeval with 64-bit fields on LP64
const SCM_RIGHTS = 1;

export const MSG_PEEK = 0x2;
export const MSG_DONTWAIT = 0x40;
export const MSG_NOSIGNAL = 0x4000;
const MSG_CMSG_CLOEXEC = 0x40000000;

export const SHUT_RD = 0;
export const SHUT_WR = 1;
export const SHUT_RDWR = 2;

const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
const O_PATH = 0o10000000;

const encoder = new TextEncoder();

/**
 * A path for the kernel: a string is encoded as UTF-8; a Uint8Array is the exact bytes, for names that are
 * not UTF-8 (e.g. taken from argv or the environment as bytes; see src/shared/raw-bytes.ts).
 */
export type PathArg = string | Uint8Array;

const pathBytes = (p: PathArg): Uint8Array => (typeof p === "string" ? encoder.encode(p) : p);

/** A NUL-terminated copy of a path, for passing (directly, as the call argument) as a `const char *`. */
function cString(p: PathArg): Uint8Array {
  const bytes = pathBytes(p);
  const c = new Uint8Array(new ArrayBuffer(bytes.length + 1));
  c.set(bytes);
  return c;
}

export function socket(family: number, type = SOCK_STREAM, protocol = 0): number {
  const fd = libc().socket(family, type | SOCK_CLOEXEC, protocol);
  if (fd >= 0) return fd;
  const err = errno();
  // makeRoomForRuntime() makes calls of its own: keep socket()'s errno for the message.
  if (err !== EMFILE || !makeRoomForRuntime()) throw new SysError("socket", err);
  const again = libc().socket(family, type | SOCK_CLOEXEC, protocol);
  if (again < 0) fail("socket");
  return again;
}

const EMFILE = 24;
const RLIMIT_NOFILE = 7; // the same on x86-64 and arm64
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
  const lim = new BigUint64Array(new ArrayBuffer(16)); // struct rlimit { rlim_t cur, max; }
  if (libc().getrlimit(RLIMIT_NOFILE, lim) < 0) return false;
  const [cur, max] = [lim[0]!, lim[1]!];
  const want = cur + BigInt(RUNTIME_DESCRIPTORS);
  lim[0] = want;
  lim[1] = max > want ? max : want;
  if (libc().setrlimit(RLIMIT_NOFILE, lim) === 0) return true;
  if (max <= cur) return false;
  lim[0] = max < want ? max : want;
  lim[1] = max;
  return libc().setrlimit(RLIMIT_NOFILE, lim) === 0;
}

export function close(fd: number): void {
  // Linux releases the descriptor even when close() reports an error, so there is nothing to retry.
  libc().close(fd);
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

export function connect(fd: number, sa: SockAddr): void {
  // sa.bytes is the call argument itself, so it stays alive and in place for the call.
  if (libc().connect(fd, sa.bytes, sa.length) < 0) fail("connect");
}

export function bind(fd: number, sa: SockAddr): void {
  if (libc().bind(fd, sa.bytes, sa.length) < 0) fail("bind");
}

export function listen(fd: number, backlog = 128): void {
  if (libc().listen(fd, backlog) < 0) fail("listen");
}

export function accept(fd: number): number {
  const r = libc().accept4(fd, null, null, SOCK_CLOEXEC);
  if (r < 0) fail("accept");
  return r;
}

/** open(path, O_PATH|O_CLOEXEC): a handle on an inode that need not be readable, e.g. a socket. */
export function openPath(path: PathArg): number {
  const fd = libc().open(cString(path), O_PATH | O_CLOEXEC, 0);
  if (fd < 0) fail("open");
  return fd;
}

export function openReadOnly(path: PathArg): number {
  const fd = libc().open(cString(path), O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) fail("open");
  return fd;
}

/**
 * Connect an AF_UNIX socket to a path of any length. Paths that fit in sun_path are connected directly;
 * longer ones, the way systemd's connect_unix_path() does it, through an O_PATH descriptor of the socket
 * inode and the short magic link /proc/self/fd/N. An empty path is EINVAL, as with systemd (the kernel
 * would otherwise read it as an abstract name).
 */
export function connectUnixPath(fd: number, path: PathArg): void {
  const bytes = pathBytes(path);
  if (bytes.length === 0) throw new SysError("connect", 22 /* EINVAL */);
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
 * Never call this on the development and CI machines (see DEVELOPERS.md): they are VMs whose vsock device
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

export function socketpair(type = SOCK_STREAM): [number, number] {
  const fds = new Int32Array(new ArrayBuffer(8));
  if (libc().socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds) < 0) fail("socketpair");
  return [fds[0]!, fds[1]!];
}

export function shutdown(fd: number, how: number): void {
  if (libc().shutdown(fd, how) < 0) fail("shutdown");
}

/** SO_TYPE of a socket, or null when fd is not a socket (ENOTSOCK) or not open. */
export function socketType(fd: number): number | null {
  const buf = new ArrayBuffer(8);
  const val = new Int32Array(buf, 0, 1);
  const len = new Uint32Array(buf, 4, 1);
  len[0] = 4;
  // One ArrayBuffer holds both out-values; pass them as views of it, each a call argument.
  if (libc().getsockopt(fd, SOL_SOCKET, SO_TYPE, val, len) < 0) return null;
  return val[0]!;
}

/** setsockopt(fd, level, name, &int value, sizeof(int)). */
export function setIntOption(fd: number, level: number, name: number, value: number): void {
  const v = new Int32Array(new ArrayBuffer(4));
  v[0] = value;
  if (libc().setsockopt(fd, level, name, v, 4) < 0) fail("setsockopt");
}

/** SO_DOMAIN of a socket (AF_UNIX, AF_INET, ...), or null when fd is not a socket or not open. */
export function socketFamily(fd: number): number | null {
  const buf = new ArrayBuffer(8);
  const val = new Int32Array(buf, 0, 1);
  const len = new Uint32Array(buf, 4, 1);
  len[0] = 4;
  if (libc().getsockopt(fd, SOL_SOCKET, SO_DOMAIN, val, len) < 0) return null;
  return val[0]!;
}

/**
 * The PID of the peer of a connected AF_UNIX socket (SO_PEERCRED: the process that connected, or that
 * created the socketpair), or null when unknown (not a socket, or the peer lives in a PID namespace we
 * cannot see, where the kernel reports 0).
 */
export function peerPid(fd: number): number | null {
  const buf = new ArrayBuffer(16);
  const cred = new Int32Array(buf, 0, 3); // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
  const len = new Uint32Array(buf, 12, 1);
  len[0] = 12;
  if (libc().getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, len) < 0) return null;
  return cred[0]! > 0 ? cred[0]! : null;
}

/** How many bytes are queued for reading on a socket (FIONREAD), or null when that cannot be told. */
export function queuedBytes(fd: number): number | null {
  const n = new Int32Array(new ArrayBuffer(8));
  if (libc().ioctl(fd, FIONREAD, n) < 0) return null;
  return n[0]!;
}

// struct msghdr on LP64: name(8) namelen(4)+pad(4) iov(8) iovlen(8) control(8) controllen(8) flags(4)+pad(4)
const MSGHDR_SIZE = 56;
const IOVEC_SIZE = 16;
// struct cmsghdr: cmsg_len(8) level(4) type(4), data aligned to 8: CMSG_SPACE(sizeof(int)) = 24
const CMSG_HDR_SIZE = 16;

/** A msghdr with one iovec and a control buffer, all inside one ArrayBuffer so interior pointers stay valid. */
class MsgLayout {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly iovOff = MSGHDR_SIZE;
  readonly ctlOff = MSGHDR_SIZE + IOVEC_SIZE;
  readonly dataOff: number;

  constructor(
    readonly controlLen: number,
    readonly dataLen: number,
  ) {
    this.dataOff = this.ctlOff + controlLen;
    const buf = new ArrayBuffer(this.dataOff + dataLen);
    this.bytes = new Uint8Array(buf);
    this.view = new DataView(buf);
    const base = ptr(this.bytes);
    const setPtr = (off: number, value: number) => this.view.setBigUint64(off, BigInt(value), true);
    setPtr(16, base + this.iovOff); // msg_iov
    this.view.setBigUint64(24, 1n, true); // msg_iovlen
    if (controlLen > 0) {
      setPtr(32, base + this.ctlOff); // msg_control
      this.view.setBigUint64(40, BigInt(controlLen), true); // msg_controllen
    }
    setPtr(this.iovOff, base + this.dataOff); // iov_base
    this.view.setBigUint64(this.iovOff + 8, BigInt(dataLen), true); // iov_len
  }
}

/**
 * Send `fd` over the AF_UNIX socket `sock` with SCM_RIGHTS, along with a single NUL byte (OpenSSH's
 * ProxyUseFdpass expects exactly that), as systemd's send_one_fd_iov() does. MSG_NOSIGNAL: a vanished
 * peer is an EPIPE error, not a SIGPIPE death.
 */
export function sendFd(sock: number, fd: number): void {
  const m = new MsgLayout(CMSG_HDR_SIZE + 8, 1);
  m.view.setBigUint64(m.ctlOff, BigInt(CMSG_HDR_SIZE + 4), true); // cmsg_len = CMSG_LEN(sizeof(int))
  m.view.setInt32(m.ctlOff + 8, SOL_SOCKET, true);
  m.view.setInt32(m.ctlOff + 12, SCM_RIGHTS, true);
  m.view.setInt32(m.ctlOff + CMSG_HDR_SIZE, fd, true);
  m.bytes[m.dataOff] = 0;
  // m.bytes is the call argument: the msghdr and everything it points into live in its ArrayBuffer.
  const r = libc().sendmsg(sock, m.bytes, MSG_NOSIGNAL);
  if (r < 0) fail("sendmsg");
}

export interface ReceivedFd {
  /** The descriptor received (close-on-exec), or null when the message carried none. */
  fd: number | null;
  /** The ordinary bytes that came with it. */
  data: Uint8Array;
}

/** Receive one message with at most one SCM_RIGHTS descriptor (the counterpart of sendFd, for tests and relays). */
export function recvFd(sock: number, maxData = 16): ReceivedFd {
  const m = new MsgLayout(CMSG_HDR_SIZE + 8, maxData);
  const r = Number(libc().recvmsg(sock, m.bytes, MSG_CMSG_CLOEXEC));
  if (r < 0) fail("recvmsg");
  let fd: number | null = null;
  const controllen = Number(m.view.getBigUint64(40, true));
  if (controllen >= CMSG_HDR_SIZE + 4) {
    const level = m.view.getInt32(m.ctlOff + 8, true);
    const type = m.view.getInt32(m.ctlOff + 12, true);
    if (level === SOL_SOCKET && type === SCM_RIGHTS) fd = m.view.getInt32(m.ctlOff + CMSG_HDR_SIZE, true);
  }
  return { fd, data: m.bytes.slice(m.dataOff, m.dataOff + r) };
}

/**
 * recv() into a fresh buffer of at most `max` bytes; the result is shorter when less was there, and empty
 * at end of stream. With MSG_PEEK the bytes stay queued. Throws SysError (EAGAIN on a receive timeout).
 */
export function recv(fd: number, max: number, flags = 0): Uint8Array {
  const buf = new Uint8Array(new ArrayBuffer(Math.max(max, 1)));
  for (;;) {
    const r = Number(libc().recv(fd, buf, max, flags));
    if (r >= 0) return buf.subarray(0, r);
    const e = errno();
    if (e !== 4 /* EINTR */) throw new SysError("recv", e);
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
    const r = Number(libc().send(fd, chunk, buf.length - off, MSG_NOSIGNAL));
    if (r < 0) {
      const e = errno();
      if (e === 4 /* EINTR */) continue;
      throw new SysError("send", e);
    }
    off += r;
  }
}

export interface Timeval {
  sec: number;
  usec: number;
}

export function getRecvTimeout(fd: number): Timeval {
  const buf = new ArrayBuffer(24);
  const tv = new BigInt64Array(buf, 0, 2);
  const len = new Uint32Array(buf, 16, 1);
  len[0] = 16;
  if (libc().getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, len) < 0) fail("getsockopt");
  if (len[0] !== 16) throw new SysError("getsockopt", 5 /* EIO */);
  return { sec: Number(tv[0]), usec: Number(tv[1]) };
}

export function setRecvTimeout(fd: number, t: Timeval): void {
  const tv = new BigInt64Array(new ArrayBuffer(16));
  tv[0] = BigInt(t.sec);
  tv[1] = BigInt(t.usec);
  if (libc().setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16) < 0) fail("setsockopt");
}

/** Create-and-bind an AF_UNIX listening socket (used by tests and fake peers). */
export function listenUnix(path: PathArg, type = SOCK_STREAM): number {
  return closingOnError(socket(AF_UNIX, type), (fd) => {
    bind(fd, sockaddrUn(path));
    listen(fd);
    return fd;
  });
}

// Fd-passing or relaying: how the connected socket reaches the SSH client that runs us as its ProxyCommand.
//
// systemd's proxy always sends the socket over stdout with SCM_RIGHTS, which only OpenSSH with
// `ProxyUseFdpass yes` understands. Every other client (OpenSSH with `ProxyUseFdpass no`, Paramiko and so
// Ansible, libssh, Go's x/crypto/ssh, PuTTY/plink, JSch) speaks SSH over our stdin/stdout, and we relay.
//
// What the clients give the ProxyCommand (evidence):
// - OpenSSH, sshconnect.c: ssh_proxy_fdpass_connect() makes a socketpair(AF_UNIX, SOCK_STREAM) and dups
//   ONE end onto both stdin and stdout, then blocks in mm_receive_fd() until the descriptor arrives; it
//   never writes to that socket. ssh_proxy_connect() (ProxyUseFdpass no) makes two pipe()s instead.
//   Observed with OpenSSH 9.2p1 (Debian 12): fd 0 = fd 1 = socket:[N] with fdpass, fd 0 = pipe:[N] and
//   fd 1 = pipe:[N+1] without.
// - Paramiko (subprocess.Popen with PIPE), Go (exec.Cmd pipes), PuTTY (uxproxy/local-proxy.c: pipe()),
//   JSch (ProcessBuilder), Dropbear (pipes): pipes.
// - libssh, socket.c ssh_socket_connect_proxycommand(): socketpair(AF_UNIX, SOCK_STREAM) with one end on
//   both stdin and stdout, exactly like OpenSSH's fd-passing mode, but it speaks SSH over it. Since 0.9
//   its client sends its banner ("SSH-2.0-libssh...") as soon as the socket is set up (client.c, state
//   SSH_SESSION_STATE_SOCKET_CONNECTED), before the server says anything.
// - systemd socket activation with Accept=yes, inetd: the accepted connection on stdin and stdout.
//
// - Node.js (libuv) and Bun child processes: two distinct socketpairs, one for stdin, one for stdout
//   (observed: fd 0 = socket:[N], fd 1 = socket:[M]). Python's subprocess: two pipes.
//
// So "stdout is an AF_UNIX socket and sendmsg() succeeds" is not enough: sendmsg() succeeds on libssh's
// or Node's socketpairs too, and the client would then read our NUL byte as SSH data, its descriptor
// lost. And the choice cannot be undone: once sendmsg() has succeeded the peer may own the socket, and
// relaying as well would have two parties reading one stream. We decide in this order:
//   1. stdout is not a socket (pipe, terminal, file), or not AF_UNIX: relay. Nothing else can carry a
//      descriptor.
//   2. stdin is a socket, but another one than stdout: relay. A descriptor receiver needs one socket;
//      two are a byte stream's two directions (libuv).
//   3. Bytes are already waiting on stdin or stdout: relay. Whoever wrote them speaks a byte stream
//      (libssh's or Node ssh2's banner); a descriptor receiver like OpenSSH only waits.
//   4. The peer process on stdout (SO_PEERCRED) has libssh loaded (/proc/PID/maps): relay. This closes
//      the window in which a libssh client has not written its banner yet, and covers libssh before 0.9.
//   5. Otherwise send the descriptor, as systemd does. If the kernel refuses it for reasons that mean this
//      peer cannot take descriptors (see PEER_CANNOT_TAKE_FD), nothing was sent, and we relay.
// `--fdpass` skips all this and behaves exactly like systemd; `--relay` always relays.
// Cost on the fd-passing path: five system calls and a read of the peer's /proc/PID/maps (about 0.4 ms in
// a compiled binary, measured: first calls through bun:ffi, most of it).

import { Errno } from "../../ffi/errno.ts";
import { SysError } from "../../ffi/errors.ts";
import { includesBytes } from "../../ffi/bytes-search.ts";
import { fileId, readFile } from "../../ffi/io.ts";
import { AF_UNIX } from "../../ffi/sockaddr.ts";
import { peerPid, queuedBytes, socketFamily } from "../../ffi/socket.ts";
import { bytes } from "../shared/raw-bytes.ts";

/**
 * sendmsg(SCM_RIGHTS) failures after which relaying is right. Nothing is sent when sendmsg() fails on a
 * 1-byte message, so falling back is safe.
 * - EPERM: the receiver turned SO_PASSRIGHTS off (Linux 6.16+), or an LSM forbids passing descriptors;
 *   EACCES: an LSM denies passing this descriptor to that peer.
 * - EINVAL, EOPNOTSUPP: the socket family or type carries no SCM_RIGHTS.
 * - ENOTSOCK: not a socket after all.
 * Not here: EPIPE, ECONNRESET (the client is gone: relaying cannot help), ENOBUFS/ENOMEM, ETOOMANYREFS.
 */
const PEER_CANNOT_TAKE_FD = new Set<number>([Errno.EPERM, Errno.EACCES, Errno.EINVAL, Errno.EOPNOTSUPP, Errno.ENOTSOCK]);

export function peerCannotTakeFd(e: unknown): boolean {
  return e instanceof SysError && PEER_CANNOT_TAKE_FD.has(e.errno);
}

/** Why descriptor passing over `out` is out of the question (steps 1 to 4 above), or null to try it. */
export function relayReason(input: number, out: number): string | null {
  const family = socketFamily(out);
  if (family === null) return "STDOUT is not a socket";
  if (family !== AF_UNIX) return `STDOUT is not an AF_UNIX socket (family ${family})`;
  const inId = fileId(input);
  if (inId?.type === "socket") {
    const outId = fileId(out);
    if (outId && (outId.dev !== inId.dev || outId.ino !== inId.ino)) return "STDIN and STDOUT are two different sockets";
  }
  for (const [fd, name] of [[input, "STDIN"], [out, "STDOUT"]] as const) {
    const queued = queuedBytes(fd);
    if (queued !== null && queued > 0) return `the peer already sent ${queued} bytes on ${name}`;
  }
  const pid = peerPid(out);
  if (pid !== null && mapsLibssh(pid)) return `the peer on STDOUT (PID ${pid}) uses libssh`;
  return null;
}

/** Does process `pid` have libssh mapped? False when that cannot be told. */
export function mapsLibssh(pid: number): boolean {
  let maps: Uint8Array;
  try {
    // Searched as bytes (memmem), never decoded: a regular expression or a loop over the bytes cost the hot
    // path about 1 ms (measured), and so did decoding OpenSSH's 9 KB of maps into a string (a million
    // instructions, counted with callgrind). The names we look for are ASCII.
    maps = readFile(`/proc/${pid}/maps`);
  } catch {
    return false; // gone, another user's, no /proc: no evidence, so systemd's behaviour
  }
  return mapsFile(maps, "/libssh.so") || mapsFile(maps, "/libssh-gcrypt.so");
}

/**
 * Whether the bytes of a /proc/PID/maps name a file `name` ("/libssh.so" matches "/usr/lib/x86_64-linux-gnu/
 * libssh.so.4.9.4" but not libssh2, which has no ProxyCommand): the name followed by "." or the line's end.
 */
export function mapsFile(maps: Uint8Array, name: string): boolean {
  return includesBytes(maps, bytes(`${name}.`)) || includesBytes(maps, bytes(`${name}\n`));
}

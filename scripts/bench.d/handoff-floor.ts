// The least a proxy hand-off can do in a compiled Bun program: the bun:ffi floor's own binding of libc
// (imported from ffi-floor.ts), then connect an AF_UNIX socket to the path in argv ("unix/PATH"), send it
// over stdout with SCM_RIGHTS and _exit(), in one straight line without checks. What ours costs above this
// is our structure and the relay decision, not the runtime. x86-64 and aarch64 (LP64) layouts,
// little-endian. Not a target, a measured bound.
import { ptr as addressOf } from "bun:ffi";
import { libc } from "./ffi-floor.ts";

const AF_UNIX = 1, SOCK_STREAM_CLOEXEC = 1 | 0o2000000, SOL_SOCKET = 1, SCM_RIGHTS = 1, MSG_NOSIGNAL = 0x4000;
const path = process.argv[2]!.slice("unix".length);
const fd = libc.socket(AF_UNIX, SOCK_STREAM_CLOEXEC, 0);
// struct sockaddr_un: sun_family, then the path and its NUL.
const sa = new Uint8Array(new ArrayBuffer(110));
sa[0] = AF_UNIX;
for (let i = 0; i < path.length; i++) sa[2 + i] = path.charCodeAt(i);
if (libc.connect(fd, sa, 2 + path.length + 1) < 0) libc._exit(1);
// struct msghdr (56 bytes), its iovec (16) and a control buffer holding one cmsghdr with an int (24), then
// the one NUL byte sent: pointers into the same ArrayBuffer.
const buf = new ArrayBuffer(56 + 16 + 24 + 1);
const bytes = new Uint8Array(buf);
const view = new DataView(buf);
const base = addressOf(bytes);
const u64At = (off: number, v: number) => {
  view.setUint32(off, v % 2 ** 32, true);
  view.setUint32(off + 4, Math.floor(v / 2 ** 32), true);
};
u64At(16, base + 56); // msg_iov
u64At(24, 1); // msg_iovlen
u64At(32, base + 72); // msg_control
u64At(40, 20); // msg_controllen: CMSG_LEN(sizeof(int))
u64At(56, base + 96); // iov_base
u64At(64, 1); // iov_len
u64At(72, 20); // cmsg_len
view.setInt32(80, SOL_SOCKET, true);
view.setInt32(84, SCM_RIGHTS, true);
view.setInt32(88, fd, true);
libc._exit(libc.sendmsg(1, bytes, MSG_NOSIGNAL) < 0 ? 2 : 0);

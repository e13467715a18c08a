// Every Linux ABI number and struct layout ffi/ uses, per architecture, in one place. Pure data: each is
// exported on its own, with the value of the architecture we run on, and test/ffi/abi.test.ts checks both
// architectures' values (test/helpers/abi-table.ts puts each together as an Abi table) against what gcc
// (x86-64) and gcc-aarch64-linux-gnu (aarch64) say, printing the same names from the C headers.
//
// One constant per export, not one table object: an object of some ninety properties costs the engine, the
// first time one is read by name, a property table built from its whole shape. Counted with callgrind, the
// table cost every proxy start 0.24M instructions (7.28M against 7.04M) and every generator start 0.34M
// (9.46M against 9.11M), and each one block of the engine's heap (scripts/bundle.ts says why blocks count).
//
// Both architectures are LP64 little-endian and take their socket, ioctl, poll and errno numbers from
// asm-generic, so most of the values are shared. What differs (checked by the test above):
//   - struct stat: x86-64 has its own (st_nlink before st_mode, 144 bytes); aarch64 uses asm-generic's
//     (st_mode right after st_ino, 128 bytes);
//   - struct epoll_event: packed on x86-64 (12 bytes), naturally aligned on aarch64 (16);
//   - musl's libc soname, which names the architecture.
// errno numbers are the same on both (ffi/errno.ts), and so are the mmap/mprotect ones.

export interface Abi {
  /** The names dlopen tries for libc: glibc's soname, then musl's for this architecture. */
  readonly libcNames: readonly string[];

  // <fcntl.h>
  readonly O_RDONLY: number;
  readonly O_WRONLY: number;
  readonly O_CREAT: number;
  readonly O_EXCL: number;
  readonly O_NONBLOCK: number;
  readonly O_CLOEXEC: number;
  readonly O_PATH: number;
  readonly F_GETFL: number;
  readonly F_SETFL: number;
  readonly F_SETPIPE_SZ: number;
  readonly SPLICE_F_MOVE: number;
  readonly SPLICE_F_NONBLOCK: number;
  readonly AT_FDCWD: number;
  readonly AT_SYMLINK_NOFOLLOW: number;
  readonly STATX_TYPE: number;
  readonly STATX_SIZE: number;
  // <unistd.h>
  readonly F_OK: number;
  readonly X_OK: number;
  readonly W_OK: number;

  // <sys/resource.h>
  readonly RLIMIT_NOFILE: number;

  // <sys/epoll.h>
  readonly EPOLL_CLOEXEC: number;
  readonly EPOLL_CTL_ADD: number;
  readonly EPOLLIN: number;
  readonly EPOLLERR: number;
  readonly EPOLLHUP: number;
  readonly EPOLLRDHUP: number;
  readonly EPOLLET: number;

  // <sys/mman.h> (for ffi/cpuid.ts's code page, x86-64 only; the numbers are the same on both)
  readonly PROT_READ: number;
  readonly PROT_WRITE: number;
  readonly PROT_EXEC: number;
  readonly MAP_PRIVATE: number;
  readonly MAP_ANONYMOUS: number;

  // <poll.h>
  readonly POLLIN: number;
  readonly POLLOUT: number;
  readonly POLLERR: number;
  readonly POLLHUP: number;

  // <sys/socket.h>, <sys/ioctl.h>, <linux/vm_sockets.h>
  readonly AF_UNIX: number;
  readonly AF_VSOCK: number;
  readonly SOCK_STREAM: number;
  readonly SOCK_DGRAM: number;
  readonly SOCK_SEQPACKET: number;
  readonly SOCK_CLOEXEC: number;
  readonly SOL_SOCKET: number;
  readonly SO_TYPE: number;
  readonly SO_PEERCRED: number;
  readonly SO_DOMAIN: number;
  /** The timeval (64-bit fields on LP64) form, SO_RCVTIMEO_OLD in newer headers. */
  readonly SO_RCVTIMEO: number;
  readonly SCM_RIGHTS: number;
  readonly MSG_PEEK: number;
  readonly MSG_DONTWAIT: number;
  readonly MSG_NOSIGNAL: number;
  readonly MSG_CMSG_CLOEXEC: number;
  readonly SHUT_WR: number;
  /** SIOCINQ: bytes queued for reading. */
  readonly FIONREAD: number;
  readonly IOCTL_VM_SOCKETS_GET_LOCAL_CID: number;
  readonly VMADDR_CID_ANY: number;
  readonly VMADDR_PORT_ANY: number;

  // <sys/stat.h>
  readonly S_IFMT: number;
  readonly S_IFSOCK: number;
  readonly S_IFIFO: number;
  readonly S_IFCHR: number;
  readonly S_IFREG: number;
  readonly S_IFDIR: number;
  readonly S_IFBLK: number;
  readonly S_IFLNK: number;

  /** Struct layouts: `size` is sizeof, the rest offsetof (CMSG_* are the macros' values for one int). */
  readonly stat: { size: number; st_dev: number; st_ino: number; st_mode: number };
  readonly statx: { size: number; stx_mode: number; stx_size: number };
  readonly epoll_event: { size: number; events: number; data: number };
  readonly rlimit: { size: number; rlim_cur: number; rlim_max: number };
  readonly pollfd: { size: number; fd: number; events: number; revents: number };
  readonly msghdr: {
    size: number; msg_name: number; msg_namelen: number; msg_iov: number; msg_iovlen: number;
    msg_control: number; msg_controllen: number; msg_flags: number;
  };
  readonly iovec: { size: number; iov_base: number; iov_len: number };
  readonly cmsghdr: {
    size: number; cmsg_len: number; cmsg_level: number; cmsg_type: number;
    /** CMSG_DATA(c) - c */
    data: number;
    /** CMSG_LEN(sizeof(int)), CMSG_SPACE(sizeof(int)) */
    lenInt: number; spaceInt: number;
  };
  readonly ucred: { size: number; pid: number; uid: number; gid: number };
  readonly timeval: { size: number; tv_sec: number; tv_usec: number };
  readonly sockaddr_un: { size: number; sun_family: number; sun_path: number; sun_path_size: number };
  readonly sockaddr_vm: {
    size: number; svm_family: number; svm_reserved1: number; svm_port: number; svm_cid: number;
    svm_flags: number; svm_zero: number;
  };
}

// The LP64 asm-generic part both architectures share.
export const O_RDONLY = 0;
export const O_WRONLY = 0o1;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export const O_PATH = 0o10000000;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const F_SETPIPE_SZ = 1031;
export const SPLICE_F_MOVE = 1;
export const SPLICE_F_NONBLOCK = 2;
export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const STATX_TYPE = 0x1;
export const STATX_SIZE = 0x200;
export const F_OK = 0;
export const X_OK = 1;
export const W_OK = 2;

export const RLIMIT_NOFILE = 7;

export const EPOLL_CLOEXEC = 0o2000000;
export const EPOLL_CTL_ADD = 1;
export const EPOLLIN = 0x001;
export const EPOLLERR = 0x008;
export const EPOLLHUP = 0x010;
export const EPOLLRDHUP = 0x2000;
export const EPOLLET = 0x80000000;

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const PROT_EXEC = 4;
export const MAP_PRIVATE = 0x02;
export const MAP_ANONYMOUS = 0x20;

export const POLLIN = 0x001;
export const POLLOUT = 0x004;
export const POLLERR = 0x008;
export const POLLHUP = 0x010;

export const AF_UNIX = 1;
export const AF_VSOCK = 40;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_SEQPACKET = 5;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_TYPE = 3;
export const SO_PEERCRED = 17;
export const SO_DOMAIN = 39;
export const SO_RCVTIMEO = 20;
export const SCM_RIGHTS = 1;
export const MSG_PEEK = 0x2;
export const MSG_DONTWAIT = 0x40;
export const MSG_NOSIGNAL = 0x4000;
export const MSG_CMSG_CLOEXEC = 0x40000000;
export const SHUT_WR = 1;
export const FIONREAD = 0x541b;
export const IOCTL_VM_SOCKETS_GET_LOCAL_CID = 0x7b9; // _IO(7, 0xb9)
export const VMADDR_CID_ANY = 0xffffffff;
export const VMADDR_PORT_ANY = 0xffffffff;

export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFBLK = 0o060000;
export const S_IFLNK = 0o120000;

export const pollfd = { size: 8, fd: 0, events: 4, revents: 6 };
// struct statx is the same everywhere (fixed-size fields, 256 bytes).
export const statx = { size: 256, stx_mode: 28, stx_size: 40 };
export const rlimit = { size: 16, rlim_cur: 0, rlim_max: 8 };
export const msghdr = { size: 56, msg_name: 0, msg_namelen: 8, msg_iov: 16, msg_iovlen: 24, msg_control: 32, msg_controllen: 40, msg_flags: 48 };
export const iovec = { size: 16, iov_base: 0, iov_len: 8 };
export const cmsghdr = { size: 16, cmsg_len: 0, cmsg_level: 8, cmsg_type: 12, data: 16, lenInt: 20, spaceInt: 24 };
export const ucred = { size: 12, pid: 0, uid: 4, gid: 8 };
export const timeval = { size: 16, tv_sec: 0, tv_usec: 8 };
export const sockaddr_un = { size: 110, sun_family: 0, sun_path: 2, sun_path_size: 108 };
export const sockaddr_vm = { size: 16, svm_family: 0, svm_reserved1: 2, svm_port: 4, svm_cid: 8, svm_flags: 12, svm_zero: 13 };

/** What differs, side by side: each field as [x86-64, arm64]. */
export const DIFFERENT = {
  libcNames: [
    ["libc.so.6", "libc.musl-x86_64.so.1", "libc.so"],
    ["libc.so.6", "libc.musl-aarch64.so.1", "libc.so"],
  ],
  // x86-64's struct stat (arch/x86/include/uapi/asm/stat.h): dev, ino, nlink (8 bytes), mode, uid, gid, pad, ...
  // arm64's (asm-generic/stat.h): dev, ino, mode (4 bytes), nlink (4), uid, gid, rdev, pad, ...
  stat: [
    { size: 144, st_dev: 0, st_ino: 8, st_mode: 24 },
    { size: 128, st_dev: 0, st_ino: 8, st_mode: 16 },
  ],
  // __attribute__((packed)) on x86-64 only (the i386 layout kept for 64-bit).
  epoll_event: [
    { size: 12, events: 0, data: 4 },
    { size: 16, events: 0, data: 8 },
  ],
} as const satisfies { [K in PerArch]: readonly [Abi[K], Abi[K]] };

/** The fields DIFFERENT holds; every other field of Abi is one of the shared exports above. */
type PerArch = "libcNames" | "stat" | "epoll_event";

/**
 * The column of DIFFERENT for the architecture we run on. Any other architecture is refused when ffi/ loads
 * rather than guessed: a wrong open flag or stat offset would not fail loudly.
 */
const COLUMN = process.arch === "x64" ? 0 : process.arch === "arm64" ? 1 : unsupported();

function unsupported(): never {
  throw new Error(`systemd-ssh: no ABI table for architecture ${process.arch} (ffi/arch.ts knows x64 and arm64)`);
}

export const libcNames: Abi["libcNames"] = DIFFERENT.libcNames[COLUMN];
export const stat: Abi["stat"] = DIFFERENT.stat[COLUMN];
export const epoll_event: Abi["epoll_event"] = DIFFERENT.epoll_event[COLUMN];

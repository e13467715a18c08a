// Every Linux ABI number and struct layout ffi/ uses, per architecture, in one place. Pure data: the other
// ffi/ modules take their constants and offsets from `abi`, the table of the architecture we run on, and
// test/ffi/abi.test.ts checks every table against what gcc (x86-64) and gcc-aarch64-linux-gnu (aarch64)
// say, printing the same names from the C headers.
//
// Both architectures are LP64 little-endian and take their socket, ioctl, poll and errno numbers from
// asm-generic, so most of the table is shared. What differs (checked by the test above):
//   - <fcntl.h>: O_DIRECTORY, O_NOFOLLOW and O_DIRECT (x86-64 keeps i386's numbers, aarch64 has ARM's);
//   - struct stat: x86-64 has its own (st_nlink before st_mode, 144 bytes); aarch64 uses asm-generic's
//     (st_mode right after st_ino, 128 bytes);
//   - struct epoll_event: packed on x86-64 (12 bytes), naturally aligned on aarch64 (16);
//   - musl's libc soname, which names the architecture.
// errno numbers are the same on both (ffi/errno.ts), and so are the mmap/mprotect ones.

export type Arch = "x64" | "arm64";

export interface Abi {
  /** The names dlopen tries for libc: glibc's soname, then musl's for this architecture. */
  readonly libcNames: readonly string[];

  // <fcntl.h>
  readonly O_RDONLY: number;
  readonly O_WRONLY: number;
  readonly O_CREAT: number;
  readonly O_EXCL: number;
  readonly O_NONBLOCK: number;
  readonly O_DIRECTORY: number;
  readonly O_NOFOLLOW: number;
  readonly O_DIRECT: number;
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
  readonly POLLNVAL: number;

  // <sys/socket.h>, <sys/ioctl.h>, <linux/vm_sockets.h>
  readonly AF_UNIX: number;
  readonly AF_INET: number;
  readonly AF_INET6: number;
  readonly AF_VSOCK: number;
  readonly SOCK_STREAM: number;
  readonly SOCK_DGRAM: number;
  readonly SOCK_SEQPACKET: number;
  readonly SOCK_NONBLOCK: number;
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
  readonly SHUT_RD: number;
  readonly SHUT_WR: number;
  readonly SHUT_RDWR: number;
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
const COMMON = {
  O_RDONLY: 0,
  O_WRONLY: 0o1,
  O_CREAT: 0o100,
  O_EXCL: 0o200,
  O_NONBLOCK: 0o4000,
  O_CLOEXEC: 0o2000000,
  O_PATH: 0o10000000,
  F_GETFL: 3,
  F_SETFL: 4,
  F_SETPIPE_SZ: 1031,
  SPLICE_F_MOVE: 1,
  SPLICE_F_NONBLOCK: 2,
  AT_FDCWD: -100,
  AT_SYMLINK_NOFOLLOW: 0x100,
  STATX_TYPE: 0x1,
  STATX_SIZE: 0x200,
  F_OK: 0,
  X_OK: 1,
  W_OK: 2,

  RLIMIT_NOFILE: 7,

  EPOLL_CLOEXEC: 0o2000000,
  EPOLL_CTL_ADD: 1,
  EPOLLIN: 0x001,
  EPOLLERR: 0x008,
  EPOLLHUP: 0x010,
  EPOLLRDHUP: 0x2000,
  EPOLLET: 0x80000000,

  PROT_READ: 1,
  PROT_WRITE: 2,
  PROT_EXEC: 4,
  MAP_PRIVATE: 0x02,
  MAP_ANONYMOUS: 0x20,

  POLLIN: 0x001,
  POLLOUT: 0x004,
  POLLERR: 0x008,
  POLLHUP: 0x010,
  POLLNVAL: 0x020,

  AF_UNIX: 1,
  AF_INET: 2,
  AF_INET6: 10,
  AF_VSOCK: 40,
  SOCK_STREAM: 1,
  SOCK_DGRAM: 2,
  SOCK_SEQPACKET: 5,
  SOCK_NONBLOCK: 0o4000,
  SOCK_CLOEXEC: 0o2000000,
  SOL_SOCKET: 1,
  SO_TYPE: 3,
  SO_PEERCRED: 17,
  SO_DOMAIN: 39,
  SO_RCVTIMEO: 20,
  SCM_RIGHTS: 1,
  MSG_PEEK: 0x2,
  MSG_DONTWAIT: 0x40,
  MSG_NOSIGNAL: 0x4000,
  MSG_CMSG_CLOEXEC: 0x40000000,
  SHUT_RD: 0,
  SHUT_WR: 1,
  SHUT_RDWR: 2,
  FIONREAD: 0x541b,
  IOCTL_VM_SOCKETS_GET_LOCAL_CID: 0x7b9, // _IO(7, 0xb9)
  VMADDR_CID_ANY: 0xffffffff,
  VMADDR_PORT_ANY: 0xffffffff,

  S_IFMT: 0o170000,
  S_IFSOCK: 0o140000,
  S_IFIFO: 0o010000,
  S_IFCHR: 0o020000,
  S_IFREG: 0o100000,
  S_IFDIR: 0o040000,
  S_IFBLK: 0o060000,
  S_IFLNK: 0o120000,

  pollfd: { size: 8, fd: 0, events: 4, revents: 6 },
  // struct statx is the same everywhere (fixed-size fields, 256 bytes).
  statx: { size: 256, stx_mode: 28, stx_size: 40 },
  rlimit: { size: 16, rlim_cur: 0, rlim_max: 8 },
  msghdr: { size: 56, msg_name: 0, msg_namelen: 8, msg_iov: 16, msg_iovlen: 24, msg_control: 32, msg_controllen: 40, msg_flags: 48 },
  iovec: { size: 16, iov_base: 0, iov_len: 8 },
  cmsghdr: { size: 16, cmsg_len: 0, cmsg_level: 8, cmsg_type: 12, data: 16, lenInt: 20, spaceInt: 24 },
  ucred: { size: 12, pid: 0, uid: 4, gid: 8 },
  timeval: { size: 16, tv_sec: 0, tv_usec: 8 },
  sockaddr_un: { size: 110, sun_family: 0, sun_path: 2, sun_path_size: 108 },
  sockaddr_vm: { size: 16, svm_family: 0, svm_reserved1: 2, svm_port: 4, svm_cid: 8, svm_flags: 12, svm_zero: 13 },
} as const;

/** What differs, side by side: each field as [x86-64, arm64]. */
const DIFFERENT = {
  libcNames: [
    ["libc.so.6", "libc.musl-x86_64.so.1", "libc.so"],
    ["libc.so.6", "libc.musl-aarch64.so.1", "libc.so"],
  ],
  O_DIRECTORY: [0o200000, 0o40000],
  O_NOFOLLOW: [0o400000, 0o100000],
  O_DIRECT: [0o40000, 0o200000],
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
} as const satisfies { [K in Exclude<keyof Abi, keyof typeof COMMON>]: readonly [Abi[K], Abi[K]] };

/** One architecture's column of DIFFERENT, over COMMON (an object literal: its shape stays a fast one). */
function tableFor(i: 0 | 1): Abi {
  const d = DIFFERENT;
  return {
    ...COMMON,
    libcNames: d.libcNames[i], O_DIRECTORY: d.O_DIRECTORY[i], O_NOFOLLOW: d.O_NOFOLLOW[i], O_DIRECT: d.O_DIRECT[i],
    stat: d.stat[i], epoll_event: d.epoll_event[i],
  };
}

export const ABIS: Readonly<Record<Arch, Abi>> = { x64: tableFor(0), arm64: tableFor(1) };

/** The table for an architecture in process.arch's spelling, or null for one we have not checked. */
function abiFor(arch: string): Abi | null {
  return arch === "x64" || arch === "arm64" ? ABIS[arch] : null;
}

/**
 * The table of the architecture we run on. Any other architecture is refused when ffi/ loads rather than
 * guessed: a wrong open flag or stat offset would not fail loudly.
 */
export const abi: Abi = abiFor(process.arch) ?? unsupported();

function unsupported(): never {
  throw new Error(`systemd-ssh: no ABI table for architecture ${process.arch} (ffi/arch.ts knows x64 and arm64)`);
}

// The libc symbols ffi/libc.ts binds, in groups: what bun:ffi needs for each (argument and return types).
// Each group is a function that makes its table, so that a run makes the tables of the groups it binds
// only: as object literals made when this module loads, all nine cost a start about two blocks of the
// engine's heap (scripts/bundle.ts says why those count). groupMembers() is a macro of ffi/libc.ts.

import { FFIType } from "bun:ffi";

const { i32, i64, u32, u64, ptr } = FFIType;

// The symbols in groups, bound together the first time one of them is used: each dlopen() costs about
// 0.1 ms and each symbol about 15 µs (bun:ffi compiles a trampoline for it), so a tool binds the few groups
// its run needs. Every run needs "core"; the proxy's descriptor hand-off adds "handOff" (memmem for its
// look at the peer's libraries), the generator "files" (and "handOff" for its AF_VSOCK probe).
export const GROUPS = {
  core: () => ({
    // open and ioctl are variadic; on x86-64 and aarch64 a fixed-argument call with integer/pointer
    // arguments is ABI-compatible with the variadic definition.
    open: { args: [ptr, i32, u32], returns: i32 },
    read: { args: [i32, ptr, u64], returns: i64 },
    close: { args: [i32], returns: i32 },
    fstat: { args: [i32, ptr], returns: i32 },
    _exit: { args: [i32], returns: FFIType.void },
    __errno_location: { args: [], returns: ptr },
    // A pointer, which ffi/errors.ts reads as a C string: as a cstring it would come back as a CString only
    // from the wrapped dlopen (see bindLibrary).
    strerror: { args: [i32], returns: ptr },
  }) as const,
  handOff: () => ({
    socket: { args: [i32, i32, i32], returns: i32 },
    connect: { args: [i32, ptr, u32], returns: i32 },
    getsockopt: { args: [i32, i32, i32, ptr, ptr], returns: i32 },
    sendmsg: { args: [i32, ptr, i32], returns: i64 },
    ioctl: { args: [i32, u64, ptr], returns: i32 },
    memmem: { args: [ptr, u64, ptr, u64], returns: ptr },
  }) as const,
  // The file-system calls of ffi/fs.ts, and write(2).
  files: () => ({
    access: { args: [ptr, i32], returns: i32 },
    statx: { args: [i32, ptr, i32, u32, ptr], returns: i32 },
    mkdir: { args: [ptr, u32], returns: i32 },
    chmod: { args: [ptr, u32], returns: i32 },
    symlink: { args: [ptr, ptr], returns: i32 },
    link: { args: [ptr, ptr], returns: i32 },
    unlink: { args: [ptr], returns: i32 },
    write: { args: [i32, ptr, u64], returns: i64 },
    opendir: { args: [ptr], returns: ptr },
    readdir: { args: [ptr], returns: ptr },
    closedir: { args: [ptr], returns: i32 },
  }) as const,
  // What an atomic replace adds to those (src/shared/atomic-file.ts); the generator's writes need none.
  replace: () => ({
    rename: { args: [ptr, ptr], returns: i32 },
    fchmod: { args: [i32, u32], returns: i32 },
    fsync: { args: [i32], returns: i32 },
  }) as const,
  rest: () => ({
    socketpair: { args: [i32, i32, i32, ptr], returns: i32 },
    bind: { args: [i32, ptr, u32], returns: i32 },
    listen: { args: [i32, i32], returns: i32 },
    accept4: { args: [i32, ptr, ptr, i32], returns: i32 },
    shutdown: { args: [i32, i32], returns: i32 },
    recvmsg: { args: [i32, ptr, i32], returns: i64 },
    send: { args: [i32, ptr, u64, i32], returns: i64 },
    recv: { args: [i32, ptr, u64, i32], returns: i64 },
    setsockopt: { args: [i32, i32, i32, ptr, u32], returns: i32 },
    fcntl: { args: [i32, i32, i32], returns: i32 },
    poll: { args: [ptr, u64, i32], returns: i32 },
    splice: { args: [i32, ptr, i32, ptr, u64, u32], returns: i64 },
    pipe2: { args: [ptr, i32], returns: i32 },
    epoll_create1: { args: [i32], returns: i32 },
    epoll_ctl: { args: [i32, i32, i32, ptr], returns: i32 },
    epoll_wait: { args: [i32, ptr, i32, i32], returns: i32 },
    getrlimit: { args: [i32, ptr], returns: i32 },
    setrlimit: { args: [i32, ptr], returns: i32 },
  }) as const,
  // Only ffi/cpuid.ts maps code. memcpy writes it: cheaper than a first toArrayBuffer() by about 0.2 ms.
  exec: () => ({
    mmap: { args: [ptr, u64, i32, i32, i32, i64], returns: ptr },
    mprotect: { args: [ptr, u64, i32], returns: i32 },
    memcpy: { args: [ptr, ptr, u64], returns: ptr },
  }) as const,
};

export type GroupName = keyof typeof GROUPS;

/** Each group's symbol names, as " name name ... " (run when the bundle is built: see ffi/libc.ts). */
export function groupMembers(): [GroupName, string][] {
  const groups = Object.keys(GROUPS) as GroupName[];
  return groups.map((g) => [g, ` ${Object.keys(GROUPS[g]()).join(" ")} `]);
}

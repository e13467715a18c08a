// The libc symbols we call, bound through bun:ffi on first use, a few at a time.
//
// This file and its siblings in ffi/ are the only places that deal in pointers, struct layouts and errno.
// Everything exported from ffi/ takes and returns plain numbers, strings and Uint8Arrays.
//
// Pointer discipline: every buffer handed to libc is either passed directly as a call
// argument (Bun keeps it alive and pinned for the call) or lives inside such an argument's ArrayBuffer, so a
// pointer stored inside a struct can never outlive, or be moved away from, the memory it points to.

import { dlopen, FFIType, read, type Pointer } from "bun:ffi";
import { abi } from "./arch.ts";

const { i32, i64, u32, u64, ptr, cstring } = FFIType;

// glibc's soname; musl keeps everything in libc.so too, under a name that says the architecture.
const LIBC_CANDIDATES = abi.libcNames;

// The symbols in groups, bound together the first time one of them is used: each dlopen() costs about
// 0.1 ms and each symbol about 15 µs (bun:ffi compiles a trampoline for it), so a tool binds the few groups
// its run needs. Every run needs "core"; the proxy's descriptor hand-off adds "handOff", the generator
// "files" (and "handOff" for its AF_VSOCK probe).
const GROUPS = {
  core: {
    // open and ioctl are variadic; on x86-64 and aarch64 a fixed-argument call with integer/pointer
    // arguments is ABI-compatible with the variadic definition.
    open: { args: [ptr, i32, u32], returns: i32 },
    read: { args: [i32, ptr, u64], returns: i64 },
    close: { args: [i32], returns: i32 },
    fstat: { args: [i32, ptr], returns: i32 },
    _exit: { args: [i32], returns: FFIType.void },
    __errno_location: { args: [], returns: ptr },
    strerror: { args: [i32], returns: cstring },
  },
  handOff: {
    socket: { args: [i32, i32, i32], returns: i32 },
    connect: { args: [i32, ptr, u32], returns: i32 },
    getsockopt: { args: [i32, i32, i32, ptr, ptr], returns: i32 },
    sendmsg: { args: [i32, ptr, i32], returns: i64 },
    ioctl: { args: [i32, u64, ptr], returns: i32 },
  },
  // The file-system calls of ffi/fs.ts, and write(2).
  files: {
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
  },
  // What an atomic replace adds to those (src/shared/atomic-file.ts); the generator's writes need none.
  replace: {
    rename: { args: [ptr, ptr], returns: i32 },
    fchmod: { args: [i32, u32], returns: i32 },
    fsync: { args: [i32], returns: i32 },
  },
  rest: {
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
  },
  // Only ffi/cpuid.ts maps code. memcpy writes it: cheaper than a first toArrayBuffer() by about 0.2 ms.
  exec: {
    mmap: { args: [ptr, u64, i32, i32, i32, i64], returns: ptr },
    mprotect: { args: [ptr, u64, i32], returns: i32 },
    memcpy: { args: [ptr, ptr, u64], returns: ptr },
  },
} as const;

type Groups = typeof GROUPS;
type Bound<G extends keyof Groups> = ReturnType<typeof dlopen<Groups[G]>>["symbols"];
type Lib = Bound<"core"> & Bound<"handOff"> & Bound<"files"> & Bound<"replace"> & Bound<"rest"> & Bound<"exec">;

let libcName: string | undefined;

function bind<G extends keyof Groups>(group: G): Bound<G> {
  if (libcName !== undefined) return dlopen(libcName, GROUPS[group]).symbols;
  let lastError: unknown;
  for (const name of LIBC_CANDIDATES) {
    try {
      const symbols = dlopen(name, GROUPS[group]).symbols;
      libcName = name;
      return symbols;
    } catch (e) {
      lastError = e;
    }
  }
  throw new Error(`Failed to load libc: ${String(lastError)}`);
}

/** The group that binds `name`, if any. */
function groupOf(name: string): keyof Groups | undefined {
  // for-in lists own enumerable names only, so "toString" and the like are no symbol's.
  for (const group in GROUPS) for (const symbol in GROUPS[group as keyof Groups]) if (symbol === name) return group as keyof Groups;
  return undefined;
}

/**
 * The libc functions, bound a group at a time on first use. A bound function is an own property of this
 * object, so a call is a plain property read; a name not bound yet falls through to the prototype, a Proxy
 * whose get() binds that name's group onto the object. Nothing is done per symbol before its group is
 * needed: a getter per symbol, defined up front, cost the proxy and the generator about 0.1 ms at start.
 */
const lib: Lib = Object.create(
  new Proxy(
    {},
    {
      get(_, name) {
        const group = typeof name === "string" ? groupOf(name) : undefined;
        if (group === undefined) return undefined;
        const bound = bind(group) as Record<string, unknown>;
        for (const n in bound) Object.defineProperty(lib, n, { value: bound[n], enumerable: true });
        return bound[name as string];
      },
    },
  ),
);

/** The libc functions. A plain object, not a getter: a function called before every libc call is the first
 * one the engine would compile (see scripts/bench on why the generator's typical run must compile none). */
export const libc: Lib = lib;

/** errno of the calling thread; read it right after the failing call, before anything else can clobber it. */
export function errno(): number {
  const p = libc.__errno_location() as Pointer | null;
  return p === null ? 0 : read.i32(p, 0);
}

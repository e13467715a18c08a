// The libc symbols we call, bound once through bun:ffi.
//
// This file and its siblings in ffi/ are the only places that deal in pointers, struct layouts and errno.
// Everything exported from ffi/ takes and returns plain numbers, strings and Uint8Arrays.
//
// Pointer discipline (see ffi/README.md): every buffer handed to libc is either passed directly as a call
// argument (Bun keeps it alive and pinned for the call) or lives inside such an argument's ArrayBuffer, so a
// pointer stored inside a struct can never outlive, or be moved away from, the memory it points to.

import { dlopen, FFIType, read, type Pointer } from "bun:ffi";
import { abi } from "./arch.ts";

const { i32, i64, u32, u64, ptr, cstring } = FFIType;

// glibc's soname; musl keeps everything in libc.so too, under a name that says the architecture.
const LIBC_CANDIDATES = abi.libcNames;

const symbols = {
  socket: { args: [i32, i32, i32], returns: i32 },
  socketpair: { args: [i32, i32, i32, ptr], returns: i32 },
  connect: { args: [i32, ptr, u32], returns: i32 },
  bind: { args: [i32, ptr, u32], returns: i32 },
  listen: { args: [i32, i32], returns: i32 },
  accept4: { args: [i32, ptr, ptr, i32], returns: i32 },
  shutdown: { args: [i32, i32], returns: i32 },
  sendmsg: { args: [i32, ptr, i32], returns: i64 },
  recvmsg: { args: [i32, ptr, i32], returns: i64 },
  send: { args: [i32, ptr, u64, i32], returns: i64 },
  recv: { args: [i32, ptr, u64, i32], returns: i64 },
  read: { args: [i32, ptr, u64], returns: i64 },
  write: { args: [i32, ptr, u64], returns: i64 },
  setsockopt: { args: [i32, i32, i32, ptr, u32], returns: i32 },
  getsockopt: { args: [i32, i32, i32, ptr, ptr], returns: i32 },
  // open and ioctl are variadic; on x86-64 and aarch64 a fixed-argument call with integer/pointer arguments
  // is ABI-compatible with the variadic definition.
  open: { args: [ptr, i32, u32], returns: i32 },
  close: { args: [i32], returns: i32 },
  ioctl: { args: [i32, u64, ptr], returns: i32 },
  fcntl: { args: [i32, i32, i32], returns: i32 },
  poll: { args: [ptr, u64, i32], returns: i32 },
  splice: { args: [i32, ptr, i32, ptr, u64, u32], returns: i64 },
  pipe2: { args: [ptr, i32], returns: i32 },
  fstat: { args: [i32, ptr], returns: i32 },
  _exit: { args: [i32], returns: FFIType.void },
  __errno_location: { args: [], returns: ptr },
  strerror: { args: [i32], returns: cstring },
} as const;

type Lib = ReturnType<typeof dlopen<typeof symbols>>["symbols"];

let lib: Lib | undefined;

/** The bound libc functions; dlopen runs on first use so that merely importing ffi/ costs nothing. */
export function libc(): Lib {
  if (lib) return lib;
  let lastError: unknown;
  for (const name of LIBC_CANDIDATES) {
    try {
      lib = dlopen(name, symbols).symbols;
      return lib;
    } catch (e) {
      lastError = e;
    }
  }
  throw new Error(`Failed to load libc: ${String(lastError)}`);
}

/** errno of the calling thread; read it right after the failing call, before anything else can clobber it. */
export function errno(): number {
  const p = libc().__errno_location() as Pointer | null;
  return p === null ? 0 : read.i32(p, 0);
}

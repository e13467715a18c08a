// The floor of any bun:ffi program: load bun:ffi, bind the 26 libc symbols the way ffi/libc.ts bound them
// when scripts/bench's targets were set, then exit. A fixed copy, not an import of ffi/libc.ts, so that
// changing how we bind libc moves our figures and never the floor they are measured against. The least
// hand-off (handoff-floor.ts) imports the symbols bound here, so that both bind exactly the same.
import { dlopen, FFIType } from "bun:ffi";

const { i32, i64, u32, u64, ptr, cstring } = FFIType;
export const { symbols: libc } = dlopen("libc.so.6", {
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
});

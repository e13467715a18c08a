// Descriptor I/O for the relay: splice(2), read/write, poll(2), pipes and descriptor flags.
//
// The data-moving calls here run in a tight loop, so they do not throw for the conditions a non-blocking
// loop expects (EAGAIN, EOF, a vanished peer): they return the byte count, or a negative errno
// (-Errno.EAGAIN, ...). EINTR is retried inside. The set-up calls throw SysError like the rest of ffi/.
//
// Pointer discipline as everywhere in ffi/: every buffer handed to libc is the call argument itself (a
// typed-array view of an ArrayBuffer we allocated), never a pointer stored somewhere.

import {
  SPLICE_F_MOVE, SPLICE_F_NONBLOCK, POLLIN, POLLOUT, POLLERR, POLLHUP, O_NONBLOCK, F_GETFL, F_SETFL,
  F_SETPIPE_SZ, O_CLOEXEC, O_RDONLY, pollfd as PFD, S_IFSOCK, S_IFIFO, S_IFCHR, S_IFREG, S_IFDIR, S_IFBLK,
  S_IFLNK, S_IFMT, stat as STAT,
} from "./arch.ts";
import { Errno } from "./errno.ts";
import { fail, SysError } from "./errors.ts";
import { u64Key } from "./le-fields.ts";
import { errno, libc } from "./libc.ts";
import { cPath, type PathArg } from "./path-bytes.ts";
import { close } from "./socket.ts";

export { SPLICE_F_MOVE, SPLICE_F_NONBLOCK, POLLIN, POLLOUT, POLLERR, POLLHUP, O_NONBLOCK };

const EINTR = Errno.EINTR;

/**
 * splice(2) up to `len` bytes from `fdIn` to `fdOut` (one of them a pipe), no offsets.
 * Returns the bytes moved, 0 at end of input, or -errno.
 */
export function splice(fdIn: number, fdOut: number, len: number, flags: number): number {
  for (;;) {
    const r = Number(libc.splice(fdIn, null, fdOut, null, len, flags));
    if (r >= 0) return r;
    const e = errno();
    if (e !== EINTR) return -e;
  }
}

/** read(2) into the start of `buf` (a view of its own ArrayBuffer). Returns bytes, 0 at EOF, or -errno. */
export function readInto(fd: number, buf: Uint8Array, len: number): number {
  for (;;) {
    const r = Number(libc.read(fd, buf, Math.min(len, buf.length)));
    if (r >= 0) return r;
    const e = errno();
    if (e !== EINTR) return -e;
  }
}

/** write(2) up to `len` bytes of `buf` from `offset` (never past its end). Returns bytes written or -errno. */
export function writeFrom(fd: number, buf: Uint8Array, offset: number, len: number): number {
  // The subarray is the call argument: Bun passes a pointer to its first byte, inside buf's ArrayBuffer.
  const view = offset === 0 ? buf : buf.subarray(offset);
  // libc trusts the length: a larger one would send whatever memory follows the buffer.
  const n = Math.min(len, view.length);
  for (;;) {
    const r = Number(libc.write(fd, view, n));
    if (r >= 0) return r;
    const e = errno();
    if (e !== EINTR) return -e;
  }
}

// struct pollfd { int fd; short events; short revents; }, indexed as 32-bit words and 16-bit halves.
const PFD_WORDS = PFD.size / 4;
const PFD_HALVES = PFD.size / 2;
const FD_WORD = PFD.fd / 4;
const EVENTS_HALF = PFD.events / 2;
const REVENTS_HALF = PFD.revents / 2;

/** A reusable array of struct pollfd. */
export class PollSet {
  private readonly words: Int32Array;
  private readonly halves: Int16Array;
  private n = 0;

  constructor(readonly capacity: number) {
    const buf = new ArrayBuffer(capacity * PFD.size);
    this.words = new Int32Array(buf);
    this.halves = new Int16Array(buf);
  }

  get count(): number {
    return this.n;
  }

  clear(): void {
    this.n = 0;
  }

  /** Add an entry; returns its index. */
  add(fd: number, events: number): number {
    if (this.n >= this.capacity) throw new RangeError("PollSet full");
    const i = this.n++;
    this.words[i * PFD_WORDS + FD_WORD] = fd;
    this.halves[i * PFD_HALVES + EVENTS_HALF] = events;
    this.halves[i * PFD_HALVES + REVENTS_HALF] = 0;
    return i;
  }

  fd(i: number): number {
    return this.words[i * PFD_WORDS + FD_WORD]!;
  }

  revents(i: number): number {
    return this.halves[i * PFD_HALVES + REVENTS_HALF]! & 0xffff;
  }

  /** poll(2) the entries; timeout in ms, -1 for none. Returns the number ready, or -errno (EINTR retried). */
  wait(timeoutMs: number): number {
    for (;;) {
      const r = libc.poll(this.words, this.n, timeoutMs);
      if (r >= 0) return r;
      const e = errno();
      if (e !== EINTR) return -e;
    }
  }
}

/** A new pipe, close-on-exec, both ends non-blocking unless asked otherwise: [read end, write end]. */
export function pipe(nonblocking = true): [number, number] {
  const fds = new Int32Array(new ArrayBuffer(8));
  if (libc.pipe2(fds, (nonblocking ? O_NONBLOCK : 0) | O_CLOEXEC) < 0) fail("pipe2");
  return [fds[0]!, fds[1]!];
}

/** Ask for a pipe buffer of `bytes`; returns the size the pipe now has, or -errno (e.g. EPERM over the limit). */
export function setPipeSize(fd: number, bytes: number): number {
  const r = libc.fcntl(fd, F_SETPIPE_SZ, bytes);
  return r >= 0 ? r : -errno();
}

/** The file status flags (O_NONBLOCK, O_APPEND, ...) of an open file description. */
export function getStatusFlags(fd: number): number {
  const r = libc.fcntl(fd, F_GETFL, 0);
  if (r < 0) fail("fcntl");
  return r;
}

export function setStatusFlags(fd: number, flags: number): void {
  if (libc.fcntl(fd, F_SETFL, flags) < 0) fail("fcntl");
}

export type FileType = "socket" | "fifo" | "chr" | "reg" | "dir" | "blk" | "link" | "unknown";

const TYPES: Record<number, FileType> = {
  [S_IFSOCK]: "socket",
  [S_IFIFO]: "fifo",
  [S_IFCHR]: "chr",
  [S_IFREG]: "reg",
  [S_IFDIR]: "dir",
  [S_IFBLK]: "blk",
  [S_IFLNK]: "link",
};

/** The file type in a st_mode (or stx_mode) value. */
export function fileTypeOf(mode: number): FileType {
  return TYPES[mode & S_IFMT] ?? "unknown";
}

interface FileId {
  type: FileType;
  /** st_dev and st_ino: equal for two descriptors of the same file (or the same socket). */
  dev: string;
  ino: string;
}

/**
 * What is open on `fd` (fstat), or null when fd is not open. STAT, struct stat, differs: x86-64 has st_nlink
 * before st_mode, aarch64 has st_mode right after st_ino.
 */
export function fileId(fd: number): FileId | null {
  // Room to spare past sizeof(struct stat) (checked against gcc), so no table can let fstat overrun it.
  const buf = new ArrayBuffer(Math.max(STAT.size, 256));
  if (libc.fstat(fd, new Uint8Array(buf)) < 0) return null;
  const view = new DataView(buf);
  const mode = view.getUint32(STAT.st_mode, true);
  return { type: fileTypeOf(mode), dev: u64Key(view, STAT.st_dev), ino: u64Key(view, STAT.st_ino) };
}

/** The type of the file open on `fd`, or null when fd is not open. */
export function fileType(fd: number): FileType | null {
  return fileId(fd)?.type ?? null;
}

/**
 * A whole file's bytes, read with open/read/close. For the proxy's hot path, which reads a /proc file on
 * every connection: node:fs would cost it about 1 ms just to load. Throws SysError("open"/"read").
 */
export function readFile(path: PathArg): Uint8Array {
  const r = readFileOrErrno(path);
  if (typeof r === "number") throw new SysError(r > 0 ? "open" : "read", Math.abs(r));
  return r;
}

/**
 * readFile() for callers that expect a file to be missing (virtualization detection asks for a dozen that
 * mostly are not there): the bytes, or the errno of the failed open (negated: of the failed read). No
 * SysError is made, which costs its strerror() text and a stack.
 */
export function readFileOrErrno(path: PathArg): Uint8Array | number {
  const fd = libc.open(cPath(path), O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return errno();
  try {
    let buf = new Uint8Array(new ArrayBuffer(16384));
    let len = 0;
    for (;;) {
      if (len === buf.length) {
        const bigger = new Uint8Array(new ArrayBuffer(buf.length * 2));
        bigger.set(buf);
        buf = bigger;
      }
      const r = readInto(fd, buf.subarray(len), buf.length - len);
      if (r < 0) return r;
      if (r === 0) return buf.subarray(0, len);
      len += r;
    }
  } finally {
    close(fd);
  }
}

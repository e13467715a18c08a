// File-system calls through libc, for the generator's boot run and src/shared/atomic-file.ts. node:fs costs
// a compiled program about 4 million instructions to load and first use (callgrind: more than the
// generator's own work), and its failures are thrown errors with stack traces, while a generator's lookups
// fail as a matter of course (sshd in most $PATH entries, the unit in most search path entries). These
// return the errno instead.
//
// Paths are byte strings or bytes (ffi/path-bytes.ts); names read back are Uint8Arrays.
//
// Each call makes its C path in line: TextEncoder's native encode() of the string and its NUL, kept when
// the length shows the string was ASCII (the usual path), else cPath(). Not through one helper: the
// generator's boot run makes some sixty path calls, and a function called that often is the first one the
// engine compiles, whose compiler then costs the run more than all the calls (scripts/bench: 2 to 4 ms).

import { read, toArrayBuffer, type Pointer } from "bun:ffi";
import {
  F_OK, X_OK, W_OK, O_WRONLY, O_CREAT, O_EXCL, O_CLOEXEC, AT_FDCWD, AT_SYMLINK_NOFOLLOW, STATX_TYPE,
  STATX_SIZE, statx as STX,
} from "./arch.ts";
import { Errno } from "./errno.ts";
import { getU64 } from "./le-fields.ts";
import { errno, libc } from "./libc.ts";
import { cPath, encoder, type PathArg } from "./path-bytes.ts";
import { close } from "./socket.ts";
import { fileTypeOf, type FileType } from "./io.ts";

export { F_OK, X_OK, W_OK };

const DIRENT_RECLEN = 16;
const DIRENT_NAME = 19;

/** access(2): 0 when allowed, else the errno. */
export function access(path: PathArg, mode: number): number {
  let c = typeof path === "string" ? encoder.encode(`${path}\0`) : null;
  if (c?.length !== path.length + 1) c = cPath(path);
  return libc.access(c, mode) < 0 ? errno() : 0;
}

interface FileStat {
  type: FileType;
  size: number;
}

/** stat(2) (lstat(2) when `followLinks` is false) through statx(): the file's type and size, or the errno. */
export function stat(path: PathArg, followLinks = true): FileStat | number {
  const buf = new Uint8Array(new ArrayBuffer(STX.size));
  let c = typeof path === "string" ? encoder.encode(`${path}\0`) : null;
  if (c?.length !== path.length + 1) c = cPath(path);
  if (libc.statx(AT_FDCWD, c, followLinks ? 0 : AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_SIZE, buf) < 0) return errno();
  const view = new DataView(buf.buffer);
  return { type: fileTypeOf(view.getUint16(STX.stx_mode, true)), size: getU64(view, STX.stx_size) };
}

/** mkdir(2): 0 or the errno. */
export function mkdir(path: PathArg, mode: number): number {
  let c = typeof path === "string" ? encoder.encode(`${path}\0`) : null;
  if (c?.length !== path.length + 1) c = cPath(path);
  return libc.mkdir(c, mode) < 0 ? errno() : 0;
}

/** symlink(2): 0 or the errno. */
export function symlink(target: PathArg, path: PathArg): number {
  let t = typeof target === "string" ? encoder.encode(`${target}\0`) : null;
  if (t?.length !== target.length + 1) t = cPath(target);
  let c = typeof path === "string" ? encoder.encode(`${path}\0`) : null;
  if (c?.length !== path.length + 1) c = cPath(path);
  return libc.symlink(t, c) < 0 ? errno() : 0;
}

/** link(2): 0 or the errno. */
export function link(existing: PathArg, path: PathArg): number {
  let e = typeof existing === "string" ? encoder.encode(`${existing}\0`) : null;
  if (e?.length !== existing.length + 1) e = cPath(existing);
  let c = typeof path === "string" ? encoder.encode(`${path}\0`) : null;
  if (c?.length !== path.length + 1) c = cPath(path);
  return libc.link(e, c) < 0 ? errno() : 0;
}

/** unlink(2): 0 or the errno. */
export function unlink(path: PathArg): number {
  let c = typeof path === "string" ? encoder.encode(`${path}\0`) : null;
  if (c?.length !== path.length + 1) c = cPath(path);
  return libc.unlink(c) < 0 ? errno() : 0;
}

/** rename(2): 0 or the errno. */
export function rename(from: PathArg, to: PathArg): number {
  return libc.rename(cPath(from), cPath(to)) < 0 ? errno() : 0;
}

/** chmod(2): 0 or the errno. */
export function chmod(path: PathArg, mode: number): number {
  let c = typeof path === "string" ? encoder.encode(`${path}\0`) : null;
  if (c?.length !== path.length + 1) c = cPath(path);
  return libc.chmod(c, mode) < 0 ? errno() : 0;
}

/** fchmod(2): 0 or the errno. */
export function fchmod(fd: number, mode: number): number {
  return libc.fchmod(fd, mode) < 0 ? errno() : 0;
}

/** fsync(2): 0 or the errno. */
export function fsync(fd: number): number {
  return libc.fsync(fd) < 0 ? errno() : 0;
}

/** open(path, O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC, mode): the descriptor, or the errno negated. */
export function createExclusive(path: PathArg, mode: number): number {
  let c = typeof path === "string" ? encoder.encode(`${path}\0`) : null;
  if (c?.length !== path.length + 1) c = cPath(path);
  const fd = libc.open(c, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  return fd < 0 ? -errno() : fd;
}

/** write(2) until all of `data` is out (a short write is followed by one that reports why): 0 or the errno. */
export function writeAll(fd: number, data: Uint8Array): number {
  // Our own ArrayBuffer, passed as the call argument (data may be a view into a movable small array).
  const buf = new Uint8Array(new ArrayBuffer(data.length));
  buf.set(data);
  let off = 0;
  while (off < buf.length) {
    const r = Number(libc.write(fd, off === 0 ? buf : buf.subarray(off), buf.length - off));
    if (r < 0) {
      const e = errno();
      if (e === Errno.EINTR) continue;
      return e;
    }
    off += r;
  }
  return 0;
}

export { close };

/** Whether the name of the dirent at `ent` starts with `prefix` (read in place: see readdir()). */
function nameStartsWith(ent: Pointer, prefix: Uint8Array): boolean {
  for (let i = 0; i < prefix.length; i++) if (read.u8(ent, DIRENT_NAME + i) !== prefix[i]) return false;
  return true;
}

/**
 * The names in a directory (without "." and ".."), in the order readdir(3) gives them, or the errno. With
 * `prefix`, only the names that start with it: the others are never copied out (the generator looks for
 * one name in /usr/lib/systemd at every boot).
 */
export function readdir(path: PathArg, prefix?: Uint8Array): Uint8Array[] | number {
  const dir = libc.opendir(cPath(path)) as Pointer | null;
  if (dir === null) return errno();
  const names: Uint8Array[] = [];
  try {
    for (;;) {
      const ent = libc.readdir(dir) as Pointer | null;
      if (ent === null) break;
      // The first byte in line: a call per entry would make nameStartsWith() a function the engine compiles.
      if (prefix !== undefined && (read.u8(ent, DIRENT_NAME) !== prefix[0] || !nameStartsWith(ent, prefix))) continue;
      // struct dirent (glibc and musl, LP64): d_ino 8, d_off 8, d_reclen 2, d_type 1, then d_name,
      // NUL-terminated within the d_reclen bytes of the record. Found and copied natively: a loop over the
      // bytes of every name would make this the function the engine compiles at boot (a directory of
      // /usr/lib/systemd's size holds some two thousand name bytes).
      const inRecord = new Uint8Array(toArrayBuffer(ent, DIRENT_NAME, read.u16(ent, DIRENT_RECLEN) - DIRENT_NAME));
      const len = inRecord.indexOf(0);
      const name = inRecord.slice(0, len < 0 ? inRecord.length : len);
      if (name[0] === 46 && (name.length === 1 || (name.length === 2 && name[1] === 46))) continue; // "." and ".."
      names.push(name);
    }
  } finally {
    libc.closedir(dir);
  }
  return names;
}

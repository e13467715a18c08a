// Writing a file so that no reader ever sees it half-written, as systemd's fopen_tmpfile_linkable() and
// flink_tmpfile() do: a hidden temporary file in the target's directory, then rename() over the target
// (replace) or link() to it (exclusive: an existing name is refused with EEXIST, as O_EXCL would). On any
// failure the temporary file is removed. Through ffi/fs.ts, not node:fs, so the generator can use it at boot.
//
// Paths are byte strings (src/shared/raw-bytes.ts). A failure throws SysError whose `syscall` names the step
// that failed ("mkdir" for anything in mkdirParents; "open", "write", "fchmod", "fsync", "rename", "link" or
// "symlink" here), which is what systemd's messages distinguish.

import { SysError } from "../../ffi/errors.ts";
import { Errno } from "../../ffi/errno.ts";
import { chmod, close, createExclusive, fchmod, fsync, link, mkdir, rename, stat, symlink, unlink, writeAll } from "../../ffi/fs.ts";

/** Directories mkdirParents() makes: 0755 whatever the umask, as systemd 262's are. */
const PARENT_DIR_MODE = 0o755;

interface WriteOptions {
  /** The file's mode, set with fchmod (so not subject to the umask); omitted: 0666 less the umask, as fopen(3) makes it. */
  mode?: number;
  /** link() into place, refusing an existing name (EEXIST), instead of rename() over it. */
  exclusive?: boolean;
  /** fsync() the data before it gets its name. */
  sync?: boolean;
}

function check(syscall: string, err: number): void {
  if (err !== 0) throw new SysError(syscall, err);
}

const dirOf = (path: string): string => path.slice(0, Math.max(path.lastIndexOf("/"), 0));

/**
 * A hidden name beside `path` that no other writer picks: our PID and a count keep our own temporaries apart,
 * and a random part keeps us clear of one a crashed process with our PID left behind (O_EXCL would refuse it).
 * Math.random, not the CSPRNG: unpredictability buys nothing here, and the generator makes one per unit.
 */
let tempCount = 0;
function tempName(path: string): string {
  const slash = path.lastIndexOf("/");
  const random = Math.floor(Math.random() * 0x100000000).toString(16);
  return `${path.slice(0, slash + 1)}.#${path.slice(slash + 1)}.${process.pid}.${tempCount++}.${random}`;
}

/**
 * mkdir_parents(path, 0755): every missing ancestor of `path`, each made 0755 whatever our umask; one that
 * exists but is not a directory (after following symlinks) is ENOTDIR. Returns those made, outermost first.
 * A relative `path` is taken from the working directory, as the generator's output directory may be.
 */
export function mkdirParents(path: string): string[] {
  const made: string[] = [];
  let cur = path.startsWith("/") ? "" : ".";
  for (const part of dirOf(path).split("/")) {
    if (part === "") continue;
    cur += `/${part}`;
    const st = stat(cur);
    if (typeof st !== "number") {
      if (st.type !== "dir") throw new SysError("mkdir", Errno.ENOTDIR);
      continue;
    }
    if (st !== Errno.ENOENT) throw new SysError("mkdir", st);
    const err = mkdir(cur, PARENT_DIR_MODE);
    if (err === Errno.EEXIST) continue;
    check("mkdir", err);
    check("mkdir", chmod(cur, PARENT_DIR_MODE));
    made.push(cur);
  }
  return made;
}

/** Give `path` the content `data`, atomically (see the top of this file). The parent directory must exist. */
export function writeFileAtomic(path: string, data: Uint8Array, opts: WriteOptions = {}): void {
  const tmp = tempName(path);
  const fd = createExclusive(tmp, opts.mode === undefined ? 0o666 : 0o600);
  if (fd < 0) throw new SysError("open", -fd);
  let open = true;
  try {
    check("write", writeAll(fd, data));
    if (opts.mode !== undefined) check("fchmod", fchmod(fd, opts.mode));
    if (opts.sync) check("fsync", fsync(fd));
    close(fd);
    open = false;
    if (opts.exclusive) {
      check("link", link(tmp, path));
      unlink(tmp);
    } else {
      const err = rename(tmp, path);
      // systemd refuses to replace a directory with EEXIST before it gets to rename() (linkat_replace()).
      check("rename", err === Errno.EISDIR ? Errno.EEXIST : err);
    }
  } catch (e) {
    if (open) close(fd);
    unlink(tmp);
    throw e;
  }
}

/** Make `path` a symlink to `target`, atomically, replacing whatever file or link is there. */
export function symlinkAtomic(target: string, path: string): void {
  const tmp = tempName(path);
  check("symlink", symlink(target, tmp));
  const err = rename(tmp, path);
  if (err !== 0) {
    unlink(tmp);
    throw new SysError("rename", err);
  }
}

// The real effects behind systemd-ssh-issue: what the machine is, the issue file on disk, stdout.
// Each failure carries the errno, so main.ts can print systemd's "<what>: %m" messages. Paths are byte
// strings (src/shared/raw-bytes.ts), given to node:fs as the exact bytes.

import { chmodSync, closeSync, constants, fchmodSync, mkdirSync, openSync, renameSync, statSync, unlinkSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { abi } from "../../ffi/arch.ts";
import { bytes } from "../shared/raw-bytes.ts";
import { writeAll } from "../shared/write-all.ts";

/** A failed system call: errno (positive) and libc's text for it. */
export class EffectError extends Error {
  override readonly name = "EffectError";
  readonly errno: number;
  readonly strerror: string;
  constructor(errno: number, strerror: string) {
    super(strerror);
    this.errno = errno;
    this.strerror = strerror;
  }
}

export interface Virtualization {
  vm: boolean;
  container: boolean;
}

export interface IssueEffects {
  /** detect_virtualization(), split into its two answers. Throws EffectError when detection fails. */
  detectVirtualization(): Virtualization;
  /** Create and close an AF_VSOCK socket: 0, or the errno socket() failed with. Never connects. */
  probeVsock(): number;
  /** Our CID, or the errno reading it failed with. */
  localCid(): { cid: number } | { errno: number; strerror: string };
  /** Write `content` to `path` (a byte string) atomically with mode 0644, parents 0755. Throws IssueWriteError. */
  writeIssueFile(path: string, content: string): void;
  /** unlink() `path` (a byte string): true if removed, false if it did not exist; throws EffectError otherwise. */
  removeFile(path: string): boolean;
  stdout(text: string): void;
  stdoutIsTerminal(): boolean;
}

export type WriteStep = "mkdir" | "create" | "chmod" | "rename";

export class IssueWriteError extends EffectError {
  readonly step: WriteStep;
  constructor(step: WriteStep, cause: EffectError) {
    super(cause.errno, cause.strerror);
    this.step = step;
  }
}

/** Node's fs errors as EffectError, with libc's own strerror() text (what systemd prints). */
export function toEffectError(e: unknown): EffectError {
  if (e instanceof EffectError) return e;
  const err = e as { errno?: number; code?: string; message?: string };
  let errno = typeof err.errno === "number" ? Math.abs(err.errno) : 0;
  if (!errno && err.code) errno = (constants as unknown as { [k: string]: number })[err.code] ?? (require("node:os").constants.errno[err.code] as number | undefined) ?? 0;
  if (!errno) throw e;
  return new EffectError(errno, libcStrerror(errno));
}

/** libc's text for errno (loads ffi/ only when a message needs it). */
export function libcStrerror(errno: number): string {
  return (require("../../ffi/errors.ts") as typeof import("../../ffi/errors.ts")).strerror(errno);
}

/**
 * mkdir_parents(path, 0755): every missing ancestor of `path`; an ancestor that is not a directory is ENOTDIR.
 * Each one made is 0755 whatever our umask (as systemd 262's are: measured under umask 077 and 777).
 */
function mkdirParents(path: string): void {
  const parent = dirname(path);
  const parts = parent.split("/").filter((p) => p !== "");
  let cur = "";
  for (const part of parts) {
    cur += `/${part}`;
    let st;
    try {
      st = statSync(bytes(cur));
    } catch (e) {
      const err = toEffectError(e);
      if (err.errno !== 2 /* ENOENT */) throw err;
      try {
        mkdirSync(bytes(cur), 0o755);
        chmodSync(bytes(cur), 0o755);
      } catch (e2) {
        const err2 = toEffectError(e2);
        if (err2.errno !== 17 /* EEXIST */) throw err2;
      }
      continue;
    }
    if (!st.isDirectory()) throw new EffectError(20, libcStrerror(20)); // ENOTDIR
  }
}

function randomSuffix(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Write a file the way systemd's fopen_tmpfile_linkable() + flink_tmpfile(REPLACE) do: a hidden temporary
 * file in the target's directory, mode fixed with fchmod (not subject to the umask), then rename() over
 * the target, which replaces a symlink there rather than following it. Nothing half-written is ever
 * visible under the target's name; on failure the temporary file is removed. `path` is a byte string.
 */
export function writeFileAtomic(path: string, content: string, mode = 0o644): void {
  try {
    mkdirParents(path);
  } catch (e) {
    throw new IssueWriteError("mkdir", toEffectError(e));
  }
  const tmp = join(dirname(path), `.#${basename(path)}${randomSuffix()}`);
  let fd: number;
  try {
    fd = openSync(bytes(tmp), abi.O_WRONLY | abi.O_CREAT | abi.O_EXCL | abi.O_NOFOLLOW | abi.O_CLOEXEC, 0o600);
  } catch (e) {
    throw new IssueWriteError("create", toEffectError(e));
  }
  let step: WriteStep = "create";
  try {
    writeAll(fd, content);
    step = "chmod";
    fchmodSync(fd, mode);
    closeSync(fd);
    fd = -1;
    step = "rename";
    try {
      renameSync(bytes(tmp), bytes(path));
    } catch (e) {
      // systemd refuses to replace a directory with EEXIST before it gets to rename() (linkat_replace()).
      const err = toEffectError(e);
      throw err.errno === 21 /* EISDIR */ ? new EffectError(17, libcStrerror(17)) : err;
    }
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    try {
      unlinkSync(bytes(tmp));
    } catch {}
    throw new IssueWriteError(step, toEffectError(e));
  }
}

/**
 * detect_virtualization(): a container wins over the VM it may run in, as in systemd. The detector throws
 * a SysError for a read that failed; that becomes an EffectError for systemd's "%m".
 */
function detectVirtualization(): Virtualization {
  const { realProbe, VirtDetector } = require("../shared/virt.ts") as typeof import("../shared/virt.ts");
  try {
    const found = new VirtDetector(realProbe()).detectVirtualization();
    return { vm: found?.kind === "vm", container: found?.kind === "container" };
  } catch (e) {
    const { SysError } = require("../../ffi/errors.ts") as typeof import("../../ffi/errors.ts");
    if (!(e instanceof SysError)) throw e;
    throw new EffectError(e.errno, e.strerror);
  }
}

export const realEffects: IssueEffects = {
  detectVirtualization,
  probeVsock() {
    const { vsockSupport } = require("../../ffi/vsock.ts") as typeof import("../../ffi/vsock.ts");
    const r = vsockSupport();
    return r.ok ? 0 : r.error.errno;
  },
  localCid() {
    const { localCid } = require("../../ffi/vsock.ts") as typeof import("../../ffi/vsock.ts");
    try {
      return { cid: localCid() };
    } catch (e) {
      const err = e as { errno?: number; strerror?: string };
      if (typeof err.errno !== "number") throw e;
      return { errno: err.errno, strerror: err.strerror ?? libcStrerror(err.errno) };
    }
  },
  writeIssueFile: (path, content) => writeFileAtomic(path, content),
  removeFile(path) {
    try {
      unlinkSync(bytes(path));
      return true;
    } catch (e) {
      const err = toEffectError(e);
      if (err.errno === 2 /* ENOENT */) return false;
      throw err;
    }
  },
  stdout(text) {
    try {
      writeAll(1, text);
    } catch {
      // A closed stdout is not our failure to report (systemd's stdio ignores it too).
    }
  },
  stdoutIsTerminal() {
    try {
      return require("node:tty").isatty(1) as boolean;
    } catch {
      return false;
    }
  },
};

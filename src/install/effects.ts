// The real world behind `systemd-ssh install` and `uninstall`: what is on the target's disk, the manifest,
// dpkg's database, and the writes, each file and link atomically (src/shared/atomic-file.ts) and synced.
// Paths are the target's paths under the root, as JS strings; atomic-file.ts takes their UTF-8 bytes.

import { lstatSync, readFileSync, readlinkSync, rmdirSync, statSync, unlinkSync } from "node:fs";
import { mkdirParents, symlinkAtomic, writeFileAtomic } from "../shared/atomic-file.ts";
import { Failure } from "../shared/failure.ts";
import { utf8Bytes } from "../shared/raw-bytes.ts";
import { MANIFEST_FORMAT, sha256, type Manifest, type OnDisk } from "./core.ts";

export interface InstallEffects {
  /** What `disk` holds now. */
  onDisk(disk: string): OnDisk;
  /** Whether `disk` is a directory, following symlinks. */
  isDirectory(disk: string): boolean;
  readFile(disk: string): Uint8Array;
  /** The manifest at `disk`, or null if there is none; a Failure if it is not one. */
  readManifest(disk: string): Manifest | null;
  /** Which of these target-system paths a package owns in the dpkg database of `root`. */
  dpkgOwned(root: string, paths: string[]): Set<string>;
  /** Create the missing ancestors of `disk`; returns those made, outermost first. */
  mkdirParents(disk: string): string[];
  writeFile(disk: string, data: Uint8Array, mode: number): void;
  symlink(target: string, disk: string): void;
  unlink(disk: string): void;
  /** rmdir(); false when it could not be removed (not empty, or gone). */
  rmdir(disk: string): boolean;
}

const fromUtf8Bytes = (s: string): string => Buffer.from(s, "latin1").toString("utf8");

function lstatOrNull(p: string) {
  try {
    return lstatSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return null;
    throw e;
  }
}

/** A failure's text: libc's strerror() for a failed call, else the error's message. */
export function describe(e: unknown): string {
  if (e instanceof Error && "strerror" in e && typeof e.strerror === "string") return e.strerror;
  const err = e as NodeJS.ErrnoException;
  if (err.code && err.syscall) {
    const { strerror } = require("../../ffi/errors.ts") as typeof import("../../ffi/errors.ts");
    const n = Math.abs(err.errno ?? 0);
    return n ? strerror(n) : err.code;
  }
  return e instanceof Error ? e.message : String(e);
}

/**
 * The paths among `targets` that a Debian package owns (or diverts) in the dpkg database of `root`. Both
 * spellings are asked for, /usr/lib/X and /lib/X: on a merged-/usr system Debian 12's packages still list
 * /lib/... . No dpkg (not a Debian system): none.
 */
function dpkgOwned(root: string, targets: string[]): Set<string> {
  const alias = (p: string) => p.replace(/^\/usr\/(lib|bin|sbin)\//, "/$1/");
  const asked = [...new Set(targets.flatMap((p) => [p, alias(p)]))];
  const r = require("node:child_process").spawnSync("dpkg-query", [`--root=${root}`, "-S", "--", ...asked], { encoding: "utf8" });
  const found = new Set<string>();
  if (r.error || typeof r.stdout !== "string") return found;
  for (const line of r.stdout.split("\n")) {
    const at = line.lastIndexOf(": ");
    if (at > 0) found.add(line.slice(at + 2));
  }
  return new Set(targets.filter((p) => found.has(p) || found.has(alias(p))));
}

function readManifest(file: string): Manifest | null {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new Failure(`Failed to read ${file}: ${describe(e)}`);
  }
  try {
    const m = JSON.parse(text) as Manifest;
    if (m.format !== MANIFEST_FORMAT || !Array.isArray(m.entries)) throw new Error("unknown format");
    return m;
  } catch (e) {
    throw new Failure(`${file} is not a systemd-ssh manifest: ${describe(e)}`);
  }
}

export const realEffects: InstallEffects = {
  onDisk(disk) {
    const st = lstatOrNull(disk);
    if (st === null) return { kind: "absent" };
    if (st.isSymbolicLink()) return { kind: "link", target: readlinkSync(disk) };
    if (st.isDirectory()) return { kind: "dir" };
    if (st.isFile()) return { kind: "file", sha256: sha256(readFileSync(disk)), mode: st.mode & 0o7777 };
    return { kind: "other" };
  },
  isDirectory(disk) {
    try {
      return statSync(disk).isDirectory();
    } catch {
      return false;
    }
  },
  readFile: (disk) => readFileSync(disk),
  readManifest,
  dpkgOwned,
  mkdirParents: (disk) => mkdirParents(utf8Bytes(disk)).map(fromUtf8Bytes),
  writeFile: (disk, data, mode) => writeFileAtomic(utf8Bytes(disk), data, { mode, sync: true }),
  symlink: (target, disk) => symlinkAtomic(utf8Bytes(target), utf8Bytes(disk)),
  unlink: (disk) => unlinkSync(disk),
  rmdir(disk) {
    try {
      rmdirSync(disk);
      return true;
    } catch {
      return false;
    }
  },
};

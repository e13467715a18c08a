// `systemd-ssh install` and `uninstall`: carry out layout.ts's plan under a root directory, keeping a
// manifest of what was written so that uninstall removes exactly that.
//
// Rules: every file and link is written atomically (temporary name in the same directory, then rename);
// nothing that systemd-ssh did not install is overwritten unless forced, and conflicts are found before
// anything is written; uninstall removes an entry only while it is still what install wrote (same content
// hash, same link target), and directories only if install created them and they are empty.

import { createHash } from "node:crypto";
import { closeSync, fchmodSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, readlinkSync, renameSync, rmdirSync, symlinkSync, unlinkSync, writeSync, constants } from "node:fs";
import { basename, dirname } from "node:path";
import { pathSimplify } from "../shared/path.ts";
import { VERSION } from "../version.ts";
import { DEFAULT_LAYOUT, paths, plan, type Entry, type Layout } from "./layout.ts";

export class InstallError extends Error {
  override readonly name = "InstallError";
}

export interface InstallOptions {
  root?: string;
  prefix?: string;
  sysconfdir?: string;
  force?: boolean;
  /** The executable to install; default: the running one. Not read with `package`. */
  binary: string;
  /**
   * Run by the Debian package's maintainer scripts: only the entries at systemd's own paths (dpkg has the
   * rest), each only where nothing else is: a file that a package owns or that is not ours is kept, never
   * a conflict; systemd's generator is never overridden (on systemd 256+ its own tools stay in charge).
   */
  package?: boolean;
  /** Which of these target-system paths a package owns (default: ask dpkg-query). */
  packaged?: (root: string, paths: string[]) => Set<string>;
  /** One line per file, for the user. */
  say(line: string): void;
}

type Recorded = { kind: "file"; path: string; sha256: string; mode: number } | { kind: "link"; path: string; target: string } | { kind: "dir"; path: string };

interface Manifest {
  format: "systemd-ssh-manifest/1";
  version: string;
  entries: Recorded[];
}

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

function checkedPath(name: string, value: string | undefined, fallback: string): string {
  const v = value ?? fallback;
  if (!v.startsWith("/")) throw new InstallError(`--${name} must be an absolute path: ${v}`);
  return pathSimplify(v);
}

/** Where a target-system path lives on disk. */
function under(root: string, path: string): string {
  return root === "/" ? path : `${root}${path}`;
}

function lstatOrNull(p: string) {
  try {
    return lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT" || (e as NodeJS.ErrnoException).code === "ENOTDIR") return null;
    throw e;
  }
}

function describe(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code && err.syscall) {
    const { strerror } = require("../../ffi/errors.ts") as typeof import("../../ffi/errors.ts");
    const n = Math.abs(err.errno ?? 0);
    return n ? strerror(n) : err.code;
  }
  return e instanceof Error ? e.message : String(e);
}

function readManifest(file: string): Manifest | null {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new InstallError(`Failed to read ${file}: ${describe(e)}`);
  }
  try {
    const m = JSON.parse(text) as Manifest;
    if (m.format !== "systemd-ssh-manifest/1" || !Array.isArray(m.entries)) throw new Error("unknown format");
    return m;
  } catch (e) {
    throw new InstallError(`${file} is not a systemd-ssh manifest: ${describe(e)}`);
  }
}

function tempName(path: string): string {
  const hex = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join("");
  return `${dirname(path)}/.#${basename(path)}${hex}`;
}

/** Write `data` to `path` with `mode` (exactly, whatever the umask), atomically, synced. */
export function writeAtomic(path: string, data: Uint8Array, mode: number): void {
  const tmp = tempName(path);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    for (let off = 0; off < data.length; ) off += writeSync(fd, data, off);
    fchmodSync(fd, mode);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (e) {
    unlinkSync(tmp);
    throw e;
  }
}

/** Make `path` a symlink to `target`, atomically (replacing whatever file or link is there). */
export function symlinkAtomic(target: string, path: string): void {
  const tmp = tempName(path);
  symlinkSync(target, tmp);
  try {
    renameSync(tmp, path);
  } catch (e) {
    unlinkSync(tmp);
    throw e;
  }
}

/** Create the missing ancestors of `path` (mode 0755); returns those created, outermost first. */
function mkdirParents(path: string): string[] {
  const created: string[] = [];
  const parts = dirname(path).split("/").filter(Boolean);
  let cur = "";
  for (const part of parts) {
    cur += `/${part}`;
    const st = lstatOrNull(cur);
    if (st?.isDirectory()) continue;
    if (st && st.isSymbolicLink()) {
      // A symlinked directory (e.g. /lib -> usr/lib) is fine; one that leads nowhere is an error below.
      try {
        if (require("node:fs").statSync(cur).isDirectory()) continue;
      } catch {}
    }
    mkdirSync(cur, 0o755);
    created.push(cur);
  }
  return created;
}

/** Is what is at `disk` exactly what an earlier install recorded there? */
function recordedMatches(disk: string, rec: Recorded | undefined): boolean {
  if (rec === undefined || rec.kind === "dir") return false;
  const st = lstatOrNull(disk);
  if (st === null) return false;
  if (rec.kind === "link") return st.isSymbolicLink() && readlinkSync(disk) === rec.target;
  return st.isFile() && sha256(readFileSync(disk)) === rec.sha256;
}

type State = "absent" | "same" | "ours" | "foreign";

/** How the thing at `disk` relates to `want` and to what the previous install recorded there. */
function stateOf(disk: string, want: { kind: "file"; data: Uint8Array; mode: number } | { kind: "link"; target: string }, recorded: Recorded | undefined): State {
  const st = lstatOrNull(disk);
  if (!st) return "absent";
  if (st.isSymbolicLink()) {
    const t = readlinkSync(disk);
    if (want.kind === "link" && t === want.target) return "same";
    return recorded?.kind === "link" && recorded.target === t ? "ours" : "foreign";
  }
  if (!st.isFile()) return "foreign";
  const hash = sha256(readFileSync(disk));
  if (want.kind === "file" && hash === sha256(want.data) && (st.mode & 0o7777) === want.mode) return "same";
  return recorded?.kind === "file" && recorded.sha256 === hash ? "ours" : "foreign";
}

function checkedRoot(value: string | undefined): string {
  if (value === undefined) return "/";
  const root = checkedPath("root", require("node:path").resolve(value), "/");
  if (!lstatOrNull(root)?.isDirectory() && !(() => { try { return require("node:fs").statSync(root).isDirectory(); } catch { return false; } })()) {
    throw new InstallError(`--root ${value}: not a directory`);
  }
  return root;
}

/**
 * The paths among `paths` that a Debian package owns (or diverts) in the dpkg database of `root`. Both
 * spellings are asked for, /usr/lib/X and /lib/X: on a merged-/usr system Debian 12's packages still list
 * /lib/... . No dpkg (not a Debian system): none.
 */
export function dpkgOwned(root: string, targets: string[]): Set<string> {
  const alias = (p: string) => p.replace(/^\/usr\/(lib|bin|sbin)\//, "/$1/");
  const asked = [...new Set(targets.flatMap((p) => [p, alias(p)]))];
  const admindir = root === "/" ? [] : [`--admindir=${root}/var/lib/dpkg`];
  const r = require("node:child_process").spawnSync("dpkg-query", [...admindir, "-S", "--", ...asked], { encoding: "utf8" });
  const found = new Set<string>();
  if (r.error || typeof r.stdout !== "string") return found;
  for (const line of r.stdout.split("\n")) {
    const at = line.lastIndexOf(": ");
    if (at > 0) found.add(line.slice(at + 2));
  }
  return new Set(targets.filter((p) => found.has(p) || found.has(alias(p))));
}

/** The package mode's plan: systemd's paths only, each where nothing but an earlier install of ours is. */
function packageEntries(root: string, layout: Layout, recorded: Map<string, Recorded>, packaged: Set<string>, keptOwn: Entry[]): Entry[] {
  return plan(layout).filter((e) => {
    if (!e.systemdOwn) return false;
    const disk = under(root, e.path);
    if (!packaged.has(e.path)) {
      if (lstatOrNull(disk) === null || recordedMatches(disk, recorded.get(e.path))) return true;
      const want = e.kind === "file" ? { kind: "file" as const, data: Buffer.from(e.content ?? ""), mode: e.mode } : { kind: "link" as const, target: e.target };
      if (stateOf(disk, want, recorded.get(e.path)) === "same") return true;
    }
    keptOwn.push(e);
    return false;
  });
}

export function install(opts: InstallOptions): number {
  const root = checkedRoot(opts.root);
  const layout: Layout = {
    prefix: checkedPath("prefix", opts.prefix, DEFAULT_LAYOUT.prefix),
    sysconfdir: checkedPath("sysconfdir", opts.sysconfdir, DEFAULT_LAYOUT.sysconfdir),
  };
  let binary: Uint8Array = new Uint8Array(0);
  if (!opts.package) {
    try {
      binary = readFileSync(opts.binary);
    } catch (e) {
      throw new InstallError(`Failed to read the binary to install, ${opts.binary}: ${describe(e)}`);
    }
  }
  const manifestPath = paths(layout).manifest;
  const old = readManifest(under(root, manifestPath));
  const recorded = new Map((old?.entries ?? []).map((r) => [r.path, r]));
  if (opts.package) {
    const keptOwn: Entry[] = [];
    const candidates = plan(layout).filter((e) => e.systemdOwn).map((e) => e.path);
    const entries = packageEntries(root, layout, recorded, (opts.packaged ?? dpkgOwned)(root, candidates), keptOwn);
    return write(opts, root, layout, old, recorded, entries, binary, keptOwn.map((e) => `kept ${under(root, e.path)} (not ours: ${e.what})`));
  }

  // systemd 256+ ships its own generator where ours would go: install alongside it (see plan()).
  const gen = under(root, paths(layout).generator);
  const genStat = lstatOrNull(gen);
  const alongsideSystemd =
    genStat !== null &&
    !(genStat.isSymbolicLink() && readlinkSync(gen) === "../systemd-ssh") &&
    !recordedMatches(gen, recorded.get(paths(layout).generator));
  const keptOwn: Entry[] = alongsideSystemd
    ? [{ kind: "link", path: paths(layout).generator, target: "", what: "generator; ours in /etc overrides it" }]
    : [];
  const entries = plan(layout, { alongsideSystemd }).filter((e) => {
    if (!alongsideSystemd || !e.systemdOwn) return true;
    const disk = under(root, e.path);
    // Absent, or ours from an earlier install: ours to write. Otherwise systemd's own: keep it.
    if (lstatOrNull(disk) === null || recordedMatches(disk, recorded.get(e.path))) return true;
    keptOwn.push(e);
    return false;
  });
  return write(opts, root, layout, old, recorded, entries, binary, keptOwn.map((e) => `kept ${under(root, e.path)} (systemd's own ${e.what})`));
}

/** Check for conflicts, then write `entries` and the manifest; `kept` lines are said at the end. */
function write(
  opts: InstallOptions,
  root: string,
  layout: Layout,
  old: Manifest | null,
  recorded: Map<string, Recorded>,
  entries: Entry[],
  binary: Uint8Array,
  kept: string[],
): number {
  const manifestPath = paths(layout).manifest;
  const wants = entries.map((e) =>
    e.kind === "file"
      ? { kind: "file" as const, data: e.content === null ? binary : typeof e.content === "string" ? Buffer.from(e.content) : e.content, mode: e.mode }
      : { kind: "link" as const, target: e.target },
  );
  const states = entries.map((e, i) => stateOf(under(root, e.path), wants[i]!, recorded.get(e.path)));

  const conflicts = entries.filter((e, i) => states[i] === "foreign");
  for (const e of conflicts) {
    const st = lstatOrNull(under(root, e.path));
    if (st?.isDirectory()) throw new InstallError(`${under(root, e.path)} is a directory; refusing to replace it.`);
  }
  if (conflicts.length > 0 && !opts.force) {
    const list = conflicts.map((e) => `  ${under(root, e.path)}`).join("\n");
    throw new InstallError(`Refusing to overwrite files systemd-ssh did not install (use --force to replace them):\n${list}`);
  }

  const createdDirs = new Set((old?.entries ?? []).filter((r) => r.kind === "dir").map((r) => r.path));
  const manifest: Manifest = { format: "systemd-ssh-manifest/1", version: VERSION, entries: [] };
  const record = () => [...[...createdDirs].map((path) => ({ kind: "dir" as const, path })), ...manifest.entries];

  const writeManifest = () => {
    const m = { ...manifest, entries: record() };
    writeAtomic(under(root, manifestPath), Buffer.from(`${JSON.stringify(m, null, 2)}\n`), 0o644);
  };

  try {
    entries.forEach((e, i) => {
      const disk = under(root, e.path);
      const want = wants[i]!;
      for (const d of mkdirParents(disk)) createdDirs.add(root === "/" ? d : d.slice(root.length));
      const verb = { absent: "installed", same: "unchanged", ours: "updated", foreign: "replaced" }[states[i]!];
      if (states[i] !== "same") {
        if (want.kind === "file") writeAtomic(disk, want.data, want.mode);
        else symlinkAtomic(want.target, disk);
      }
      manifest.entries.push(
        want.kind === "file" ? { kind: "file", path: e.path, sha256: sha256(want.data), mode: want.mode } : { kind: "link", path: e.path, target: want.target },
      );
      opts.say(`${verb} ${disk}${want.kind === "link" ? ` -> ${want.target}` : ""} (${e.what})`);
    });
  } catch (e) {
    // Keep track of what was written so far, so uninstall can still remove it.
    try {
      writeManifest();
    } catch {}
    throw new InstallError(`Install failed: ${describe(e)}`);
  }
  for (const line of kept) opts.say(line);
  mkdirParents(under(root, manifestPath));
  writeManifest();
  opts.say(`${old ? "updated" : "installed"} ${under(root, manifestPath)} (manifest)`);
  return 0;
}

export interface UninstallOptions {
  root?: string;
  prefix?: string;
  /** Run by the Debian package's prerm: no manifest is not an error, and a path a package owns now is kept. */
  package?: boolean;
  packaged?: (root: string, paths: string[]) => Set<string>;
  say(line: string): void;
}

export function uninstall(opts: UninstallOptions): number {
  const root = checkedRoot(opts.root);
  const prefix = checkedPath("prefix", opts.prefix, DEFAULT_LAYOUT.prefix);
  const manifestPath = under(root, paths({ ...DEFAULT_LAYOUT, prefix }).manifest);
  const m = readManifest(manifestPath);
  if (!m && opts.package) return 0;
  if (!m) throw new InstallError(`No manifest at ${manifestPath}: systemd-ssh is not installed there.`);
  // A file of ours that a package (systemd 256+ on an upgrade) has since put at the same path, possibly with
  // the very same content or link target, is that package's now.
  const files = m.entries.filter((r) => r.kind !== "dir").map((r) => r.path);
  const packaged = opts.package ? (opts.packaged ?? dpkgOwned)(root, files) : new Set<string>();
  let kept = 0;
  for (const r of [...m.entries].reverse()) {
    if (r.kind === "dir") continue;
    const disk = under(root, r.path);
    if (packaged.has(r.path)) {
      opts.say(`kept ${disk} (a package's now)`);
      continue;
    }
    const st = lstatOrNull(disk);
    if (!st) {
      opts.say(`already gone ${disk}`);
      continue;
    }
    const unchanged =
      r.kind === "link" ? st.isSymbolicLink() && readlinkSync(disk) === r.target : st.isFile() && sha256(readFileSync(disk)) === r.sha256;
    if (!unchanged) {
      opts.say(`kept ${disk} (changed since it was installed)`);
      kept++;
      continue;
    }
    unlinkSync(disk);
    opts.say(`removed ${disk}`);
  }
  unlinkSync(manifestPath);
  opts.say(`removed ${manifestPath} (manifest)`);
  // Directories install created, innermost first, while empty.
  const dirs = m.entries.filter((r) => r.kind === "dir").map((r) => r.path).sort((a, b) => b.length - a.length);
  for (const d of dirs) {
    try {
      rmdirSync(under(root, d));
      opts.say(`removed ${under(root, d)}/`);
    } catch {
      // Not empty (someone else's files) or already gone: leave it.
    }
  }
  if (kept > 0) opts.say(`${kept} changed file(s) kept.`);
  return 0;
}

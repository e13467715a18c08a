// `systemd-ssh install` and `uninstall`'s decisions, free of effects: given layout.ts's entries, what is on
// the target's disk now and what the previous install recorded there, which entries to write (and with
// which verb), which to keep, and what uninstall may remove. main.ts gathers the facts through effects.ts
// and carries out the plan.
//
// Rules: nothing that systemd-ssh did not install is overwritten unless forced, and conflicts are found
// before anything is written; uninstall removes an entry only while it is still what install wrote (same
// content hash, same link target), and directories only if install created them and they are empty.

import { createHash } from "node:crypto";
import { Failure } from "../shared/failure.ts";
import { pathSimplify } from "../shared/path.ts";
import { paths, plan, type Entry, type Layout } from "./layout.ts";

/** What a path on the target holds (lstat: a symlink is a link, whatever it points to). */
export type OnDisk =
  | { kind: "absent" }
  | { kind: "link"; target: string }
  | { kind: "file"; sha256: string; mode: number }
  | { kind: "dir" }
  | { kind: "other" };

/** One entry of the manifest: what an install wrote. */
export type Recorded = { kind: "file"; path: string; sha256: string; mode: number } | { kind: "link"; path: string; target: string } | { kind: "dir"; path: string };

export const MANIFEST_FORMAT = "systemd-ssh-manifest/1";

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  version: string;
  entries: Recorded[];
}

/** What an entry is to be on disk. */
type Want = { kind: "file"; data: Uint8Array; sha256: string; mode: number } | { kind: "link"; target: string };

/** How the thing at an entry's path relates to what we want there and to what the last install recorded. */
type State = "absent" | "same" | "ours" | "foreign";

export const sha256 = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex");

/** An absolute option value, simplified; `--<name> must be an absolute path` otherwise. */
export function checkedPath(name: string, value: string | undefined, fallback: string): string {
  const v = value ?? fallback;
  if (!v.startsWith("/")) throw new Failure(`--${name} must be an absolute path: ${v}`);
  return pathSimplify(v);
}

/** Where a target-system path lives on disk. */
export function under(root: string, path: string): string {
  return root === "/" ? path : `${root}${path}`;
}

/** Is `onDisk` exactly what an earlier install recorded there? */
function recordedMatches(onDisk: OnDisk, rec: Recorded | undefined): boolean {
  if (rec === undefined || rec.kind === "dir") return false;
  if (rec.kind === "link") return onDisk.kind === "link" && onDisk.target === rec.target;
  return onDisk.kind === "file" && onDisk.sha256 === rec.sha256;
}

function stateOf(onDisk: OnDisk, want: Want, recorded: Recorded | undefined): State {
  switch (onDisk.kind) {
    case "absent":
      return "absent";
    case "link":
      if (want.kind === "link" && onDisk.target === want.target) return "same";
      return recorded?.kind === "link" && recorded.target === onDisk.target ? "ours" : "foreign";
    case "file":
      if (want.kind === "file" && onDisk.sha256 === want.sha256 && onDisk.mode === want.mode) return "same";
      return recorded?.kind === "file" && recorded.sha256 === onDisk.sha256 ? "ours" : "foreign";
    default:
      return "foreign";
  }
}

/** What install learnt about the target before deciding anything. */
interface InstallFacts {
  root: string;
  layout: Layout;
  /** The binary to install (empty in package mode, which never writes it). */
  binary: Uint8Array;
  /** What each path of either plan (with and without systemd's own tools) holds now. */
  onDisk: (path: string) => OnDisk;
  /** The previous install's manifest, if any. */
  manifest: Manifest | null;
  /** Package mode: which of systemd's paths a package owns. */
  packaged?: Set<string>;
  force: boolean;
}

interface Step {
  entry: Entry;
  want: Want;
  state: State;
}

interface InstallPlan {
  steps: Step[];
  /** Said after the steps: the entries left as they are, and why. */
  kept: string[];
}

/** Every path either plan may write, for the facts: the two differ in where the generator goes. */
export function candidatePaths(layout: Layout): string[] {
  return [...new Set([...plan(layout), ...plan(layout, { alongsideSystemd: true })].map((e) => e.path))];
}

/** The previous install's records, by path. */
function recordsOf(manifest: Manifest | null): Map<string, Recorded> {
  return new Map((manifest?.entries ?? []).map((r) => [r.path, r]));
}

function wantOf(e: Entry, binary: Uint8Array): Want {
  if (e.kind === "link") return { kind: "link", target: e.target };
  const data = e.content === null ? binary : typeof e.content === "string" ? Buffer.from(e.content) : e.content;
  return { kind: "file", data, sha256: sha256(data), mode: e.mode };
}

/**
 * The package mode's entries: systemd's paths only, each where nothing but an earlier install of ours is.
 * Where systemd ships its own generator (256+), none is added: systemd's tools are in charge there, and what
 * is still ours from before (a 12 -> 13 upgrade) stays recorded, for the prerm to remove.
 */
function packageEntries(f: InstallFacts, packaged: Set<string>, keptOwn: Entry[]): Entry[] {
  const recorded = recordsOf(f.manifest);
  const systemdHasItsOwn = packaged.has(paths(f.layout).generator);
  return plan(f.layout).filter((e) => {
    if (!e.systemdOwn) return false;
    const onDisk = f.onDisk(e.path);
    if (systemdHasItsOwn) {
      if (!packaged.has(e.path) && recordedMatches(onDisk, recorded.get(e.path))) return true;
      keptOwn.push(e);
      return false;
    }
    if (!packaged.has(e.path)) {
      if (onDisk.kind === "absent" || recordedMatches(onDisk, recorded.get(e.path))) return true;
      if (stateOf(onDisk, wantOf(e, f.binary), recorded.get(e.path)) === "same") return true;
    }
    keptOwn.push(e);
    return false;
  });
}

/**
 * The entries of a plain install. systemd 256+ ships its own generator where ours would go: then ours goes
 * alongside it (see plan()), and each of systemd's own files that is there is kept.
 */
function systemEntries(f: InstallFacts, keptOwn: Entry[]): Entry[] {
  const recorded = recordsOf(f.manifest);
  const p = paths(f.layout);
  const gen = f.onDisk(p.generator);
  const ourGenerator = plan(f.layout).find((e) => e.path === p.generator);
  const alongsideSystemd =
    gen.kind !== "absent" &&
    !(gen.kind === "link" && ourGenerator?.kind === "link" && gen.target === ourGenerator.target) &&
    !recordedMatches(gen, recorded.get(p.generator));
  if (alongsideSystemd) keptOwn.push({ kind: "link", path: p.generator, target: "", what: "generator; ours in /etc overrides it" });
  return plan(f.layout, { alongsideSystemd }).filter((e) => {
    if (!alongsideSystemd || !e.systemdOwn) return true;
    const onDisk = f.onDisk(e.path);
    // Absent, or ours from an earlier install: ours to write. Otherwise systemd's own: keep it.
    if (onDisk.kind === "absent" || recordedMatches(onDisk, recorded.get(e.path))) return true;
    keptOwn.push(e);
    return false;
  });
}

/** What to write, or the Failure that refuses to: a directory in the way, or others' files without --force. */
export function planInstall(f: InstallFacts): InstallPlan {
  const keptOwn: Entry[] = [];
  const entries = f.packaged ? packageEntries(f, f.packaged, keptOwn) : systemEntries(f, keptOwn);
  const why = f.packaged ? (e: Entry) => `not ours: ${e.what}` : (e: Entry) => `systemd's own ${e.what}`;
  const kept = keptOwn.map((e) => `kept ${under(f.root, e.path)} (${why(e)})`);

  const recorded = recordsOf(f.manifest);
  const steps = entries.map((entry): Step => {
    const want = wantOf(entry, f.binary);
    return { entry, want, state: stateOf(f.onDisk(entry.path), want, recorded.get(entry.path)) };
  });
  const conflicts = steps.filter((s) => s.state === "foreign").map((s) => s.entry);
  for (const e of conflicts) {
    if (f.onDisk(e.path).kind === "dir") throw new Failure(`${under(f.root, e.path)} is a directory; refusing to replace it.`);
  }
  if (conflicts.length > 0 && !f.force) {
    const list = conflicts.map((e) => `  ${under(f.root, e.path)}`).join("\n");
    throw new Failure(`Refusing to overwrite files systemd-ssh did not install (use --force to replace them):\n${list}`);
  }
  return { steps, kept };
}

/** The word install says for a step. */
export const VERB: Readonly<Record<State, string>> = { absent: "installed", same: "unchanged", ours: "updated", foreign: "replaced" };

/** The manifest's record of a step carried out. */
export function recordOf(s: Step): Recorded {
  return s.want.kind === "file"
    ? { kind: "file", path: s.entry.path, sha256: s.want.sha256, mode: s.want.mode }
    : { kind: "link", path: s.entry.path, target: s.want.target };
}

/** What uninstall does with one recorded file or link. */
type Removal = { path: string; action: "remove" | "gone" | "changed" | "packaged" };

/**
 * Uninstall's decisions, last written first: a path a package owns now is that package's (possibly with our
 * very bytes), one no longer what install wrote is kept. Then the directories install made, innermost first.
 */
export function planUninstall(manifest: Manifest, onDisk: (path: string) => OnDisk, packaged: Set<string>): { removals: Removal[]; dirs: string[] } {
  const removals = [...manifest.entries].reverse().flatMap((r): Removal[] => {
    if (r.kind === "dir") return [];
    if (packaged.has(r.path)) return [{ path: r.path, action: "packaged" }];
    const now = onDisk(r.path);
    if (now.kind === "absent") return [{ path: r.path, action: "gone" }];
    return [{ path: r.path, action: recordedMatches(now, r) ? "remove" : "changed" }];
  });
  const dirs = manifest.entries.filter((r) => r.kind === "dir").map((r) => r.path).sort((a, b) => b.length - a.length);
  return { removals, dirs };
}

// `systemd-ssh install` and `uninstall` (their command line is src/cli/install.ts): gather the facts about
// the target through effects.ts, let core.ts decide, carry out its plan under the root directory, and keep a
// manifest of what was written so that uninstall removes exactly that. Expected failures are Failure.

import { Failure } from "../shared/failure.ts";
import { VERSION } from "../version.ts";
import { candidatePaths, checkedPath, MANIFEST_FORMAT, planInstall, planUninstall, recordOf, under, VERB, type Manifest, type Recorded } from "./core.ts";
import { describe, realEffects, type InstallEffects } from "./effects.ts";
import { DEFAULT_LAYOUT, paths, plan, type Layout } from "./layout.ts";

interface InstallOptions {
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
  /** One line per file, for the user. */
  say(line: string): void;
  effects?: InstallEffects;
}

const MANIFEST_MODE = 0o644;

function checkedRoot(fx: InstallEffects, value: string | undefined): string {
  if (value === undefined) return "/";
  const root = checkedPath("root", require("node:path").resolve(value), "/");
  if (!fx.isDirectory(root)) throw new Failure(`--root ${value}: not a directory`);
  return root;
}

export function install(opts: InstallOptions): number {
  const fx = opts.effects ?? realEffects;
  const root = checkedRoot(fx, opts.root);
  const layout: Layout = {
    prefix: checkedPath("prefix", opts.prefix, DEFAULT_LAYOUT.prefix),
    sysconfdir: checkedPath("sysconfdir", opts.sysconfdir, DEFAULT_LAYOUT.sysconfdir),
  };
  let binary: Uint8Array = new Uint8Array(0);
  if (!opts.package) {
    try {
      binary = fx.readFile(opts.binary);
    } catch (e) {
      throw new Failure(`Failed to read the binary to install, ${opts.binary}: ${describe(e)}`);
    }
  }
  const manifestPath = under(root, paths(layout).manifest);
  const manifest = fx.readManifest(manifestPath);
  const onDisk = new Map(candidatePaths(layout).map((p) => [p, fx.onDisk(under(root, p))]));
  const packaged = opts.package
    ? fx.dpkgOwned(root, plan(layout).filter((e) => e.systemdOwn).map((e) => e.path))
    : undefined;
  const { steps, kept } = planInstall({ root, layout, binary, onDisk: (p) => onDisk.get(p)!, manifest, packaged, force: opts.force ?? false });

  const createdDirs = new Set((manifest?.entries ?? []).filter((r) => r.kind === "dir").map((r) => r.path));
  const written: Recorded[] = [];
  const writeManifest = () => {
    const m: Manifest = { format: MANIFEST_FORMAT, version: VERSION, entries: [...[...createdDirs].map((path) => ({ kind: "dir" as const, path })), ...written] };
    fx.writeFile(manifestPath, Buffer.from(`${JSON.stringify(m, null, 2)}\n`), MANIFEST_MODE);
  };
  const made = (disk: string) => {
    for (const d of fx.mkdirParents(disk)) createdDirs.add(root === "/" ? d : d.slice(root.length));
  };

  try {
    for (const s of steps) {
      const disk = under(root, s.entry.path);
      made(disk);
      if (s.state !== "same") {
        if (s.want.kind === "file") fx.writeFile(disk, s.want.data, s.want.mode);
        else fx.symlink(s.want.target, disk);
      }
      written.push(recordOf(s));
      opts.say(`${VERB[s.state]} ${disk}${s.want.kind === "link" ? ` -> ${s.want.target}` : ""} (${s.entry.what})`);
    }
  } catch (e) {
    // Keep track of what was written so far, so uninstall can still remove it.
    try {
      writeManifest();
    } catch {}
    throw new Failure(`Install failed: ${describe(e)}`);
  }
  for (const line of kept) opts.say(line);
  made(manifestPath);
  writeManifest();
  opts.say(`${manifest ? "updated" : "installed"} ${manifestPath} (manifest)`);
  return 0;
}

interface UninstallOptions {
  root?: string;
  prefix?: string;
  /** Run by the Debian package's prerm: no manifest is not an error, and a path a package owns now is kept. */
  package?: boolean;
  say(line: string): void;
  effects?: InstallEffects;
}

export function uninstall(opts: UninstallOptions): number {
  const fx = opts.effects ?? realEffects;
  const root = checkedRoot(fx, opts.root);
  const prefix = checkedPath("prefix", opts.prefix, DEFAULT_LAYOUT.prefix);
  const manifestPath = under(root, paths({ ...DEFAULT_LAYOUT, prefix }).manifest);
  const m = fx.readManifest(manifestPath);
  if (!m && opts.package) return 0;
  if (!m) throw new Failure(`No manifest at ${manifestPath}: systemd-ssh is not installed there.`);
  // A file of ours that a package (systemd 256+ on an upgrade) has since put at the same path, possibly with
  // the very same content or link target, is that package's now.
  const files = m.entries.filter((r) => r.kind !== "dir").map((r) => r.path);
  const packaged = opts.package ? fx.dpkgOwned(root, files) : new Set<string>();
  const onDisk = new Map(files.map((p) => [p, fx.onDisk(under(root, p))]));
  const { removals, dirs } = planUninstall(m, (p) => onDisk.get(p)!, packaged);
  let kept = 0;
  for (const r of removals) {
    const disk = under(root, r.path);
    switch (r.action) {
      case "packaged":
        opts.say(`kept ${disk} (a package's now)`);
        break;
      case "gone":
        opts.say(`already gone ${disk}`);
        break;
      case "changed":
        opts.say(`kept ${disk} (changed since it was installed)`);
        kept++;
        break;
      case "remove":
        fx.unlink(disk);
        opts.say(`removed ${disk}`);
        break;
    }
  }
  fx.unlink(manifestPath);
  opts.say(`removed ${manifestPath} (manifest)`);
  // Not empty (someone else's files) or already gone: left as it is.
  for (const d of dirs) if (fx.rmdir(under(root, d))) opts.say(`removed ${under(root, d)}/`);
  if (kept > 0) opts.say(`${kept} changed file(s) kept.`);
  return 0;
}

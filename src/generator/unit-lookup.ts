// unit_file_exists_full() and the lookup paths behind it (src/shared/install.c, path-lookup.c): where the
// system's sshd@.service (or ssh-access.target) is, following symlinks the way systemd's install logic does:
// a link out of the search path is a linked unit file, one inside it an alias, checked as systemd checks them.
// Paths are byte strings (src/shared/raw-bytes.ts).

import { stat } from "../../ffi/fs.ts";
import { LOG_NOTICE, LOG_WARNING } from "../shared/log.ts";
import { pathJoin, pathSimplify } from "../shared/path.ts";
import { fromBytes, fsPath, rawCwd } from "../shared/raw-bytes.ts";
import { errnoName, strerrorName } from "../shared/errno-name.ts";
import type { Result } from "./core.ts";

// node:fs only for resolving a symlinked unit, which few boots meet: it costs more to load than the
// generator's whole work (ffi/fs.ts has the calls of every boot).
const nodeFs = () => require("node:fs") as typeof import("node:fs");

/** realpath() of a byte string, as a byte string. */
const realpath = (p: string): string => fromBytes(nodeFs().realpathSync(fsPath(p), { encoding: "buffer" }));

/** The unit search path for the system manager, without generator directories (lookup_paths_init()). */
export function unitSearchPath(env: Map<string, string>): string[] {
  const defaults = [
    "/etc/systemd/system.control", "/run/systemd/system.control", "/run/systemd/transient", "/etc/systemd/system",
    "/etc/systemd/system.attached", "/run/systemd/system", "/run/systemd/system.attached",
    "/usr/local/lib/systemd/system", "/usr/lib/systemd/system",
  ];
  let paths: string[] = [];
  let append = true;
  const e = env.get("SYSTEMD_UNIT_PATH");
  if (e !== undefined) {
    let s = e;
    append = s.endsWith(":");
    if (append) s = s.slice(0, -1);
    paths = s.split(":").filter((x) => x !== "").map((x) => (x.startsWith("/") ? x : pathJoin(rawCwd(), x)));
  }
  if (append) paths.push(...defaults);
  // Entries stay as given (made absolute and simplified, never resolved): a unit found through a symlinked
  // directory is named through it. Duplicates go by string, like systemd's strv_uniq().
  const out: string[] = [];
  for (const p of paths) {
    const r = pathSimplify(p, true);
    if (!out.includes(r)) out.push(r);
  }
  return out;
}

const UNIT_TYPES = ["service", "mount", "swap", "socket", "target", "device", "automount", "timer", "path", "slice", "scope"];
const UNIT_NAME_CHARS = /^[0-9A-Za-z:\-_.\\@]*$/;

/** unit_name_to_instance()'s verdict on a unit name: its kind, or null when it is not a valid unit name
 * (unit_name_is_valid(): under 256 bytes, a known type suffix after the last ".", a non-empty prefix of
 * ASCII letters, digits and ":-_.\\@" that does not start with "@"). */
function unitNameKind(n: string): "plain" | "template" | "instance" | null {
  if (n.length === 0 || n.length >= 256) return null;
  const dot = n.lastIndexOf(".");
  if (dot <= 0 || !UNIT_TYPES.includes(n.slice(dot + 1))) return null;
  const prefix = n.slice(0, dot);
  if (!UNIT_NAME_CHARS.test(prefix)) return null;
  const at = prefix.indexOf("@");
  if (at === 0) return null;
  if (at < 0) return "plain";
  return at === prefix.length - 1 ? "template" : "instance";
}

/** unit_validate_alias_symlink_or_warn() for an alias `src` -> `dst` (basenames, different; `src` is one of the
 * valid, aliasable names the generator looks up): null when the alias is acceptable, else the logged refusal. */
function aliasRefusal(src: string, dst: string): string | null {
  const srcKind = unitNameKind(src);
  const dstKind = unitNameKind(dst);
  if (dstKind === null) return `${src} points to "${dst}" which is not a valid unit name: ${strerrorName("EXDEV")}`;
  if (!(dstKind === srcKind || (srcKind === "instance" && dstKind === "template"))) {
    return `${src}: symlink target name type "${dst}" does not match source, rejecting.`;
  }
  if (dstKind === "instance") {
    const inst = (n: string) => n.slice(n.indexOf("@") + 1, n.lastIndexOf("."));
    if (inst(src) !== inst(dst)) return `${src}: unit symlink target "${dst}" instance name doesn't match, rejecting.`;
  }
  if (src.slice(src.lastIndexOf(".")) !== dst.slice(dst.lastIndexOf("."))) {
    return `${src}: symlink target "${dst}" has incompatible suffix, rejecting.`;
  }
  return null;
}

const CONFIG_DIRS = ["/etc/systemd/system", "/run/systemd/system"];

/** unit_file_exists_full(): where a unit's file is, following symlinks the way systemd's install logic does. */
export function findUnitFile(search: readonly string[], name: string, log: (m: string, level?: number) => void, depth = 0): Result<string | null> {
  if (depth > 64) return { errno: "ELOOP" };
  for (const dir of search) {
    const p = pathJoin(dir, name);
    const st = stat(p, false);
    if (typeof st === "number") {
      const c = errnoName(st);
      if (c === "ENOENT" || c === "ENOTDIR" || c === "EACCES") continue;
      return { errno: c };
    }
    if (st.type === "reg") return p;
    if (st.type === "dir") return { errno: "EISDIR" };
    if (st.type !== "link") return { errno: "ENOTTY" };
    if (CONFIG_DIRS.includes(dir)) return { errno: "ELOOP" };
    const target = resolveLink(p);
    const slash = target.lastIndexOf("/");
    const base = target.slice(slash + 1);
    const tail = searchTail(search, target);
    if (tail === null) {
      // A linked unit file: loaded from where the link points; or masked.
      log(`Linked unit file: ${p} \xe2\x86\x92 ${target}`);
      if (target === "/dev/null") return p;
      const st2 = stat(target);
      if (typeof st2 === "number") return null;
      if (st2.type === "reg") return st2.size === 0 ? p : target;
      return { errno: st2.type === "dir" ? "EISDIR" : "ENOTTY" };
    }
    // Inside the search path, at any depth: an alias (path_startswith_strv()), checked first; one to its own
    // name is ignored, which leaves the unit unfound (ELOOP), wherever the link points.
    if (base === name) {
      log(`${name}: unit self-alias: ${name} \xe2\x86\x92 ${name}, ignoring.`);
      return { errno: "ELOOP" };
    }
    const refusal = aliasRefusal(name, base);
    if (refusal !== null) {
      log(refusal, LOG_NOTICE);
      return { errno: "EXDEV" };
    }
    // Deeper than a unit directory's top level is suspicious, but still an alias.
    if (tail.includes("/")) log(`Suspicious symlink ${p} \xe2\x86\x92 ${target}, treating as alias.`, LOG_WARNING);
    const alias = findUnitFile(search, base, log, depth + 1);
    if (alias === null) return { errno: "ENOLINK" };
    return alias;
  }
  log(`Cannot find unit ${name}.`);
  return null;
}

/** What follows the first search path entry that `p` lies under (path_startswith_strv()), or null. */
function searchTail(search: readonly string[], p: string): string | null {
  for (const dir of search) {
    if (dir === "/") return p.slice(1);
    if (p.startsWith(`${dir}/`)) return p.slice(dir.length + 1);
  }
  return null;
}

/** A symlink's final target, resolving every link on the way; a missing last component is kept as it is. */
function resolveLink(p: string): string {
  try {
    return realpath(p);
  } catch {}
  let cur = p;
  for (let i = 0; i < 64; i++) {
    let t: string;
    try {
      t = fromBytes(nodeFs().readlinkSync(fsPath(cur), { encoding: "buffer" }));
    } catch {
      break;
    }
    const dir = cur.slice(0, cur.lastIndexOf("/")) || "/";
    cur = t.startsWith("/") ? t : pathJoin(dir, t);
  }
  const slash = cur.lastIndexOf("/");
  const dir = slash <= 0 ? "/" : cur.slice(0, slash);
  try {
    return pathJoin(realpath(dir), cur.slice(slash + 1));
  } catch {
    return pathSimplify(cur, true);
  }
}

// The generator's effects: reading the real machine (Facts) and writing the output directory (Tree).

import { Errno as E, errnoCode } from "../../ffi/errno.ts";
import { access, createExclusive, F_OK, link, mkdir, stat, symlink, unlink, W_OK, writeAll, X_OK, close } from "../../ffi/fs.ts";
import { readFile } from "../../ffi/io.ts";
import { bytes, fromBytes, rawCwd } from "../shared/raw-bytes.ts";
import { LOG_DEBUG, LOG_NOTICE, LOG_WARNING } from "../shared/log.ts";
import { cmdlineItems, filterPid1Args, parseBoolean, splitCmdline } from "../shared/proc-cmdline.ts";
import type { SocketEnv } from "../shared/socket-address.ts";
import { realProbe, strerror, VirtDetector, type Errno } from "../shared/virt.ts";
import { pathJoin, pathSimplify, type Credential, type Facts, type Result, type Tree } from "./core.ts";
import { formFor } from "./versions.ts";
import { detectSystemdVersion } from "./systemd-version.ts";

const code = (e: unknown): Errno => (e as { code?: string }).code ?? "EIO";

// Paths here are byte strings (see src/shared/raw-bytes.ts): from the raw environment and argv, so that a
// directory named in any encoding is the one the kernel sees and the one the log names. Every call takes
// bytes(path); every path read back is turned back with fromBytes().
//
// The calls of every boot go through ffi/fs.ts, which returns errnos: node:fs would cost more to load than
// the generator's whole work. node:fs is loaded only for the rare ones (resolving a symlinked unit, naming
// network interfaces).
const nodeFs = () => require("node:fs") as typeof import("node:fs");

/** realpath() of a byte string, as a byte string. */
const realpath = (p: string): string => fromBytes(nodeFs().realpathSync(bytes(p), { encoding: "buffer" }));

/** A whole file as a byte string; throws SysError (with .code) like node:fs would. */
const readBytes = (p: string | Uint8Array): string => fromBytes(readFile(p));

function isNormalizedAbsolute(p: string): boolean {
  if (!p.startsWith("/")) return false;
  if (p.includes("//")) return false;
  const parts = p.split("/");
  return !parts.some((c, i) => (c === "." || c === "..") && i > 0);
}

/** in_initrd(): $SYSTEMD_IN_INITRD, else whether /etc/initrd-release exists. */
export function inInitrd(env: Map<string, string>): boolean {
  const e = env.get("SYSTEMD_IN_INITRD");
  if (e !== undefined) {
    const b = parseBoolean(e);
    if (b !== null) return b;
  }
  return access("/etc/initrd-release", F_OK) === 0;
}

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
    const r = pathSimplify(p);
    if (!out.includes(r)) out.push(r);
  }
  return out;
}

const UNIT_TYPES = ["service", "mount", "swap", "socket", "target", "device", "automount", "timer", "path", "slice", "scope"];
const UNIT_NAME_CHARS = /^[0-9A-Za-z:\-_.\\@]*$/;

/** unit_name_to_instance()'s verdict on a unit name: its kind, or null when it is not a valid unit name
 * (unit_name_is_valid(): under 256 bytes, a known type suffix after the last ".", a non-empty prefix of
 * ASCII letters, digits and ":-_.\\@" that does not start with "@"). */
export function unitNameKind(n: string): "plain" | "template" | "instance" | null {
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
  if (dstKind === null) return `${src} points to "${dst}" which is not a valid unit name: ${strerror("EXDEV")}`;
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
    const st = stat(bytes(p), false);
    if (typeof st === "number") {
      const c = errnoCode(st);
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
      const st2 = stat(bytes(target));
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
      t = fromBytes(nodeFs().readlinkSync(bytes(cur), { encoding: "buffer" }));
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
    return pathSimplify(cur);
  }
}

/**
 * $PATH's entries as systemd's find_executable_full() reads them: extract_first_word() with ":" as the
 * separator, EXTRACT_RELAX and EXTRACT_DONT_COALESCE_SEPARATORS. A backslash takes the next byte as it is
 * (so `\:` is a colon inside an entry, `\\` a backslash) and is dropped; one at the very end is
 * dropped too. Quotes mean nothing. Empty entries stay (and are skipped, as relative ones are).
 */
export function pathEntries(p: string): string[] {
  const entries: string[] = [];
  let cur = "";
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === "\\") {
      if (i + 1 < p.length) cur += p[++i]!;
    } else if (c === ":") {
      entries.push(cur);
      cur = "";
    } else cur += c;
  }
  entries.push(cur);
  return entries;
}

/** Why `path` is not an executable regular file, in find_executable_full()'s order of checks; null if it is. */
function notExecutable(path: Uint8Array): Errno | null {
  const st = stat(path);
  if (typeof st === "number") return errnoCode(st);
  if (st.type === "dir") return "EISDIR";
  if (st.type !== "reg") return "EBADFD";
  const e = access(path, X_OK);
  return e === 0 ? null : errnoCode(e);
}

/** find_executable(): the first executable regular file called `name` in $PATH. */
export function findExecutable(name: string, pathEnv: string | undefined): Result<string> {
  const p = pathEnv ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin";
  let last: Errno = "ENOENT";
  for (const element of pathEntries(p)) {
    if (!element.startsWith("/")) continue;
    const full = pathJoin(element, name);
    const why = notExecutable(bytes(full));
    if (why === null) return pathSimplify(full);
    if (why !== "EACCES") last = why;
  }
  return { errno: last };
}

/** The ssh.listen credential: $CREDENTIALS_DIRECTORY (else /run/credentials/@system), then the encrypted store. */
export function readCredential(env: Map<string, string>, name = "ssh.listen"): Credential {
  const dir = env.get("CREDENTIALS_DIRECTORY") ?? "/run/credentials/@system";
  if (!isNormalizedAbsolute(dir)) return { kind: "error", errno: "EINVAL" };
  try {
    const path = bytes(pathJoin(dir, name));
    // A large credential through node:fs, which decodes it straight into a string: reading it into our own
    // buffer first cost 5 MiB more peak memory on a 5 MiB one (scripts/bench dup-5mib).
    const st = stat(path);
    const data = typeof st !== "number" && st.size > 65536 ? nodeFs().readFileSync(path, "latin1") : readBytes(path);
    return { kind: "plain", data };
  } catch (e) {
    const c = code(e);
    if (c !== "ENOENT" && c !== "ENXIO") return { kind: "error", errno: c };
  }
  const enc = env.get("ENCRYPTED_CREDENTIALS_DIRECTORY") ?? "/run/credentials/@encrypted";
  const encPath = pathJoin(enc, name);
  if (isNormalizedAbsolute(enc) && access(bytes(encPath), F_OK) === 0) return { kind: "encrypted", path: encPath };
  return { kind: "absent" };
}

function interfaces(): Map<string, number> {
  const m = new Map<string, number>();
  const fs = nodeFs();
  try {
    for (const n of fs.readdirSync("/sys/class/net", { encoding: "buffer" }).map(fromBytes)) {
      try {
        m.set(n, Number(fs.readFileSync(bytes(`/sys/class/net/${n}/ifindex`), "latin1").trim()));
      } catch {}
    }
  } catch {}
  return m;
}

export const realSocketEnv: SocketEnv = {
  ipv6Supported: () => access("/proc/net/if_inet6", F_OK) === 0,
  resolveInterface: (name) => interfaces().get(name) ?? "ENODEV",
  interfaceName: (index) => {
    for (const [n, i] of interfaces()) if (i === index) return n;
    return null;
  },
};

export function realFacts(env: Map<string, string>, log: (level: number, m: string) => void): Facts & { detector: VirtDetector } {
  const detector = new VirtDetector(realProbe(), (m) => log(7, m));
  const initrd = inInitrd(env);
  let search: string[] | undefined;
  const versionInfo = detectSystemdVersion(env);
  const form = formFor(versionInfo.version);
  return {
    detector,
    form,
    inInitrd: initrd,
    cmdline(): Result<string[]> {
      const e = env.get("SYSTEMD_PROC_CMDLINE");
      if (e !== undefined) return splitCmdline(e);
      let inContainer = false;
      try {
        inContainer = detector.detectContainer() !== null;
      } catch {}
      try {
        if (inContainer) {
          const argv = readBytes("/proc/1/cmdline").split("\0");
          if (argv.length > 0 && argv[argv.length - 1] === "") argv.pop();
          return filterPid1Args(argv);
        }
        return splitCmdline(readBytes("/proc/cmdline").split("\0")[0]!);
      } catch (err) {
        return { errno: code(err) };
      }
    },
    credential: () => readCredential(env),
    sshd: () => findExecutable("sshd", env.get("PATH")),
    findUnit(name) {
      search ??= unitSearchPath(env);
      return findUnitFile(search, name, (m, level = LOG_DEBUG) => log(level, m));
    },
    detectContainer: () => detector.detectContainer(),
    detectVm: () => detector.detectVm(),
    vsockSocket() {
      const { vsockSupport } = require("../../ffi/vsock.ts") as typeof import("../../ffi/vsock.ts");
      const r = vsockSupport();
      return r.ok ? null : r.error.code;
    },
    localCid() {
      const { localCid } = require("../../ffi/vsock.ts") as typeof import("../../ffi/vsock.ts");
      try {
        return localCid();
      } catch (e) {
        return { errno: (e as { code?: string }).code ?? "EIO" };
      }
    },
    exportDirAccess() {
      const e = access("/run/host/unix-export/", W_OK);
      return e === 0 ? null : errnoCode(e);
    },
    socketEnv: realSocketEnv,
  };
}

/** Writes into the real output directory: a temporary file linked into place, so a unit file never appears
 * half-written, and link() refuses an existing name just like systemd's O_EXCL. */
export function realTree(dest: string): Tree {
  let seq = 0;
  // Directories made (or found) already: systemd's generator makes sockets.target.wants/ once per symlink;
  // asking the kernel again for each of 10,000 sockets tells us nothing new.
  const made = new Set<string>();
  const mkdirP = (dir: string): void => {
    if (made.has(dir)) return;
    let e = mkdir(bytes(dir), 0o755);
    if (e === E.ENOENT) {
      const slash = dir.lastIndexOf("/");
      if (slash > 0) mkdirP(dir.slice(0, slash));
      e = mkdir(bytes(dir), 0o755);
    }
    if (e === 0 || e === E.EEXIST) made.add(dir);
  };
  return {
    dest,
    createFile(name, content) {
      const final = bytes(pathJoin(dest, name));
      const tmp = bytes(pathJoin(dest, `.#${name}.${process.pid}.${seq++}`));
      const fd = createExclusive(tmp, 0o666);
      if (fd < 0) return errnoCode(-fd);
      const written = writeAll(fd, bytes(content));
      close(fd);
      const e = written !== 0 ? written : link(tmp, final);
      unlink(tmp);
      return e === 0 ? null : errnoCode(e);
    },
    mkdirs(name) {
      // Errors are ignored, as systemd does: the symlink that follows reports them.
      mkdirP(pathJoin(dest, name));
    },
    symlink(target, name) {
      const e = symlink(bytes(target), bytes(pathJoin(dest, name)));
      return e === 0 ? null : errnoCode(e);
    },
  };
}

export { cmdlineItems };

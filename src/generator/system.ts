// The generator's effects: reading the real machine (Facts) and writing the output directory (Tree).

import * as fs from "node:fs";
import { abi } from "../../ffi/arch.ts";
import { bytes, fromBytes, rawCwd } from "../shared/raw-bytes.ts";
import { writeAll } from "../shared/write-all.ts";
import { LOG_DEBUG, LOG_NOTICE, LOG_WARNING } from "../shared/log.ts";
import { cmdlineItems, filterPid1Args, parseBoolean, splitCmdline } from "../shared/proc-cmdline.ts";
import type { SocketEnv } from "../shared/socket-address.ts";
import { realProbe, strerror, VirtDetector, type Errno } from "../shared/virt.ts";
import { pathJoin, pathSimplify, type Credential, type Facts, type Result, type Tree } from "./core.ts";
import { formFor } from "./versions.ts";
import { detectSystemdVersion } from "./systemd-version.ts";

const code = (e: unknown): Errno => (e as { code?: string }).code ?? "EIO";

// Paths here are byte strings (see src/shared/raw-bytes.ts): from the raw environment and argv, so that a
// directory named in any encoding is the one the kernel sees and the one the log names. Every node:fs call
// takes bytes(path); every path node:fs returns is read as a Buffer and turned back with fromBytes().

/** realpath() of a byte string, as a byte string. */
const realpath = (p: string): string => fromBytes(fs.realpathSync(bytes(p), { encoding: "buffer" }));

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
  return fs.existsSync("/etc/initrd-release");
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
    let st: fs.Stats;
    try {
      st = fs.lstatSync(bytes(p));
    } catch (e) {
      const c = code(e);
      if (c === "ENOENT" || c === "ENOTDIR" || c === "EACCES") continue;
      return { errno: c };
    }
    if (st.isFile()) return p;
    if (st.isDirectory()) return { errno: "EISDIR" };
    if (!st.isSymbolicLink()) return { errno: "ENOTTY" };
    if (CONFIG_DIRS.includes(dir)) return { errno: "ELOOP" };
    const target = resolveLink(p);
    const slash = target.lastIndexOf("/");
    const base = target.slice(slash + 1);
    const tail = searchTail(search, target);
    if (tail === null) {
      // A linked unit file: loaded from where the link points; or masked.
      log(`Linked unit file: ${p} \xe2\x86\x92 ${target}`);
      if (target === "/dev/null") return p;
      try {
        const st2 = fs.statSync(bytes(target));
        if (st2.isFile()) return st2.size === 0 ? p : target;
        return { errno: st2.isDirectory() ? "EISDIR" : "ENOTTY" };
      } catch {
        return null;
      }
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
      t = fromBytes(fs.readlinkSync(bytes(cur), { encoding: "buffer" }));
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

/** find_executable(): the first executable regular file called `name` in $PATH. */
export function findExecutable(name: string, pathEnv: string | undefined): Result<string> {
  const p = pathEnv ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin";
  let last: Errno = "ENOENT";
  for (const element of p.split(":")) {
    if (!element.startsWith("/")) continue;
    const full = pathJoin(element, name);
    try {
      const st = fs.statSync(bytes(full));
      if (st.isDirectory()) throw Object.assign(new Error(), { code: "EISDIR" });
      if (!st.isFile()) throw Object.assign(new Error(), { code: "EBADFD" });
      fs.accessSync(bytes(full), fs.constants.X_OK);
      return pathSimplify(full);
    } catch (e) {
      const c = code(e);
      if (c !== "EACCES") last = c;
    }
  }
  return { errno: last };
}

/** The ssh.listen credential: $CREDENTIALS_DIRECTORY (else /run/credentials/@system), then the encrypted store. */
export function readCredential(env: Map<string, string>, name = "ssh.listen"): Credential {
  const dir = env.get("CREDENTIALS_DIRECTORY") ?? "/run/credentials/@system";
  if (!isNormalizedAbsolute(dir)) return { kind: "error", errno: "EINVAL" };
  try {
    return { kind: "plain", data: fs.readFileSync(bytes(pathJoin(dir, name)), "latin1") };
  } catch (e) {
    const c = code(e);
    if (c !== "ENOENT" && c !== "ENXIO") return { kind: "error", errno: c };
  }
  const enc = env.get("ENCRYPTED_CREDENTIALS_DIRECTORY") ?? "/run/credentials/@encrypted";
  const encPath = pathJoin(enc, name);
  if (isNormalizedAbsolute(enc) && fs.existsSync(bytes(encPath))) return { kind: "encrypted", path: encPath };
  return { kind: "absent" };
}

function interfaces(): Map<string, number> {
  const m = new Map<string, number>();
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
  ipv6Supported: () => fs.existsSync("/proc/net/if_inet6"),
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
          const argv = fs.readFileSync("/proc/1/cmdline", "latin1").split("\0");
          if (argv.length > 0 && argv[argv.length - 1] === "") argv.pop();
          return filterPid1Args(argv);
        }
        return splitCmdline(fs.readFileSync("/proc/cmdline", "latin1").split("\0")[0]!);
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
      try {
        fs.accessSync("/run/host/unix-export/", fs.constants.W_OK);
        return null;
      } catch (e) {
        return code(e);
      }
    },
    socketEnv: realSocketEnv,
  };
}

/** Writes into the real output directory: a temporary file linked into place, so a unit file never appears
 * half-written, and link() refuses an existing name just like systemd's O_EXCL. */
export function realTree(dest: string): Tree {
  let seq = 0;
  return {
    dest,
    createFile(name, content) {
      const final = bytes(pathJoin(dest, name));
      const tmp = bytes(pathJoin(dest, `.#${name}.${process.pid}.${seq++}`));
      let fd: number;
      try {
        fd = fs.openSync(tmp, abi.O_WRONLY | abi.O_CREAT | abi.O_EXCL | abi.O_CLOEXEC, 0o666);
      } catch (e) {
        return code(e);
      }
      try {
        try {
          writeAll(fd, bytes(content));
        } finally {
          fs.closeSync(fd);
        }
        fs.linkSync(tmp, final);
        return null;
      } catch (e) {
        return code(e);
      } finally {
        try {
          fs.unlinkSync(tmp);
        } catch {}
      }
    },
    mkdirs(name) {
      try {
        fs.mkdirSync(bytes(pathJoin(dest, name)), { recursive: true, mode: 0o755 });
      } catch {}
    },
    symlink(target, name) {
      try {
        fs.symlinkSync(bytes(target), bytes(pathJoin(dest, name)));
        return null;
      } catch (e) {
        return code(e);
      }
    },
  };
}

export { cmdlineItems };

// The generator's effects, the only module of it that reads or changes the machine: realFacts (what the
// core reads: the kernel command line, the credential, sshd, the unit files, virtualization, AF_VSOCK) and
// realTree (the output directory it writes).
//
// Paths here are byte strings (see src/shared/raw-bytes.ts): from the raw environment and argv, so that a
// directory named in any encoding is the one the kernel sees and the one the log names. ffi/ takes them as
// they are (ffi/path-bytes.ts), node:fs as fsPath(path); every path read back is turned back with fromBytes().
//
// The calls of every boot go through ffi/fs.ts, which returns errnos: node:fs would cost more to load than
// the generator's whole work. node:fs is loaded only for the rare ones (a large credential, naming network
// interfaces).

import { SysError } from "../../ffi/errors.ts";
import { access, F_OK, stat, symlink, W_OK } from "../../ffi/fs.ts";
import { readFile } from "../../ffi/io.ts";
import { localCid, vsockSupport } from "../../ffi/vsock.ts";
import { mkdirParents, writeFileAtomic } from "../shared/atomic-file.ts";
import { errnoName, errnoNameOf } from "../shared/errno-name.ts";
import { LOG_DEBUG } from "../shared/log.ts";
import { pathJoin } from "../shared/path.ts";
import { filterPid1Args, parseBoolean, splitCmdline } from "../shared/proc-cmdline.ts";
import { bytes, fromBytes, fsPath } from "../shared/raw-bytes.ts";
import type { SocketEnv } from "../shared/socket-address.ts";
import { realProbe, VirtDetector } from "../shared/virt.ts";
import type { Credential, Facts, LogFn, Result, Tree } from "./core.ts";
import { findExecutable } from "./find-executable.ts";
import { detectSystemdVersion } from "./systemd-version.ts";
import { findUnitFile, unitSearchPath } from "./unit-lookup.ts";
import { formFor } from "./versions.ts";

const nodeFs = () => require("node:fs") as typeof import("node:fs");


/** A whole file as a byte string; throws SysError. */
const readBytes = (p: string): string => fromBytes(readFile(p));

function isNormalizedAbsolute(p: string): boolean {
  if (!p.startsWith("/")) return false;
  if (p.includes("//")) return false;
  const parts = p.split("/");
  for (let i = 1; i < parts.length; i++) if (parts[i] === "." || parts[i] === "..") return false;
  return true;
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

/** The ssh.listen credential: $CREDENTIALS_DIRECTORY (else /run/credentials/@system), then the encrypted store. */
function readCredential(env: Map<string, string>, name = "ssh.listen"): Credential {
  const dir = env.get("CREDENTIALS_DIRECTORY") ?? "/run/credentials/@system";
  if (!isNormalizedAbsolute(dir)) return { kind: "error", errno: "EINVAL" };
  try {
    const path = pathJoin(dir, name);
    // A large credential through node:fs, which decodes it straight into a string: reading it into our own
    // buffer first cost 5 MiB more peak memory on a 5 MiB one (scripts/bench dup-5mib).
    const st = stat(path);
    const data = typeof st !== "number" && st.size > 65536 ? nodeFs().readFileSync(fsPath(path), "latin1") : readBytes(path);
    return { kind: "plain", data };
  } catch (e) {
    const c = errnoNameOf(e);
    if (c !== "ENOENT" && c !== "ENXIO") return { kind: "error", errno: c };
  }
  const enc = env.get("ENCRYPTED_CREDENTIALS_DIRECTORY") ?? "/run/credentials/@encrypted";
  const encPath = pathJoin(enc, name);
  if (isNormalizedAbsolute(enc) && access(encPath, F_OK) === 0) return { kind: "encrypted", path: encPath };
  return { kind: "absent" };
}

function interfaces(): Map<string, number> {
  const m = new Map<string, number>();
  const fs = nodeFs();
  try {
    for (const n of fs.readdirSync("/sys/class/net", { encoding: "buffer" }).map(fromBytes)) {
      try {
        m.set(n, Number(fs.readFileSync(fsPath(`/sys/class/net/${n}/ifindex`), "latin1").trim()));
      } catch {}
    }
  } catch {}
  return m;
}

const realSocketEnv: SocketEnv = {
  ipv6Supported: () => access("/proc/net/if_inet6", F_OK) === 0,
  resolveInterface: (name) => interfaces().get(name) ?? "ENODEV",
  interfaceName: (index) => {
    for (const [n, i] of interfaces()) if (i === index) return n;
    return null;
  },
};

/** A detection that may throw SysError, as the core's Result. */
function detected(detect: () => string | null): Result<string | null> {
  try {
    return detect();
  } catch (e) {
    if (!(e instanceof SysError)) throw e;
    return { errno: errnoNameOf(e) };
  }
}

/** `debug`: whether debug lines are logged at all (when not, detection builds none). */
export function realFacts(env: Map<string, string>, log: LogFn, debug = true): Facts {
  const detector = new VirtDetector(realProbe(), debug ? (m) => log(LOG_DEBUG, m) : undefined);
  let search: string[] | undefined;
  const form = formFor(detectSystemdVersion(env).version);
  return {
    form,
    inInitrd: inInitrd(env),
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
        return { errno: errnoNameOf(err) };
      }
    },
    credential: () => readCredential(env),
    sshd: () => findExecutable("sshd", env.get("PATH")),
    findUnit(name) {
      search ??= unitSearchPath(env);
      return findUnitFile(search, name, (m, level = LOG_DEBUG) => log(level, m));
    },
    detectContainer: () => detected(() => detector.detectContainer()),
    detectVm: () => detected(() => detector.detectVm()),
    vsockSocket() {
      const r = vsockSupport();
      return r.ok ? null : errnoNameOf(r.error);
    },
    localCid() {
      try {
        return localCid();
      } catch (e) {
        return { errno: errnoNameOf(e) };
      }
    },
    exportDirAccess() {
      const e = access("/run/host/unix-export/", W_OK);
      return e === 0 ? null : errnoName(e);
    },
    socketEnv: realSocketEnv,
  };
}

/** Writes into the real output directory: each unit file through a temporary file linked into place
 * (src/shared/atomic-file.ts), so none appears half-written, and an existing name is refused like systemd's
 * O_EXCL. */
export function realTree(dest: string): Tree {
  // Directories made (or found) already: systemd's generator makes sockets.target.wants/ once per symlink;
  // asking the kernel again for each of 10,000 sockets tells us nothing new.
  const made = new Set<string>();
  // pathJoin(dest, name) for the relative names the core gives, without a call per file: see ffi/fs.ts on
  // functions called that often.
  const prefix = dest === "" || dest.endsWith("/") ? dest : `${dest}/`;
  return {
    dest,
    createFile(name, content) {
      try {
        writeFileAtomic(prefix + name, bytes(content), { exclusive: true });
        return null;
      } catch (e) {
        if (!(e instanceof SysError)) throw e;
        return errnoNameOf(e);
      }
    },
    mkdirs(name) {
      // Errors are ignored, as systemd does: the symlink that follows reports them. systemd's mkdir_parents()
      // refuses a missing directory whose path has a ".." component (path_find_first_component() without
      // accept_dot_dot), so such a directory is never made.
      const dir = prefix + name;
      if (made.has(dir) || dir.split("/").includes("..")) return;
      try {
        mkdirParents(`${dir}/`);
        made.add(dir);
      } catch (e) {
        if (!(e instanceof SysError)) throw e;
      }
    },
    symlink(target, name) {
      const e = symlink(target, prefix + name);
      return e === 0 ? null : errnoName(e);
    },
  };
}

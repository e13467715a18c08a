// The generator's decisions, as systemd 262's run() makes them (src/ssh-generator/ssh-generator.c): from the
// facts it is given (kernel command line, credential, sshd, the sshd@.service template, virtualization,
// AF_VSOCK) to the files and symlinks it writes and the messages it logs, in systemd's order, with systemd's
// error handling (a failed step is logged, later steps still run, the exit status is 1).
//
// Pure: every read goes through Facts, every write through Tree, every message through the log callback.
// Strings are byte strings (latin1).

import { cmdlineItems, cmdlineKeyEq, parseBoolean } from "../shared/proc-cmdline.ts";
import { parseSocketAddress, printSocketAddress, type SocketEnv } from "../shared/socket-address.ts";
import { LOG_DEBUG, LOG_ERR, LOG_INFO, LOG_WARNING } from "../shared/log.ts";
import { strerror, type Errno } from "../shared/virt.ts";
import { socketUnit, sshAccessTargetUnit, templateUnit } from "./units.ts";
import { SSH_ACCESS_TARGET, type GeneratorForm } from "./versions.ts";

export type Result<T> = T | { errno: Errno };
export function isErrno(x: unknown): x is { errno: Errno } {
  return typeof x === "object" && x !== null && "errno" in x;
}

export type Credential =
  | { kind: "absent" }
  | { kind: "plain"; data: string }
  | { kind: "encrypted"; path: string }
  | { kind: "error"; errno: Errno };

export interface Facts {
  form: GeneratorForm;
  inInitrd: boolean;
  /** The command line's words (already split, PID 1's options filtered). */
  cmdline(): Result<string[]>;
  credential(): Credential;
  /** find_executable("sshd"). */
  sshd(): Result<string>;
  /** unit_file_exists_full(): the path of sshd@.service (or another unit), or null when there is none. */
  findUnit(name: string): Result<string | null>;
  /** detect_virtualization()'s parts; throw an Errno string on failure. */
  detectContainer(): string | null;
  detectVm(): string | null;
  /** socket(AF_VSOCK): null when it works. */
  vsockSocket(): Errno | null;
  /** ioctl(IOCTL_VM_SOCKETS_GET_LOCAL_CID). */
  localCid(): Result<number>;
  /** access("/run/host/unix-export/", W_OK): null when writable. */
  exportDirAccess(): Errno | null;
  socketEnv: SocketEnv;
}

/** Writes into the output directory. Names are relative to it. */
export interface Tree {
  /** The output directory as given (used in messages and in absolute symlink targets). */
  dest: string;
  /** Create a new file (O_EXCL): null, or the errno (EEXIST when it exists). */
  createFile(name: string, content: string): Errno | null;
  /** mkdir -p of a directory inside dest; errors are ignored, as systemd does. */
  mkdirs(name: string): void;
  /** symlink(target, dest/name): null or errno. */
  symlink(target: string, name: string): Errno | null;
}

export type LogFn = (level: number, message: string) => void;

export interface Listen {
  /** As given. */
  input: string;
  source: "cmdline" | "credential";
  /** The printed address when accepted. */
  address: string | null;
  error: string | null;
}

export interface Outcome {
  exitStatus: number;
  listen: Listen[];
  sshd: string | null;
  template: string | null;
  container: string | null;
  vm: string | null;
  vsock: { available: boolean; cid: number | null } | null;
  /** Unit names written, in order. */
  written: string[];
}

const LINE_MAX = 2048;

/** path_join(a, b). */
export function pathJoin(a: string, b: string): string {
  if (a === "") return b;
  if (b === "") return a;
  return a.endsWith("/") || b.startsWith("/") ? a + b : `${a}/${b}`;
}

/** path_simplify(): drop empty and "." components (".." stays). */
export function pathSimplify(p: string): string {
  const abs = p.startsWith("/");
  const parts = p.split("/").filter((c) => c !== "" && c !== ".");
  const s = parts.join("/");
  return abs ? `/${s}` : s === "" ? "." : s;
}

/** The symlink target generator_add_symlink() writes for a unit given by name or path. */
export function symlinkSource(src: string): string {
  const trimmed = src.replace(/\/+$/, "");
  const slash = trimmed.lastIndexOf("/");
  if (slash < 0) return `../${trimmed}`;
  const fn = trimmed.slice(slash + 1);
  const dir = slash === 0 ? "/" : pathSimplify(trimmed.slice(0, slash));
  return pathJoin(dir, fn);
}

/**
 * read_stripped_line() over a credential, one line at a time: lines split at \n, \r, NUL (and their pairs),
 * at most LINE_MAX-1 bytes, stripped of whitespace. `each` gets the line as the range [start, end) of `data`
 * and returns true to stop. Returns ENOBUFS when a line is too long (after the lines before it), else null.
 * Ranges, not strings: a credential may be megabytes of short lines, and a string per line (let alone one
 * built a character at a time) costs many times the credential's size in memory.
 */
export function eachCredentialLine(data: string, each: (start: number, end: number) => boolean): Errno | null {
  let i = 0;
  const n = data.length;
  while (i < n) {
    // The line's content runs to the first end-of-line byte.
    let end = i;
    while (end < n && !isEol(data.charCodeAt(end))) end++;
    if (end - i >= LINE_MAX) return "ENOBUFS";
    // Then the end-of-line bytes read_line() consumes with it: NUL ends at once; \n, \r and their pair
    // (either order) count as one end of line, a repeat of either starts a new (empty) line.
    let j = end;
    let prev = 0;
    while (j < n) {
      const c = data.charCodeAt(j);
      const eol = c === 10 ? 2 : c === 13 ? 4 : c === 0 ? 1 : 0;
      if (eol === 0 || prev & 1 || (prev & eol) !== 0) break;
      prev |= eol;
      j++;
    }
    let a = i;
    let b = end;
    while (a < b && isWhitespace(data.charCodeAt(a))) a++;
    while (b > a && isWhitespace(data.charCodeAt(b - 1))) b--;
    if (each(a, b)) return null;
    i = j;
  }
  return null;
}

const isEol = (c: number): boolean => c === 10 || c === 13 || c === 0;

/** All of a credential's lines (eachCredentialLine()), for tests and explain. */
export function credentialLines(data: string): { lines: string[]; error: Errno | null } {
  const lines: string[] = [];
  const error = eachCredentialLine(data, (a, b) => {
    lines.push(data.slice(a, b));
    return false;
  });
  return { lines, error };
}

const isWhitespace = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13;

/**
 * Ranges of one string as strings, one string per distinct content: a range seen before gives the same
 * string without allocating, so a credential of a million repeated lines costs memory for its distinct ones.
 */
export class RangeInterner {
  private readonly byHash = new Map<number, string | string[]>();
  constructor(private readonly data: string) {}

  get(a: number, b: number): string {
    const d = this.data;
    let h = 0x811c9dc5;
    for (let i = a; i < b; i++) h = Math.imul(h ^ d.charCodeAt(i), 0x01000193);
    const seen = this.byHash.get(h);
    if (typeof seen === "string") {
      if (this.equals(seen, a, b)) return seen;
    } else if (seen !== undefined) {
      for (const s of seen) if (this.equals(s, a, b)) return s;
    }
    const s = d.slice(a, b);
    if (seen === undefined) this.byHash.set(h, s);
    else if (typeof seen === "string") this.byHash.set(h, [seen, s]);
    else seen.push(s);
    return s;
  }

  private equals(s: string, a: number, b: number): boolean {
    if (s.length !== b - a) return false;
    for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== this.data.charCodeAt(a + i)) return false;
    return true;
  }
}

/** Bytewise sort of distinct strings (strv_sort_uniq(), given them already distinct). */
function sortDistinct(set: ReadonlySet<string>): string[] {
  return [...set].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
}

function fmtErr(template: string, errno: Errno): string {
  return template.replace("%m", strerror(errno));
}

class Abort {
  constructor(readonly errno: Errno) {}
}

export interface GenerateOptions {
  /** Keep every address given, with its verdict, in Outcome.listen (explain shows them). Default true; the
   * boot-time generator turns it off, since a credential may hold millions of addresses. */
  recordListen?: boolean;
}

/** Run the generator. */
export function generate(facts: Facts, tree: Tree, log: LogFn, opts: GenerateOptions = {}): Outcome {
  const form = facts.form;
  const record = opts.recordListen ?? true;
  let auto = true;
  const listen: Listen[] = [];
  // The printed addresses, distinct (strv_sort_uniq() would drop the duplicates after sorting them).
  const extra = new Set<string>();
  // An address given twice parses the same way twice: parse and print it once. (What the socket env reads,
  // /proc/net/if_inet6 and the interfaces, does not change while we run.)
  const parsedBefore = new Map<string, { address: string } | { error: string; printFailed: boolean }>();
  const out: Outcome = {
    exitStatus: 0, listen, sshd: null, template: null, container: null, vm: null, vsock: null, written: [],
  };

  const parseAndPrint = (value: string): { address: string } | { error: string; printFailed: boolean } => {
    const parsed = parseSocketAddress(value, facts.socketEnv, { vsockCidAny: form.vsockCidAny });
    if (!parsed.ok) return { error: parsed.errno, printFailed: false };
    const printed = printSocketAddress(parsed.address, facts.socketEnv);
    return printed.ok ? { address: printed.text } : { error: printed.errno, printFailed: true };
  };

  const addAddress = (value: string, source: Listen["source"]): Errno | null => {
    let r = parsedBefore.get(value);
    if (r === undefined) parsedBefore.set(value, (r = parseAndPrint(value)));
    if ("address" in r) {
      if (record) listen.push({ input: value, source, address: r.address, error: null });
      extra.add(r.address);
      return null;
    }
    if (record) listen.push({ input: value, source, address: null, error: r.error });
    if (!r.printFailed) {
      log(LOG_WARNING, `Failed to parse systemd.ssh_listen= expression, ignoring: ${value}`);
      return null;
    }
    log(LOG_ERR, fmtErr("Failed to format socket address: %m", r.error));
    return r.error;
  };

  // Kernel command line.
  const words = facts.cmdline();
  let cmdlineError: Errno | null = isErrno(words) ? words.errno : null;
  if (!isErrno(words)) {
    for (const { key, value } of cmdlineItems(words, facts.inInitrd)) {
      if (cmdlineKeyEq(key, "systemd.ssh_auto")) {
        const b = value === null ? true : parseBoolean(value);
        if (b === null) log(LOG_WARNING, `Failed to parse systemd.ssh_auto switch "${value}", ignoring: Invalid argument`);
        else auto = b;
      } else if (cmdlineKeyEq(key, "systemd.ssh_listen")) {
        if (value === null) {
          log(LOG_WARNING, `Missing argument for ${key}= kernel command line switch, ignoring.`);
          continue;
        }
        const e = addAddress(value, "cmdline");
        if (e) {
          cmdlineError = e;
          break;
        }
      }
    }
  }
  if (cmdlineError) log(LOG_WARNING, fmtErr("Failed to parse kernel command line, ignoring: %m", cmdlineError));

  // The ssh.listen credential.
  const cred = facts.credential();
  if (cred.kind === "error") {
    log(LOG_ERR, `Failed to read unencrypted credential 'ssh.listen': ${strerror(cred.errno)}`);
  } else if (cred.kind === "encrypted") {
    log(LOG_WARNING, `Credential 'ssh.listen' in ${cred.path} is encrypted, which this generator cannot decrypt, ignoring.`);
  } else if (cred.kind === "plain") {
    const lines = new RangeInterner(cred.data);
    const error = eachCredentialLine(cred.data, (a, b) => cred.data.charCodeAt(a) !== 35 /* # */ && addAddress(lines.get(a, b), "credential") !== null);
    if (error) log(LOG_ERR, fmtErr("Failed to parse credential 'ssh.listen': %m", error));
  }

  const addresses = sortDistinct(extra);

  if (!auto && addresses.length === 0) {
    log(LOG_DEBUG, "Disabling SSH generator logic, because it has been turned off explicitly.");
    return out;
  }

  const sshd = facts.sshd();
  if (isErrno(sshd)) {
    if (sshd.errno === "ENOENT") {
      log(LOG_DEBUG, "Disabling SSH generator logic, since sshd is not installed.");
      return out;
    }
    log(LOG_ERR, fmtErr("Failed to determine if sshd is installed: %m", sshd.errno));
    out.exitStatus = 1;
    return out;
  }
  out.sshd = sshd;

  const found = facts.findUnit("sshd@.service");
  if (isErrno(found)) {
    log(LOG_ERR, fmtErr("Unable to detect if sshd@.service exists: %m", found.errno));
    out.exitStatus = 1;
    return out;
  }
  out.template = found;

  let generated: string | null = null;
  const fail = (e: Errno): never => {
    throw new Abort(e);
  };

  const createUnit = (name: string, content: string): void => {
    const e = tree.createFile(name, content);
    if (e) {
      log(LOG_ERR, `Failed to create unit file '${pathJoin(tree.dest, name)}': ${strerror(e)}`);
      fail(e);
    }
    out.written.push(name);
  };

  const addSymlink = (linkName: string, target: string): void => {
    const slash = linkName.lastIndexOf("/");
    if (slash > 0) tree.mkdirs(linkName.slice(0, slash));
    const e = tree.symlink(target, linkName);
    if (e && e !== "EEXIST") {
      log(LOG_ERR, `Failed to create symlink "${tree.dest}/${linkName}": ${strerror(e)}`);
      fail(e);
    }
  };

  const makeTemplate = (name: string): void => {
    if (found !== null) return addSymlink(name, symlinkSource(found));
    if (generated === null) {
      createUnit("sshd-generated@.service", templateUnit(form, sshd));
      generated = pathJoin(tree.dest, "sshd-generated@.service");
    }
    addSymlink(name, symlinkSource(generated));
  };

  const writeSocket = (unit: string, listenStream: string, comment: string, sshAccess: boolean, extraLines: readonly string[]): void => {
    createUnit(unit, socketUnit(form, { listen: listenStream, comment, sshAccess, extra: extraLines }));
    addSymlink(`sockets.target.wants/${unit}`, symlinkSource(unit));
  };

  const step = (fn: () => void): void => {
    try {
      fn();
    } catch (e) {
      if (!(e instanceof Abort)) throw e;
      out.exitStatus = 1;
    }
  };

  if (form.writeSshAccessTarget) {
    step(() => {
      const t = facts.findUnit("ssh-access.target");
      if (!isErrno(t) && t === null) createUnit("ssh-access.target", sshAccessTargetUnit(SSH_ACCESS_TARGET));
    });
  }

  step(() => {
    let n = 1;
    for (const a of addresses) {
      makeTemplate(n > 1 ? `sshd-extra-${n}@.service` : "sshd-extra@.service");
      writeSocket(n > 1 ? `sshd-extra-${n}.socket` : "sshd-extra.socket", a, a, true, []);
      log(LOG_DEBUG, `Binding SSH to socket ${a}.`);
      n++;
    }
  });

  if (!auto) return out;

  step(() => {
    let vm: string | null;
    try {
      const c = facts.detectContainer();
      out.container = c;
      vm = c ? null : facts.detectVm();
      out.vm = vm;
    } catch (e) {
      log(LOG_ERR, fmtErr("Failed to detect if we run in a VM: %m", String(e)));
      return fail(String(e));
    }
    if (!vm) {
      log(LOG_DEBUG, "Not running in a VM, not listening on AF_VSOCK.");
      return;
    }
    const se = facts.vsockSocket();
    if (se) {
      out.vsock = { available: false, cid: null };
      if (NOT_SUPPORTED.has(se)) {
        log(LOG_DEBUG, fmtErr(form.messages.vsockUnsupported, se));
        return;
      }
      log(LOG_ERR, fmtErr("Unable to test if AF_VSOCK is available: %m", se));
      return fail(se);
    }
    out.vsock = { available: true, cid: null };
    const cid = facts.localCid();
    let cidKnown = true;
    if (isErrno(cid)) {
      if (!DEVICE_ABSENT.has(cid.errno)) {
        log(LOG_ERR, fmtErr(form.messages.vsockCidFailed, cid.errno));
        return fail(cid.errno);
      }
      log(LOG_DEBUG, fmtErr(form.messages.vsockNoDevice, cid.errno));
      if (form.vsockWithoutCid === "skip") return;
      cidKnown = false;
    } else {
      log(LOG_DEBUG, `Local AF_VSOCK CID: ${cid}`);
      out.vsock.cid = cid;
    }
    makeTemplate("sshd-vsock@.service");
    writeSocket("sshd-vsock.socket", "vsock::22", "AF_VSOCK", true, form.vsockSocketExtra);
    log(LOG_DEBUG, cidKnown ? `Binding SSH to AF_VSOCK vsock::22.\n\xe2\x86\x92 connect via 'ssh vsock/${cid}' from host` : "Binding SSH to AF_VSOCK vsock::22.");
  });

  step(() => {
    makeTemplate("sshd-unix-local@.service");
    writeSocket("sshd-unix-local.socket", "/run/ssh-unix-local/socket", "AF_UNIX Local", false, []);
    log(LOG_DEBUG, "Binding SSH to AF_UNIX socket /run/ssh-unix-local/socket.\n\xe2\x86\x92 connect via 'ssh .host' locally");
  });

  step(() => {
    let c: string | null;
    try {
      c = facts.detectContainer();
      out.container = c;
    } catch (e) {
      log(LOG_ERR, fmtErr("Failed to detect if we run in a container: %m", String(e)));
      return fail(String(e));
    }
    if (!c) {
      log(LOG_DEBUG, "Not running in container, not listening on /run/host/unix-export/ssh");
      return;
    }
    const a = facts.exportDirAccess();
    if (a === "ENOENT") {
      log(LOG_DEBUG, "Container manager does not provide /run/host/unix-export/ mount, not binding AF_UNIX socket there.");
      return;
    }
    if (a === "EROFS" || a === "EACCES" || a === "EPERM") {
      log(LOG_DEBUG, "Container manager does not provide write access to /run/host/unix-export/, not binding AF_UNIX socket there.");
      return;
    }
    if (a) {
      log(LOG_ERR, fmtErr("Unable to check if /run/host/unix-export exists: %m", a));
      return fail(a);
    }
    makeTemplate("sshd-unix-export@.service");
    writeSocket("sshd-unix-export.socket", "/run/host/unix-export/ssh", "AF_UNIX Export", true, []);
    log(LOG_DEBUG, `Binding SSH to AF_UNIX socket /run/host/unix-export/ssh\n${form.messages.exportConnect}`);
  });

  return out;
}

const NOT_SUPPORTED = new Set(["EOPNOTSUPP", "ENOTTY", "ENOSYS", "EAFNOSUPPORT", "EPFNOSUPPORT", "EPROTONOSUPPORT", "ESOCKTNOSUPPORT", "ENOPROTOOPT"]);
const DEVICE_ABSENT = new Set(["ENODEV", "ENXIO", "ENOENT"]);

export { LOG_INFO };

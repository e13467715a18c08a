// The generator's decisions, as systemd 262's src/ssh-generator/ssh-generator.c makes them, in its functions
// and its order: from the facts it is given (kernel command line, credential, sshd, the sshd@.service
// template, virtualization, AF_VSOCK) to the files and symlinks it writes and the messages it logs, with
// systemd's error handling (a failed step is logged, later steps still run, the exit status is 1).
//
// Pure: every read goes through Facts, every write through Tree, every message through the log callback.
// Strings are byte strings (latin1). A step's result is systemd's `r`: null when it went well, else the
// errno name it failed with (already logged).

import { isDeviceAbsent, isFsWriteRefused, isNotSupported, type ErrnoName } from "../../ffi/errno.ts";
import { cmdlineItems, cmdlineKeyEq, parseBoolean } from "../shared/proc-cmdline.ts";
import { parseSocketAddress, printSocketAddress, type SocketEnv } from "../shared/socket-address.ts";
import { LOG_DEBUG, LOG_ERR, LOG_WARNING } from "../shared/log.ts";
import { pathJoin, pathSimplify } from "../shared/path.ts";
import { strerrorName } from "../shared/errno-name.ts";
import { eachCredentialLine, RangeInterner } from "./credential-lines.ts";
import { socketUnit, sshAccessTargetUnit, templateUnit } from "./units.ts";
import type { GeneratorForm } from "./versions.ts";

export type Result<T> = T | { errno: ErrnoName };
export function isErrno(x: unknown): x is { errno: ErrnoName } {
  return typeof x === "object" && x !== null && "errno" in x;
}

export type Credential =
  | { kind: "absent" }
  | { kind: "plain"; data: string }
  | { kind: "encrypted"; path: string }
  | { kind: "error"; errno: ErrnoName };

/** What the generator reads. */
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
  /** detect_container() and detect_vm(): the id, or null for none. */
  detectContainer(): Result<string | null>;
  detectVm(): Result<string | null>;
  /** socket(AF_VSOCK): null when it works. */
  vsockSocket(): ErrnoName | null;
  /** ioctl(IOCTL_VM_SOCKETS_GET_LOCAL_CID). */
  localCid(): Result<number>;
  /** access("/run/host/unix-export/", W_OK): null when writable. */
  exportDirAccess(): ErrnoName | null;
  socketEnv: SocketEnv;
}

/** What the generator writes: the output directory. Names are relative to it. */
export interface Tree {
  /** The output directory as given (used in messages and in absolute symlink targets). */
  dest: string;
  /** Create a new file (O_EXCL): null, or the errno (EEXIST when it exists). */
  createFile(name: string, content: string): ErrnoName | null;
  /** mkdir -p of a directory inside dest; errors are ignored, as systemd does. */
  mkdirs(name: string): void;
  /** symlink(target, dest/name): null or errno. */
  symlink(target: string, name: string): ErrnoName | null;
}

export type LogFn = (level: number, message: string) => void;

interface Listen {
  /** As given. */
  input: string;
  source: "cmdline" | "credential";
  /** The printed address when accepted. */
  address: string | null;
  error: string | null;
}

interface Outcome {
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

interface RunOptions {
  /** Keep every address given, with its verdict, in Outcome.listen (explain shows them). Default true; the
   * boot-time generator turns it off, since a credential may hold millions of addresses. */
  recordListen?: boolean;
}

type Step = ErrnoName | null;
type ParsedAddress = { address: string } | { error: ErrnoName; printFailed: boolean };

/** systemd's arg_* statics and run()'s locals, shared by the steps. */
interface Context {
  readonly facts: Facts;
  readonly tree: Tree;
  readonly log: LogFn;
  readonly form: GeneratorForm;
  readonly out: Outcome;
  readonly recordListen: boolean;
  /** arg_auto. */
  auto: boolean;
  /** arg_listen_extra: the printed addresses, distinct (strv_sort_uniq() would drop duplicates anyway). */
  readonly listenExtra: Set<string>;
  /** An address given twice parses the same way twice: parse and print it once. (What the socket env reads,
   * /proc/net/if_inet6 and the interfaces, does not change while we run.) */
  readonly parsedBefore: Map<string, ParsedAddress>;
}

/** What the unit-writing steps share: the sshd binary, the system's template, and the one we generated. */
interface Units extends Context {
  readonly sshdBinary: string;
  readonly foundSshdTemplateUnit: string | null;
  generatedSshdTemplateUnit: string | null;
}

const fmtErr = (template: string, errno: ErrnoName): string => template.replace("%m", strerrorName(errno));

/** socket_address_parse() and socket_address_print() of one systemd.ssh_listen= value. */
function parseAndPrint(ctx: Context, value: string): ParsedAddress {
  const parsed = parseSocketAddress(value, ctx.facts.socketEnv, { vsockCidAny: ctx.form.vsockCidAny });
  if (!parsed.ok) return { error: parsed.errno, printFailed: false };
  const printed = printSocketAddress(parsed.address, ctx.facts.socketEnv);
  return printed.ok ? { address: printed.text } : { error: printed.errno, printFailed: true };
}

/** The part parse_proc_cmdline_item() and parse_credentials() share: an address into arg_listen_extra. */
function consumeAddress(ctx: Context, value: string, source: Listen["source"]): Step {
  let r = ctx.parsedBefore.get(value);
  if (r === undefined) ctx.parsedBefore.set(value, (r = parseAndPrint(ctx, value)));
  if ("address" in r) {
    if (ctx.recordListen) ctx.out.listen.push({ input: value, source, address: r.address, error: null });
    ctx.listenExtra.add(r.address);
    return null;
  }
  if (ctx.recordListen) ctx.out.listen.push({ input: value, source, address: null, error: r.error });
  if (!r.printFailed) {
    ctx.log(LOG_WARNING, `Failed to parse systemd.ssh_listen= expression, ignoring: ${value}`);
    return null;
  }
  ctx.log(LOG_ERR, fmtErr("Failed to format socket address: %m", r.error));
  return r.error;
}

function parseProcCmdlineItem(ctx: Context, key: string, value: string | null): Step {
  if (cmdlineKeyEq(key, "systemd.ssh_auto")) {
    const b = value === null ? true : parseBoolean(value);
    if (b === null) ctx.log(LOG_WARNING, `Failed to parse systemd.ssh_auto switch "${value}", ignoring: Invalid argument`);
    else ctx.auto = b;
  } else if (cmdlineKeyEq(key, "systemd.ssh_listen")) {
    if (value === null) {
      ctx.log(LOG_WARNING, `Missing argument for ${key}= kernel command line switch, ignoring.`);
      return null;
    }
    return consumeAddress(ctx, value, "cmdline");
  }
  return null;
}

/** proc_cmdline_parse(parse_proc_cmdline_item): stops at the first item that fails. */
function parseProcCmdline(ctx: Context): Step {
  const words = ctx.facts.cmdline();
  if (isErrno(words)) return words.errno;
  for (const { key, value } of cmdlineItems(words, ctx.facts.inInitrd)) {
    const r = parseProcCmdlineItem(ctx, key, value);
    if (r) return r;
  }
  return null;
}

function parseCredentials(ctx: Context): void {
  const cred = ctx.facts.credential();
  if (cred.kind === "error") {
    ctx.log(LOG_ERR, `Failed to read unencrypted credential 'ssh.listen': ${strerrorName(cred.errno)}`);
  } else if (cred.kind === "encrypted") {
    ctx.log(LOG_WARNING, `Credential 'ssh.listen' in ${cred.path} is encrypted, which this generator cannot decrypt, ignoring.`);
  } else if (cred.kind === "plain") {
    const lines = new RangeInterner(cred.data);
    // A "#" line is a comment; a line that fails to print stops the parse (consumeAddress() logged it).
    const error = eachCredentialLine(cred.data, (a, b) => cred.data.charCodeAt(a) !== 35 && consumeAddress(ctx, lines.get(a, b), "credential") !== null);
    if (error) ctx.log(LOG_ERR, fmtErr("Failed to parse credential 'ssh.listen': %m", error));
  }
}

/** The symlink target generator_add_symlink() writes for a unit given by name or path. */
function symlinkSource(src: string): string {
  let end = src.length;
  while (end > 0 && src[end - 1] === "/") end--;
  const trimmed = src.slice(0, end);
  const slash = trimmed.lastIndexOf("/");
  if (slash < 0) return `../${trimmed}`;
  const fn = trimmed.slice(slash + 1);
  const dir = slash === 0 ? "/" : pathSimplify(trimmed.slice(0, slash), true);
  return pathJoin(dir, fn);
}

/** generator_open_unit_file(): a new unit file in dest. */
function openUnitFile(u: Units, name: string, content: string): Step {
  const e = u.tree.createFile(name, content);
  if (e) {
    u.log(LOG_ERR, `Failed to create unit file '${pathJoin(u.tree.dest, name)}': ${strerrorName(e)}`);
    return e;
  }
  u.out.written.push(name);
  return null;
}

/** generator_add_symlink(): dest/linkName → target; one that exists already is fine. */
function addSymlink(u: Units, linkName: string, target: string): Step {
  const slash = linkName.lastIndexOf("/");
  if (slash > 0) u.tree.mkdirs(linkName.slice(0, slash));
  const e = u.tree.symlink(target, linkName);
  if (e && e !== "EEXIST") {
    u.log(LOG_ERR, `Failed to create symlink ${u.tree.dest}/${linkName}: ${strerrorName(e)}`);
    return e;
  }
  return null;
}

function makeSshdTemplateUnit(u: Units, template: string): Step {
  // The system's own template, if it has one, under the name we want.
  if (u.foundSshdTemplateUnit !== null) return addSymlink(u, template, symlinkSource(u.foundSshdTemplateUnit));
  if (u.generatedSshdTemplateUnit === null) {
    const r = openUnitFile(u, "sshd-generated@.service", templateUnit(u.form, u.sshdBinary));
    if (r) return r;
    u.generatedSshdTemplateUnit = pathJoin(u.tree.dest, "sshd-generated@.service");
  }
  return addSymlink(u, template, symlinkSource(u.generatedSshdTemplateUnit));
}

function writeSocketUnit(u: Units, unit: string, listenStream: string, comment: string, extra: readonly string[], withSshAccessTargetDependency: boolean): Step {
  const r = openUnitFile(u, unit, socketUnit(u.form, { listen: listenStream, comment, sshAccess: withSshAccessTargetDependency, extra }));
  return r ?? addSymlink(u, `sockets.target.wants/${unit}`, symlinkSource(unit));
}

/** Our legacy form's own step: ssh-access.target, for systems older than the one that ships it. */
function addSshAccessTarget(u: Units): Step {
  const t = u.facts.findUnit("ssh-access.target");
  if (isErrno(t) || t !== null) return null;
  return openUnitFile(u, "ssh-access.target", sshAccessTargetUnit());
}

function addVsockSocket(u: Units): Step {
  // detect_virtualization(): a container wins over the VM it may run in.
  const c = u.facts.detectContainer();
  if (!isErrno(c)) u.out.container = c;
  const v = isErrno(c) ? c : c !== null ? null : u.facts.detectVm();
  if (isErrno(v)) {
    u.log(LOG_ERR, fmtErr("Failed to detect if we run in a VM: %m", v.errno));
    return v.errno;
  }
  u.out.vm = v;
  if (!v) {
    u.log(LOG_DEBUG, "Not running in a VM, not listening on AF_VSOCK.");
    return null;
  }
  const se = u.facts.vsockSocket();
  if (se) {
    u.out.vsock = { available: false, cid: null };
    if (isNotSupported(se)) {
      u.log(LOG_DEBUG, fmtErr(u.form.messages.vsockUnsupported, se));
      return null;
    }
    u.log(LOG_ERR, fmtErr("Unable to test if AF_VSOCK is available: %m", se));
    return se;
  }
  u.out.vsock = { available: true, cid: null };
  const cid = u.facts.localCid();
  if (isErrno(cid)) {
    if (!isDeviceAbsent(cid.errno)) {
      u.log(LOG_ERR, fmtErr(u.form.messages.vsockCidFailed, cid.errno));
      return cid.errno;
    }
    u.log(LOG_DEBUG, fmtErr(u.form.messages.vsockNoDevice, cid.errno));
    if (u.form.vsockWithoutCid === "skip") return null;
  } else {
    u.log(LOG_DEBUG, `Local AF_VSOCK CID: ${cid}`);
    u.out.vsock.cid = cid;
  }
  const r = makeSshdTemplateUnit(u, "sshd-vsock@.service") ?? writeSocketUnit(u, "sshd-vsock.socket", "vsock::22", "AF_VSOCK", u.form.vsockSocketExtra, true);
  if (r) return r;
  u.log(LOG_DEBUG, isErrno(cid) ? "Binding SSH to AF_VSOCK vsock::22." : `Binding SSH to AF_VSOCK vsock::22.\n\xe2\x86\x92 connect via 'ssh vsock/${cid}' from host`);
  return null;
}

function addLocalUnixSocket(u: Units): Step {
  const r = makeSshdTemplateUnit(u, "sshd-unix-local@.service") ?? writeSocketUnit(u, "sshd-unix-local.socket", "/run/ssh-unix-local/socket", "AF_UNIX Local", [], false);
  if (r) return r;
  u.log(LOG_DEBUG, "Binding SSH to AF_UNIX socket /run/ssh-unix-local/socket.\n\xe2\x86\x92 connect via 'ssh .host' locally");
  return null;
}

function addExportUnixSocket(u: Units): Step {
  const c = u.facts.detectContainer();
  if (isErrno(c)) {
    u.log(LOG_ERR, fmtErr("Failed to detect if we run in a container: %m", c.errno));
    return c.errno;
  }
  u.out.container = c;
  if (!c) {
    u.log(LOG_DEBUG, "Not running in container, not listening on /run/host/unix-export/ssh");
    return null;
  }
  const a = u.facts.exportDirAccess();
  if (a === "ENOENT") {
    u.log(LOG_DEBUG, "Container manager does not provide /run/host/unix-export/ mount, not binding AF_UNIX socket there.");
    return null;
  }
  if (a !== null && isFsWriteRefused(a)) {
    u.log(LOG_DEBUG, "Container manager does not provide write access to /run/host/unix-export/, not binding AF_UNIX socket there.");
    return null;
  }
  if (a) {
    u.log(LOG_ERR, fmtErr("Unable to check if /run/host/unix-export exists: %m", a));
    return a;
  }
  const r = makeSshdTemplateUnit(u, "sshd-unix-export@.service") ?? writeSocketUnit(u, "sshd-unix-export.socket", "/run/host/unix-export/ssh", "AF_UNIX Export", [], true);
  if (r) return r;
  u.log(LOG_DEBUG, `Binding SSH to AF_UNIX socket /run/host/unix-export/ssh\n${u.form.messages.exportConnect}`);
  return null;
}

function addExtraSockets(u: Units, addresses: readonly string[]): Step {
  let n = 1;
  for (const a of addresses) {
    const r = makeSshdTemplateUnit(u, n > 1 ? `sshd-extra-${n}@.service` : "sshd-extra@.service") ??
      writeSocketUnit(u, n > 1 ? `sshd-extra-${n}.socket` : "sshd-extra.socket", a, a, [], true);
    if (r) return r;
    u.log(LOG_DEBUG, `Binding SSH to socket ${a}.`);
    n++;
  }
  return null;
}

/** Bytewise sort of distinct strings (strv_sort_uniq(), given them already distinct). */
function sortDistinct(set: ReadonlySet<string>): string[] {
  const out = [...set];
  // A few addresses are the usual case: sorted by insertion, which costs nothing to start, unlike sort().
  if (out.length > 16) return out.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  for (let i = 1; i < out.length; i++) {
    const x = out[i]!;
    let j = i;
    for (; j > 0 && out[j - 1]! > x; j--) out[j] = out[j - 1]!;
    out[j] = x;
  }
  return out;
}

/** systemd's run(). */
export function run(facts: Facts, tree: Tree, log: LogFn, opts: RunOptions = {}): Outcome {
  const out: Outcome = {
    exitStatus: 0, listen: [], sshd: null, template: null, container: null, vm: null, vsock: null, written: [],
  };
  const ctx: Context = {
    facts, tree, log, form: facts.form, out, recordListen: opts.recordListen ?? true, auto: true,
    listenExtra: new Set(), parsedBefore: new Map(),
  };

  const cmdlineError = parseProcCmdline(ctx);
  if (cmdlineError) log(LOG_WARNING, fmtErr("Failed to parse kernel command line, ignoring: %m", cmdlineError));
  parseCredentials(ctx);
  const addresses = sortDistinct(ctx.listenExtra);

  if (!ctx.auto && addresses.length === 0) {
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

  const u: Units = { ...ctx, sshdBinary: sshd, foundSshdTemplateUnit: found, generatedSshdTemplateUnit: null };
  // RET_GATHER(): every step runs; any failure makes the exit status 1.
  const gather = (r: Step): void => {
    if (r) out.exitStatus = 1;
  };
  if (u.form.writeSshAccessTarget) gather(addSshAccessTarget(u));
  gather(addExtraSockets(u, addresses));
  if (ctx.auto) {
    gather(addVsockSocket(u));
    gather(addLocalUnixSocket(u));
    gather(addExportUnixSocket(u));
  }
  return out;
}

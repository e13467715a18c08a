// machine/NAME (or machine%NAME): ask systemd-machined what NAME is, then connect to it.
//
// As in systemd 262's ssh-proxy (process_machine()/fetch_machine()): call io.systemd.Machine.List with
// {"name": NAME} on the user scope's machined ($XDG_RUNTIME_DIR/systemd/machine/io.systemd.Machine)
// and, only when that one answers io.systemd.Machine.NoSuchMachine, on the system's
// (/run/systemd/machine/io.systemd.Machine). Then:
//   class "container" registered by systemd-nspawn: its sshd socket, which nspawn exports to the host at
//     <scope's runtime dir>/systemd/nspawn/NAME/unix-export/ssh;
//   class "vm": AF_VSOCK to the machine's vSockCid;
//   anything else: refused with systemd's message.
// Every message is systemd 262's, word for word, except in the two places where 262 fails silently (exit
// status 1, nothing printed): $XDG_RUNTIME_DIR unset or not absolute, and NAME unknown to both machined
// instances. There we print one line saying so.
//
// The system runtime directory (/run) can be moved with $SYSTEMD_SSH_SYSTEM_RUNTIME_DIR, for tests.

import { statSync } from "node:fs";
import { SysError, strerror } from "../../ffi/errors.ts";
import { Errno as E } from "../../ffi/errno.ts";
import { VMADDR_CID_ANY } from "../../ffi/sockaddr.ts";
import { log } from "../shared/log.ts";
import { VarlinkConnection } from "../varlink/client.ts";
import { varlinkErrorToErrno } from "../varlink/errors.ts";
import { JsonNumber, type JsonObject } from "../varlink/json.ts";
import { Failure, withCause } from "../shared/failure.ts";
import type { ListedMachine, MachineListing, MachineTarget, RuntimeScope } from "./core.ts";

/** In the order the proxy asks them. */
export const SCOPES: readonly RuntimeScope[] = ["user", "system"];

type Env = Record<string, string | undefined>;

const SYSTEM_RUNTIME_DIR_ENV = "SYSTEMD_SSH_SYSTEM_RUNTIME_DIR";
const MACHINED_SOCKET = "systemd/machine/io.systemd.Machine";
const NO_SUCH_MACHINE = "io.systemd.Machine.NoSuchMachine";
const LIST = "io.systemd.Machine.List";

/** The scope's runtime directory cannot be determined (the user scope without a usable $XDG_RUNTIME_DIR). */
class NoRuntimeDirectory extends Failure {
  constructor(readonly reason: string) {
    super(reason, "ENXIO");
  }
}

/** systemd's runtime_directory_generic(): /run/SUFFIX for the system, $XDG_RUNTIME_DIR/SUFFIX for the user. */
function runtimeDirectory(scope: RuntimeScope, suffix: string, env: Env): string {
  if (scope === "system") {
    const override = env[SYSTEM_RUNTIME_DIR_ENV];
    const base = override?.startsWith("/") ? override : "/run";
    return joinPath(base, suffix);
  }
  const xdg = env.XDG_RUNTIME_DIR;
  if (!xdg) throw new NoRuntimeDirectory("$XDG_RUNTIME_DIR is not set");
  if (!xdg.startsWith("/")) throw new NoRuntimeDirectory(`$XDG_RUNTIME_DIR is not an absolute path: ${xdg}`);
  return joinPath(xdg, suffix);
}

function joinPath(a: string, b: string): string {
  return `${a.replace(/\/+$/, "")}/${b.replace(/^\/+/, "")}`;
}

function machinedAddress(scope: RuntimeScope, env: Env): string {
  return runtimeDirectory(scope, MACHINED_SOCKET, env);
}

/** sd_varlink_error_to_errno() applied the way ssh-proxy prints it: strerror, or the error's name. */
function varlinkCallFailure(error: string, parameters: JsonObject): string {
  const errno = varlinkErrorToErrno(error, parameters);
  return errno === E.EBADR ? error : strerror(errno);
}

const callFailed = (what: string, code?: string) =>
  new Failure(`Failed to issue ${LIST}() varlink call: ${what}`, code);

/** Connect to the scope's machined. Throws Failure with systemd's message. */
function connectMachined(scope: RuntimeScope, env: Env): VarlinkConnection {
  const address = machinedAddress(scope, env);
  try {
    return VarlinkConnection.connect(address);
  } catch (e) {
    // sd-varlink's own debug line for a connect that failed (not for a socket that could not be made).
    if (e instanceof SysError && e.syscall !== "socket") log.debug(`json-stream: Failed to connect to ${address}: ${e.strerror}`);
    throw withCause(e, `Failed to connect to machined on ${address}`);
  }
}

/**
 * fetch_machine(): the List reply's parameters for NAME in one scope, or null when that machined answers
 * NoSuchMachine. Throws Failure with systemd's message for everything else.
 */
function fetchMachine(name: string, scope: RuntimeScope, env: Env): JsonObject | null {
  const link = connectMachined(scope, env);
  try {
    const reply = link.call(LIST, { name });
    if (reply.error === null) return reply.parameters;
    if (reply.error === NO_SUCH_MACHINE) return null;
    throw callFailed(varlinkCallFailure(reply.error, reply.parameters));
  } catch (e) {
    if (e instanceof SysError) throw callFailed(e.strerror, e.code);
    throw e;
  } finally {
    link.close();
  }
}

/** What ssh-proxy reads from a List reply. */
interface MachineInfo {
  class: string;
  service: string | null;
  /** VMADDR_CID_ANY when the reply has none. */
  vSockCid: number;
}

const parseFailed = (errno: number) => new Failure(`Failed to parse Varlink reply: ${strerror(errno)}`);

/**
 * sd_json_dispatch() of the reply with ssh-proxy's table: "class" (string, mandatory), "service"
 * (string), "vSockCid" (unsigned 32-bit); other fields ignored. Errors as systemd's, in its order: fields
 * in the order they appear (for each: a wrong type or null EINVAL, then a repeated field ENOTUNIQ, then a
 * CID beyond 32 bits ERANGE), then a missing class ENXIO.
 */
function dispatchMachine(parameters: JsonObject): MachineInfo {
  const seen = new Set<string>();
  let klass: string | null = null;
  let service: string | null = null;
  let cid = VMADDR_CID_ANY;
  for (const [key, value] of parameters.entries) {
    if (key !== "class" && key !== "service" && key !== "vSockCid") continue;
    // The type first, then the repetition, then the value.
    const n = key === "vSockCid" && value instanceof JsonNumber ? value.asUnsigned() : null;
    if (key === "vSockCid" ? n === null : typeof value !== "string") throw parseFailed(E.EINVAL);
    if (seen.has(key)) throw parseFailed(E.ENOTUNIQ);
    seen.add(key);
    if (key === "vSockCid") {
      if (n! > 0xffffffffn) throw parseFailed(E.ERANGE);
      cid = Number(n);
    } else if (key === "class") klass = value as string;
    else service = value as string;
  }
  if (klass === null) throw parseFailed(E.ENXIO);
  return { class: klass, service, vSockCid: cid };
}

/** Where ssh-proxy goes for a machine of this description, found in `scope`; Failure when it cannot. */
function machineTarget(name: string, info: MachineInfo, scope: RuntimeScope, env: Env): MachineTarget {
  if (info.class === "container") {
    if (info.service !== "systemd-nspawn") {
      // systemd prints a missing service through printf's "%s", which glibc renders as "(null)".
      throw new Failure(`Don't know how to SSH into '${info.service ?? "(null)"}' container ${name}.`, "EMEDIUMTYPE");
    }
    const dir = runtimeDirectory(scope, "systemd/nspawn", env);
    return { kind: "container", path: joinPath(dir, `${name}/unix-export/ssh`) };
  }
  if (info.class !== "vm") {
    throw new Failure(`Don't know how to SSH into machine ${name} with class '${info.class}'.`, "EMEDIUMTYPE");
  }
  if (info.vSockCid === VMADDR_CID_ANY) throw new Failure(`Machine ${name} has no AF_VSOCK CID assigned.`, "EINVAL");
  return { kind: "vm", cid: info.vSockCid };
}

/** The container's exported sshd socket must exist and be a socket (stat() follows symlinks, as systemd's check does). */
function checkExportSocket(path: string): void {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const errno = Math.abs(Number((e as { errno?: number }).errno ?? 0));
    if (errno > 0) throw new Failure(`Failed to check if '${path}' exists and is a socket: ${strerror(errno)}`, (e as { code?: string }).code);
    throw e;
  }
  if (!st.isSocket()) {
    throw new Failure(
      `'${path}' does not exist or is not a socket, are sshd and systemd-ssh-generator installed and enabled in the container?`,
      "ENOENT",
    );
  }
}

/** Where machine/NAME leads for a List reply found in `scope`: the reply checked, the export socket too. */
function reachMachine(name: string, parameters: JsonObject, scope: RuntimeScope, env: Env): MachineTarget {
  const target = machineTarget(name, dispatchMachine(parameters), scope, env);
  if (target.kind === "container") checkExportSocket(target.path);
  return target;
}

/** The lookup the proxy makes for machine/NAME: the user scope first, then the system's on NoSuchMachine. */
export function lookupMachine(name: string, env: Env = process.env): MachineTarget {
  let scope: RuntimeScope = "user";
  let reply: JsonObject | null;
  try {
    reply = fetchMachine(name, scope, env);
  } catch (e) {
    // systemd 262 exits silently here; we say why.
    if (e instanceof NoRuntimeDirectory) {
      throw new Failure(`Cannot look up machine ${name} with the user's systemd-machined: ${e.reason}.`, e.code);
    }
    throw e;
  }
  if (reply === null) {
    scope = "system";
    reply = fetchMachine(name, scope, env);
  }
  // systemd 262 exits silently here too.
  if (reply === null) {
    throw new Failure(`No machine ${name} is registered with systemd-machined (user or system scope).`, "ESRCH");
  }
  return reachMachine(name, reply, scope, env);
}

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);

/** A List reply's machine with what machine/NAME would do, had it been found in `scope`. */
function listed(parameters: JsonObject, scope: RuntimeScope, env: Env): ListedMachine {
  const name = str(parameters.get("name")) ?? "?";
  const row = { name, class: str(parameters.get("class")) ?? "-", service: str(parameters.get("service")) ?? "-" };
  try {
    return { ...row, target: reachMachine(name, parameters, scope, env), why: null };
  } catch (e) {
    if (!(e instanceof Failure)) throw e;
    return { ...row, target: null, why: e.message };
  }
}

/** Enumerate one scope's machines (List with "more"); NoSuchMachine means none. */
export function listScope(scope: RuntimeScope, env: Env = process.env): MachineListing {
  try {
    const link = connectMachined(scope, env);
    try {
      const machines: ListedMachine[] = [];
      for (const reply of link.callMore(LIST, {})) {
        if (reply.error === NO_SUCH_MACHINE) break;
        if (reply.error !== null) throw callFailed(varlinkCallFailure(reply.error, reply.parameters));
        machines.push(listed(reply.parameters, scope, env));
      }
      return { scope, ok: true, machines };
    } catch (e) {
      if (e instanceof SysError) throw callFailed(e.strerror);
      throw e;
    } finally {
      link.close();
    }
  } catch (e) {
    if (e instanceof NoRuntimeDirectory) return { scope, ok: false, error: `${e.reason}.` };
    if (e instanceof Failure) return { scope, ok: false, error: e.message };
    throw e;
  }
}

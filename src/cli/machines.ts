// `systemd-ssh machines`: the VMs and containers systemd-machined knows, in the user's scope and the
// system's, each with the ssh command that reaches it, or why `ssh machine/NAME` cannot; then the libvirt
// domains that have a vsock CID, on the URIs `ssh qemu/NAME` asks (src/proxy/qemu.ts).
//
// The verdicts are the proxy's own: the same lookup order (a name in the user scope hides the system's
// machine of that name; a user scope that cannot be asked stops the proxy before the system scope), the
// same reply checks, the same export-socket check for containers, and systemd's messages for failures.
// Nothing is connected: a vm is "reachable" when it has a CID and this host has AF_VSOCK.

import { defineCommand } from "citty";
import { basename, dirname, join } from "node:path";
import { existsSync } from "node:fs";
import { SysError } from "../../ffi/errors.ts";
import { vsockSupport } from "../../ffi/vsock.ts";
import { Failure } from "../shared/failure.ts";
import { proxyCommandWord, shellQuote } from "../shared/shell-quote.ts";
import { TOOLS } from "../shared/tool-names.ts";
import {
  checkExportSocket,
  connectMachined,
  dispatchMachine,
  machineTarget,
  NoRuntimeDirectory,
  SCOPES,
  varlinkCallFailure,
  type Env,
  type RuntimeScope,
} from "../proxy/machine.ts";
import { listLibvirt, realLibvirtDeps, type LibvirtListing } from "../proxy/qemu.ts";
import type { JsonObject } from "../varlink/json.ts";

const LIST = "io.systemd.Machine.List";

export type ScopeListing =
  | { scope: RuntimeScope; ok: true; machines: JsonObject[] }
  | { scope: RuntimeScope; ok: false; error: string };

/** Enumerate one scope's machines (List with "more"); NoSuchMachine means none. */
export function listScope(scope: RuntimeScope, env: Env = process.env): ScopeListing {
  try {
    const link = connectMachined(scope, env);
    try {
      const machines: JsonObject[] = [];
      for (const reply of link.callMore(LIST, {})) {
        if (reply.error === "io.systemd.Machine.NoSuchMachine") break;
        if (reply.error !== null) throw new Failure(`Failed to issue ${LIST}() varlink call: ${varlinkCallFailure(reply.error, reply.parameters)}`);
        machines.push(reply.parameters);
      }
      return { scope, ok: true, machines };
    } catch (e) {
      if (e instanceof SysError) throw new Failure(`Failed to issue ${LIST}() varlink call: ${e.strerror}`);
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

export interface MachineRow {
  name: string;
  class: string;
  service: string;
  /** machined's "user"/"system", or libvirt's "system"/"session". */
  scope: string;
  /** The host to give ssh, or null when it cannot reach the machine (see `why`). */
  host: string | null;
  why: string | null;
}

function str(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}

/** Work out, per machine, what `ssh machine/NAME` would do. */
export function machineRows(listings: ScopeListing[], env: Env = process.env, hasVsock = () => vsockSupport().ok): MachineRow[] {
  const rows: MachineRow[] = [];
  const user = listings.find((l) => l.scope === "user");
  const userNames = new Set(user?.ok ? user.machines.map((m) => str(m.get("name"))) : []);
  for (const listing of listings) {
    if (!listing.ok) continue;
    for (const params of listing.machines) {
      const name = str(params.get("name")) ?? "?";
      const row: MachineRow = {
        name,
        class: str(params.get("class")) ?? "-",
        service: str(params.get("service")) ?? "-",
        scope: listing.scope,
        host: null,
        why: null,
      };
      rows.push(row);
      if (listing.scope === "system" && user && !user.ok) {
        row.why = `ssh asks the user's systemd-machined first, which fails: ${user.error}`;
        continue;
      }
      if (listing.scope === "system" && userNames.has(name)) {
        row.why = `machine/${name} is the user's machine of that name`;
        continue;
      }
      try {
        const target = machineTarget(name, dispatchMachine(params), listing.scope, env);
        if (target.kind === "container") checkExportSocket(target.path);
        else if (!hasVsock()) throw new Failure("Failed to allocate AF_VSOCK socket: this host has no AF_VSOCK support");
        row.host = `machine/${name}`;
      } catch (e) {
        if (!(e instanceof Failure)) throw e;
        row.why = e.message;
      }
    }
  }
  return rows;
}

/**
 * Rows for libvirt domains with a CID. Each gets the host that reaches it: qemu/NAME, unless a system
 * domain of that name shadows a session one (qemu/ asks the system URI first): then qemu:session/NAME.
 */
export function libvirtRows(listings: LibvirtListing[], hasVsock = () => vsockSupport().ok): MachineRow[] {
  const rows: MachineRow[] = [];
  const system = listings.find((l) => l.scope === "system");
  const systemNames = new Set(system?.ok ? system.domains.map((d) => d.name) : []);
  for (const l of listings) {
    if (!l.ok) continue;
    for (const d of l.domains) {
      const host = l.scope === "session" && systemNames.has(d.name) ? `qemu:session/${d.name}` : `qemu/${d.name}`;
      const ok = hasVsock();
      rows.push({
        name: d.name,
        class: "vm",
        service: "libvirt",
        scope: l.scope,
        host: ok ? host : null,
        why: ok ? null : "Failed to allocate AF_VSOCK socket: this host has no AF_VSOCK support",
      });
    }
  }
  return rows;
}

/** How to run our proxy, as the start of a ProxyCommand (its words quoted for ssh and the shell). */
export function proxyCommandPath(): string {
  const exe = process.execPath;
  if (basename(exe).startsWith("bun")) return `${proxyCommandWord(exe)} ${proxyCommandWord(Bun.main)} proxy`;
  const sibling = join(dirname(exe), TOOLS.proxy.program);
  return existsSync(sibling) ? proxyCommandWord(sibling) : `${proxyCommandWord(exe)} proxy`;
}

/**
 * How ssh's configuration routes `host` (from `ssh -G`): "proxy" when it already goes through a systemd
 * ssh proxy with fd passing and %h (so machine/NAME is looked up as we would), "fixed" when a ProxyCommand
 * without %h sends it somewhere of its own (systemd's ssh_config does that for machine/.host), else "none".
 */
export type SshRoute = "proxy" | "fixed" | "none";

export function sshRoute(host: string, sshArgs: string[]): SshRoute {
  let out: string;
  try {
    const r = Bun.spawnSync(["ssh", ...sshArgs, "-G", host], { stdin: "ignore", stdout: "pipe", stderr: "ignore" });
    if (r.exitCode !== 0) return "none";
    out = r.stdout.toString();
  } catch {
    return "none";
  }
  const lines = out.split("\n");
  const proxy = lines.find((l) => l.startsWith("proxycommand "))?.slice("proxycommand ".length);
  if (proxy === undefined || proxy === "none") return "none";
  if (!proxy.includes("%h")) return "fixed";
  const fdpass = lines.includes("proxyusefdpass yes");
  return fdpass && /systemd-ssh-proxy|systemd-ssh proxy/.test(proxy) ? "proxy" : "none";
}

export function sshCommand(host: string, sshArgs: string[], configured: boolean): string {
  const opts = configured ? [] : ["-o", `ProxyCommand=${proxyCommandPath()} %h %p`, "-o", "ProxyUseFdpass=yes"];
  return ["ssh", ...sshArgs, ...opts, host].map(shellQuote).join(" ");
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ")).join("\n");
}

/** The listing for a person at a shell. */
export function renderMachines(
  listings: ScopeListing[],
  rows: MachineRow[],
  sshArgs: string[],
  route: (host: string) => SshRoute,
  libvirt: LibvirtListing[] = [],
): string {
  const out: string[] = [];
  const unconfiguredForms = new Set<string>();
  if (rows.length > 0) {
    const body = rows.map((r) => {
      let ssh: string;
      if (r.host === null) {
        // The proxy refuses the host machine itself, but systemd's ssh_config sends machine/.host
        // straight to the local sshd (a ProxyCommand without %h); so may the user's.
        const fixed = r.class === "host" && route(`machine/${r.name}`) === "fixed";
        ssh = fixed ? sshCommand(`machine/${r.name}`, sshArgs, true) : `unreachable: ${r.why}`;
      } else {
        const ok = route(r.host) === "proxy";
        if (!ok) unconfiguredForms.add(r.host.startsWith("qemu") ? "qemu/*" : "machine/*");
        ssh = sshCommand(r.host, sshArgs, ok);
      }
      return [r.name, r.class, r.service, r.scope, ssh];
    });
    out.push(table([["NAME", "CLASS", "SERVICE", "SCOPE", "SSH"], ...body]));
  } else if (listings.some((l) => l.ok)) {
    out.push("No machines registered with systemd-machined.");
  }
  const problems = listings.filter((l) => !l.ok);
  const libvirtProblems = libvirt.filter((l) => !l.ok);
  const unconfigured = unconfiguredForms.size > 0;
  if (out.length > 0 && (problems.length > 0 || libvirtProblems.length > 0 || unconfigured)) out.push("");
  for (const p of problems) if (!p.ok) out.push(`${p.scope} scope: ${p.error}`);
  for (const p of libvirtProblems) if (!p.ok) out.push(`libvirt ${p.uri}: ${p.error}`);
  if (unconfigured) {
    const forms = [...unconfiguredForms].sort().join(" and ");
    out.push(`ssh is not configured to use ${TOOLS.proxy.program} for ${forms} hosts, so the commands above name it with -o.`);
  }
  return `${out.join("\n")}\n`;
}

export default defineCommand({
  meta: {
    name: "machines",
    description:
      "List the VMs and containers systemd-machined knows (user and system scope) and libvirt's domains with a vsock CID, and the ssh command that reaches each",
  },
  args: {
    "ssh-config": {
      type: "string",
      description: "ssh configuration file to check and to name in the commands (ssh -F FILE)",
      valueHint: "FILE",
    },
  },
  async run({ args }) {
    const sshArgs = args["ssh-config"] ? ["-F", String(args["ssh-config"])] : [];
    const listings = SCOPES.map((s) => listScope(s));
    const libvirt = listLibvirt(await realLibvirtDeps()) ?? [];
    const rows = [...machineRows(listings), ...libvirtRows(libvirt)];
    process.stdout.write(renderMachines(listings, rows, sshArgs, (host) => sshRoute(host, sshArgs), libvirt));
    process.exitCode = listings.some((l) => l.ok) || libvirt.some((l) => l.ok) ? 0 : 1;
  },
});

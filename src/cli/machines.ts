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
import { vsockSupport } from "../../ffi/vsock.ts";
import { proxyCommandWord, shellQuote } from "../shared/shell-quote.ts";
import { TOOLS } from "../shared/tool-names.ts";
import type { LibvirtListing, MachineListing } from "../proxy/core.ts";
import { listLibvirtDomains, listMachines } from "../proxy/effects.ts";

interface MachineRow {
  name: string;
  class: string;
  service: string;
  /** machined's "user"/"system", or libvirt's "system"/"session". */
  scope: string;
  /** The host to give ssh, or null when it cannot reach the machine (see `why`). */
  host: string | null;
  why: string | null;
}

const NO_VSOCK = "Failed to allocate AF_VSOCK socket: this host has no AF_VSOCK support";

/** Work out, per machine, what `ssh machine/NAME` would do: the proxy's verdict, then the lookup order's. */
function machineRows(listings: MachineListing[], hasVsock = () => vsockSupport().ok): MachineRow[] {
  const rows: MachineRow[] = [];
  const user = listings.find((l) => l.scope === "user");
  const userNames = new Set(user?.ok ? user.machines.map((m) => m.name) : []);
  for (const listing of listings) {
    if (!listing.ok) continue;
    for (const m of listing.machines) {
      const row: MachineRow = { name: m.name, class: m.class, service: m.service, scope: listing.scope, host: null, why: null };
      rows.push(row);
      if (listing.scope === "system" && user && !user.ok) row.why = `ssh asks the user's systemd-machined first, which fails: ${user.error}`;
      else if (listing.scope === "system" && userNames.has(m.name)) row.why = `machine/${m.name} is the user's machine of that name`;
      else if (m.target === null) row.why = m.why;
      else if (m.target.kind === "vm" && !hasVsock()) row.why = NO_VSOCK;
      else row.host = `machine/${m.name}`;
    }
  }
  return rows;
}

/**
 * Rows for libvirt domains with a CID. Each gets the host that reaches it: qemu/NAME, unless a system
 * domain of that name shadows a session one (qemu/ asks the system URI first): then qemu:session/NAME.
 */
function libvirtRows(listings: LibvirtListing[], hasVsock = () => vsockSupport().ok): MachineRow[] {
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
        why: ok ? null : NO_VSOCK,
      });
    }
  }
  return rows;
}

/** How to run our proxy, as the start of a ProxyCommand (its words quoted for ssh and the shell). */
function proxyCommandPath(): string {
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
type SshRoute = "proxy" | "fixed" | "none";

function sshRoute(host: string, sshArgs: string[]): SshRoute {
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

function sshCommand(host: string, sshArgs: string[], configured: boolean): string {
  const opts = configured ? [] : ["-o", `ProxyCommand=${proxyCommandPath()} %h %p`, "-o", "ProxyUseFdpass=yes"];
  return ["ssh", ...sshArgs, ...opts, host].map(shellQuote).join(" ");
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ")).join("\n");
}

/** The listing for a person at a shell. */
function renderMachines(
  listings: MachineListing[],
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
    const listings = await listMachines();
    const libvirt = (await listLibvirtDomains()) ?? [];
    const rows = [...machineRows(listings), ...libvirtRows(libvirt)];
    process.stdout.write(renderMachines(listings, rows, sshArgs, (host) => sshRoute(host, sshArgs), libvirt));
    process.exitCode = listings.some((l) => l.ok) || libvirt.some((l) => l.ok) ? 0 : 1;
  },
});

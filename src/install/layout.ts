// What `systemd-ssh install` puts where, as pure data: the binary and its argv[0] links where systemd keeps
// its own ssh tools, the ssh_config drop-in, ssh-access.target and the tmpfiles.d entry, all with the
// content systemd 262 ships (read from Debian's systemd 262.1-1), so that the generator, the socket units
// it writes and ssh itself find everything where systemd would have put it.
//
// Paths here are paths on the target system. `root` (image builders: the image's tree) is prepended only
// when writing; `prefix` (default /usr) and `sysconfdir` (default /etc) say where on the target system.

import { proxyCommandWord } from "../shared/shell-quote.ts";
import { SSH_ACCESS_TARGET_FILE } from "../shared/ssh-access-target.ts";
import { COMMAND, TOOLS } from "../shared/tool-names.ts";
import { MAN_PAGES } from "./man-pages.ts";

export interface Layout {
  prefix: string;
  sysconfdir: string;
}

/**
 * `systemdOwn`: systemd 256+ ships a file at this path itself. When the target system has systemd's own ssh
 * tools (see plan()), such a file that is already there is kept, not replaced. The Debian package never
 * ships these paths (dpkg would report a file conflict the day systemd's package brings them): its
 * maintainer scripts create them with `install --package` where no package has them (docs/install.md).
 * Every other entry is a file of the Debian package, so an entry added here lands in the .deb too.
 * `conffile`: a configuration file under sysconfdir that an admin may edit (a dpkg conffile in the .deb).
 */
export type Entry =
  | {
      kind: "file";
      path: string;
      mode: number;
      /** Content, or null for the binary (copied from a file). */
      content: string | Uint8Array | null;
      what: string;
      systemdOwn?: boolean;
      conffile?: boolean;
    }
  | { kind: "link"; path: string; target: string; what: string; systemdOwn?: boolean };

export const DEFAULT_LAYOUT: Layout = { prefix: "/usr", sysconfdir: "/etc" };

const DROPIN_NAME = "20-systemd-ssh-proxy.conf";
/** Sorts just before systemd's drop-in, which no longer matters for the hosts both name. */
const OWN_DROPIN_NAME = "19-systemd-ssh.conf";
const LATE_VSOCK_RULE_NAME = "70-systemd-ssh-vsock.rules";
const LATE_VSOCK_SERVICE = "systemd-ssh-vsock-late.service";
/** The kernel's driver names of the AF_VSOCK transports (virtio, VMware VMCI, Hyper-V), as systemd's 80-vsock.hwdb lists them. */
const VSOCK_TRANSPORT_DRIVERS = ["vmw_vsock_virtio_transport", "vmw_vsock_vmci_transport", "hv_sock"];

export function paths(l: Layout) {
  const lib = `${l.prefix}/lib/systemd`;
  return {
    binary: `${lib}/${COMMAND.program}`,
    /** The `systemd-ssh` command on PATH. */
    command: `${l.prefix}/bin/${COMMAND.program}`,
    proxy: `${lib}/${TOOLS.proxy.program}`,
    issue: `${lib}/${TOOLS.issue.program}`,
    generator: `${lib}/system-generators/${TOOLS.generator.program}`,
    /** Where our generator goes when systemd ships its own (a same-named generator in /etc wins). */
    generatorOverride: `${l.sysconfdir}/systemd/system-generators/${TOOLS.generator.program}`,
    dropin: `${lib}/ssh_config.d/${DROPIN_NAME}`,
    dropinLink: `${l.sysconfdir}/ssh/ssh_config.d/${DROPIN_NAME}`,
    /** Ours, read before systemd's (ssh takes the first value it finds): our proxy even on systemd 256+. */
    ownDropin: `${l.sysconfdir}/ssh/ssh_config.d/${OWN_DROPIN_NAME}`,
    man: `${l.prefix}/share/man`,
    target: `${lib}/system/ssh-access.target`,
    tmpfiles: `${l.prefix}/lib/tmpfiles.d/20-systemd-ssh-generator.conf`,
    lateVsockRule: `${l.prefix}/lib/udev/rules.d/${LATE_VSOCK_RULE_NAME}`,
    lateVsockService: `${lib}/system/${LATE_VSOCK_SERVICE}`,
    manifest: `${lib}/systemd-ssh.manifest`,
  };
}

/**
 * systemd 262's 20-systemd-ssh-proxy.conf, pointing at our proxy, with one deliberate change: the second
 * block passes %n (the host as typed) instead of %h, which OpenSSH lowercases, so that
 * `ssh unix/run/MyVM/sock` reaches the socket it names. Then one block of our own, for libvirt's domains
 * (qemu/NAME): the settings of libvirt's 30-libvirt-ssh-proxy.conf (no `User root`, host keys checked:
 * these are long-lived VMs), with %n for the same reason (libvirt's domain names are case-sensitive), and
 * qemu%* for scp and rsync. Why ours may take these names before libvirt's drop-in: docs/install.md.
 */
export function sshConfigDropin(proxyPath: string, subcommand = ""): string {
  // Quoted only when the install prefix needs it; systemd's own path never does.
  const proxy = proxyCommandWord(proxyPath) + (subcommand ? ` ${subcommand}` : "");
  const header = subcommand
    ? `# systemd-ssh's own drop-in. It is read before systemd's ${DROPIN_NAME} (ssh uses the first
# value it finds), so these hosts go through systemd-ssh's proxy even where systemd 256+ ships its own:
# relay mode for clients that cannot take a descriptor, --wait (SYSTEMD_SSH_PROXY_WAIT=SECONDS), and
# the host name passed as typed (%n). Remove this file to let systemd's drop-in take over.`
    : `# Installed by systemd-ssh: systemd 262's ssh_config drop-in, except that the host name is passed to
# the proxy as typed (%n), since OpenSSH lowercases %h and AF_UNIX socket paths are case-sensitive.`;
  return `# SPDX-License-Identifier: LGPL-2.1-or-later
#
${header}
#
# Allow connecting to the local host directly via ".host"
Host .host machine/.host
        ProxyCommand ${proxy} unix/run/ssh-unix-local/socket %p
        ProxyUseFdpass yes
        CheckHostIP no

# Make sure unix/* and vsock/* can be used to connect to AF_UNIX and AF_VSOCK paths.
# Make sure machine/* can be used to connect to local machines registered in machined.
#
Host unix/* unix%* vsock/* vsock%* vsock-mux/* vsock-mux%* machine/* machine%*
        User root
        ProxyCommand ${proxy} %n %p
        ProxyUseFdpass yes
        CheckHostIP no

        # Disable all kinds of host identity checks, since these addresses are generally ephemeral.
        StrictHostKeyChecking no
        UserKnownHostsFile /dev/null
${qemuBlock(proxy)}`;
}

/** Our block for libvirt's domains, after systemd's text (proxy already quoted). */
function qemuBlock(proxy: string): string {
  return `
# Added by systemd-ssh: qemu/NAME reaches the libvirt domain NAME over AF_VSOCK (qemu:system/NAME and
# qemu:session/NAME pick the connection; qemu%NAME is for scp and rsync), with the settings of libvirt's
# own 30-libvirt-ssh-proxy.conf.
Host qemu/* qemu%* qemu:system/* qemu:session/*
        ProxyCommand ${proxy} %n %p
        ProxyUseFdpass yes
        CheckHostIP no
`;
}

/** systemd 262's ssh-access.target, verbatim (one text with the generator's, in src/shared/ssh-access-target.ts). */
const SSH_ACCESS_TARGET = SSH_ACCESS_TARGET_FILE;

/**
 * systemd 262's tmpfiles.d/20-systemd-ssh-generator.conf, for systemd 249-255: the same two lines, but "L"
 * instead of "L$" (the "$" modifier, for --purge, is from systemd 256; older tmpfiles reject the line).
 * The link keeps /etc/ssh/ssh_config.d pointing at the drop-in on systems that rebuild /etc; /run/sshd
 * is the privilege-separation directory the per-connection sshd needs.
 */
function tmpfilesConf(dropin: string, dropinLink: string): string {
  return `#  This file is part of systemd-ssh (systemd 262's 20-systemd-ssh-generator.conf, for older tmpfiles).
#
# See tmpfiles.d(5) for details.

L ${dropinLink} - - - - ${dropin}
d /run/sshd 0755
`;
}

/**
 * A vsock transport that loads after the generators ran. Debian's initramfs (initramfs-tools, MODULES=most)
 * has no vsock transport and systemd 252's PID 1 loads none, so udev loads it during coldplug, after the
 * generators (docs/vm.md has the guest's timestamps). The generator's own AF_VSOCK probe loads the vsock core,
 * /dev/vsock answers VMADDR_CID_ANY and the socket is written anyway (the 249-257 behaviour we keep), but a
 * socket started before the transport writes an issue hint without the CID, and a generator that found no
 * AF_VSOCK at all wrote no socket. This rule fires when a transport's driver registers (ACTION add, SUBSYSTEM
 * drivers; coldplug replays it for one loaded earlier, hotplug for a device added later) and pulls in the
 * service below through the driver's device unit.
 */
function lateVsockRule(service: string): string {
  return `# Installed by systemd-ssh: when an AF_VSOCK transport driver appears, possibly after the generators
# ran, make sure sshd listens on AF_VSOCK and the issue hint names this VM's CID (${service}).
ACTION=="add", SUBSYSTEM=="drivers", KERNEL=="${VSOCK_TRANSPORT_DRIVERS.join("|")}", TAG+="systemd", ENV{SYSTEMD_WANTS}+="${service}"
`;
}

/**
 * The service the rule pulls in. No sshd-vsock.socket generated: a daemon-reload runs the generators again,
 * which now see the transport. Then the socket, if there is one now, is started (a no-op when it runs), and
 * when its unit has the issue hook (systemd 252-form and 258+-form units; 257's have none) the hint is written
 * again, now with the CID. systemd.ssh_auto=0, or no sshd: no socket, nothing to start.
 */
function lateVsockService(issueTool: string): string {
  const socket = "/run/systemd/generator/sshd-vsock.socket";
  return `# Installed by systemd-ssh (see ${LATE_VSOCK_RULE_NAME}).
[Unit]
Description=SSH over AF_VSOCK for a vsock transport that loaded late
Documentation=man:systemd-ssh-generator(8)

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'test -e ${socket} || systemctl daemon-reload'
ExecStart=/bin/sh -c 'test -e ${socket} || exit 0; systemctl start sshd-vsock.socket || exit; grep -q "systemd-ssh-issue make-vsock" ${socket} || exit 0; exec ${issueTool} make-vsock'
`;
}

/**
 * The entries of an install, in the order they are written (and removed in reverse).
 *
 * `alongsideSystemd`: the target's systemd (256+) ships its own ssh generator, proxy, drop-in, unit and
 * tmpfiles.d entry. Then our generator goes to /etc/systemd/system-generators/, where a generator overrides
 * the same-named one in /usr/lib (systemd.generator(7)), and systemd's own files stay as they are (core.ts
 * keeps any `systemdOwn` entry that is already there): replacing them in /usr would fight the package
 * manager, which owns them and puts them back on every systemd update.
 */
export function plan(l: Layout, opts: { alongsideSystemd?: boolean } = {}): Entry[] {
  const p = paths(l);
  const generator: Entry = opts.alongsideSystemd
    ? { kind: "link", path: p.generatorOverride, target: p.binary, what: "generator, overriding systemd's own" }
    : { kind: "link", path: p.generator, target: `../${COMMAND.program}`, what: "generator", systemdOwn: true };
  return [
    { kind: "file", path: p.binary, mode: 0o755, content: null, what: "binary" },
    { kind: "link", path: p.command, target: `../lib/systemd/${COMMAND.program}`, what: "command" },
    { kind: "link", path: p.proxy, target: COMMAND.program, what: "ssh ProxyCommand", systemdOwn: true },
    { kind: "link", path: p.issue, target: COMMAND.program, what: "issue tool", systemdOwn: true },
    generator,
    { kind: "file", path: p.dropin, mode: 0o644, content: sshConfigDropin(p.proxy), what: "ssh_config drop-in", systemdOwn: true },
    { kind: "link", path: p.dropinLink, target: p.dropin, what: "ssh_config drop-in link", systemdOwn: true },
    { kind: "file", path: p.target, mode: 0o644, content: SSH_ACCESS_TARGET, what: "unit", systemdOwn: true },
    { kind: "file", path: p.tmpfiles, mode: 0o644, content: tmpfilesConf(p.dropin, p.dropinLink), what: "tmpfiles.d entry", systemdOwn: true },
    // Ours on every systemd version: 256-261 have the late-transport problem too, and on 262, whose PID 1
    // loads the transport before the generators, the service only finds the socket running and the hint right.
    { kind: "file", path: p.lateVsockService, mode: 0o644, content: lateVsockService(p.issue), what: "unit for a late vsock transport" },
    { kind: "file", path: p.lateVsockRule, mode: 0o644, content: lateVsockRule(LATE_VSOCK_SERVICE), what: "udev rule for a late vsock transport" },
    { kind: "file", path: p.ownDropin, mode: 0o644, content: sshConfigDropin(p.binary, "proxy"), what: "ssh_config drop-in, read before systemd's", conffile: true },
    ...MAN_PAGES.map(
      (m): Entry => ({ kind: "file", path: `${p.man}/man${m.section}/${m.name}.${m.section}.gz`, mode: 0o644, content: m.gz(), what: "man page", systemdOwn: m.systemdOwn }),
    ),
  ];
}

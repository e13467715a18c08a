// `systemd-ssh machines` against fake machined instances in both scopes; the commands it prints are run.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { vsockSupport } from "../../ffi/vsock.ts";
import { proxyCommandWord, shellQuote } from "../../src/shared/shell-quote.ts";
import { startFakeMachined, type FakeMachined } from "../helpers/fake-machined.ts";
import { runCommand, startSshd, type TestSshd } from "../helpers/sshd.ts";
import { HAVE_LIBVIRT, requireOrSkip, writeNode } from "../helpers/libvirt.ts";
import { BINARY, DIST, removeDir, tempDir } from "../helpers/tmp.ts";
import { SESSION_URI_ENV, SYSTEM_URI_ENV } from "../../src/proxy/qemu.ts";

/** Without libvirt the listing has no libvirt part (with CI=true, libvirt must be there). */
const withLibvirt = requireOrSkip(HAVE_LIBVIRT, "libvirt (libvirt0, libvirt-clients)");

const nspawn = (name: string) => ({ name, class: "container", service: "systemd-nspawn" });

describe("systemd-ssh machines", () => {
  let root: string;
  let user: FakeMachined;
  let system: FakeMachined;
  let box: TestSshd;
  let env: Record<string, string>;
  let emptyLibvirt: string;
  let withProxy: string;
  let withoutProxy: string;

  beforeAll(async () => {
    if (!existsSync(BINARY)) throw new Error(`${BINARY} missing: run scripts/build`);
    root = tempDir("machines");
    const userRuntime = join(root, "user");
    const systemRuntime = join(root, "run");
    user = startFakeMachined(join(userRuntime, "systemd/machine/io.systemd.Machine"), [
      nspawn("ubox"),
      { name: "uvm", class: "vm", service: "systemd-vmspawn", vSockCid: 42 },
      { name: "lxc1", class: "container", service: "lxc" },
      nspawn("shared"),
    ]);
    system = startFakeMachined(join(systemRuntime, "systemd/machine/io.systemd.Machine"), [
      nspawn("sbox"),
      { name: "svm", class: "vm", service: "systemd-vmspawn" },
      { name: "shared", class: "host" },
      { name: ".host", class: "host" },
    ]);
    const exportDir = join(userRuntime, "systemd/nspawn/ubox/unix-export");
    mkdirSync(exportDir, { recursive: true });
    box = await startSshd({ socket: join(exportDir, "ssh") });
    withProxy = box.sshConfig();
    // The same configuration without a ProxyCommand: the listing must then pass one with -o.
    withoutProxy = join(box.dir, "ssh_config_plain");
    writeFileSync(withoutProxy, readFileSync(withProxy, "utf8").replace(/^\s*Proxy.*\n/gm, ""));
    // libvirt's test driver stands in for qemu:///system (a domain with a CID, one without a vsock) and
    // qemu:///session (none), so the listing does not depend on the daemons this machine may have.
    const libvirtSystem = writeNode(root, "libvirt-system.xml", [
      { name: "lvm", vsock: "<cid auto='no' address='42'/>" },
      { name: "lnovsock" },
    ]);
    emptyLibvirt = writeNode(root, "libvirt-empty.xml", []);
    env = {
      ...process.env,
      XDG_RUNTIME_DIR: userRuntime,
      SYSTEMD_SSH_SYSTEM_RUNTIME_DIR: systemRuntime,
      [SYSTEM_URI_ENV]: libvirtSystem,
      [SESSION_URI_ENV]: emptyLibvirt,
    } as Record<string, string>;
  });

  afterAll(async () => {
    user?.stop();
    system?.stop();
    await box?.stop();
    if (root) removeDir(root);
  });

  const vmVerdict = () =>
    vsockSupport().ok ? null : "unreachable: Failed to allocate AF_VSOCK socket: this host has no AF_VSOCK support";

  test("lists both scopes with the ssh command for each, or why there is none", async () => {
    const r = await runCommand([BINARY, "machines", "--ssh-config", withProxy], { env });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const cmd = (name: string) => `ssh -F ${withProxy} machine/${name}`;
    const u = env.XDG_RUNTIME_DIR;
    const s = env.SYSTEMD_SSH_SYSTEM_RUNTIME_DIR;
    const rows = [
      ["NAME", "CLASS", "SERVICE", "SCOPE", "SSH"],
      ["ubox", "container", "systemd-nspawn", "user", cmd("ubox")],
      ["uvm", "vm", "systemd-vmspawn", "user", vmVerdict() ?? cmd("uvm")],
      ["lxc1", "container", "lxc", "user", "unreachable: Don't know how to SSH into 'lxc' container lxc1."],
      ["shared", "container", "systemd-nspawn", "user",
        `unreachable: Failed to check if '${u}/systemd/nspawn/shared/unix-export/ssh' exists and is a socket: No such file or directory`],
      ["sbox", "container", "systemd-nspawn", "system",
        `unreachable: Failed to check if '${s}/systemd/nspawn/sbox/unix-export/ssh' exists and is a socket: No such file or directory`],
      ["svm", "vm", "systemd-vmspawn", "system", "unreachable: Machine svm has no AF_VSOCK CID assigned."],
      ["shared", "host", "-", "system", "unreachable: machine/shared is the user's machine of that name"],
      [".host", "host", "-", "system", "unreachable: Don't know how to SSH into machine .host with class 'host'."],
      // libvirt: only the domain with a CID.
      ...(withLibvirt ? [["lvm", "vm", "libvirt", "system", vmVerdict() ?? `ssh -F ${withProxy} qemu/lvm`]] : []),
    ];
    const widths = [6, 9, 15, 6];
    const expected = rows.map((row) => row.map((c, i) => (i < 4 ? c.padEnd(widths[i]!) : c)).join("  ")).join("\n");
    expect(r.stdout).toBe(`${expected}\n`);
    expect(user.calls.at(-1)?.raw).toBe('{"method":"io.systemd.Machine.List","parameters":{},"more":true}');
    expect(system.calls.at(-1)?.raw).toBe('{"method":"io.systemd.Machine.List","parameters":{},"more":true}');
  });

  test("the printed command logs in (ssh configured for machine/*)", async () => {
    const r = await runCommand([BINARY, "machines", "--ssh-config", withProxy], { env });
    const line = r.stdout.split("\n").find((l) => l.startsWith("ubox "))!;
    const command = line.slice(line.indexOf("ssh "));
    const login = await runCommand(["sh", "-c", `${command} echo logged in`], { env });
    expect(login.stderr).toBe("");
    expect(login.stdout).toBe("logged in\n");
  });

  test("without a ProxyCommand in the ssh config, the command names the proxy itself, and works", async () => {
    const r = await runCommand([BINARY, "machines", "--ssh-config", withoutProxy], { env });
    const line = r.stdout.split("\n").find((l) => l.startsWith("ubox "))!;
    const command = line.slice(line.indexOf("ssh "));
    expect(command).toBe(
      // (The login below is what shows the quoting right, for a checkout path with spaces too.)
      `ssh -F ${withoutProxy} -o ${shellQuote(`ProxyCommand=${proxyCommandWord(join(DIST, "systemd-ssh-proxy"))} %h %p`)} -o ProxyUseFdpass=yes machine/ubox`,
    );
    const forms = withLibvirt ? "machine/* and qemu/*" : "machine/*";
    expect(r.stdout).toEndWith(`\nssh is not configured to use systemd-ssh-proxy for ${forms} hosts, so the commands above name it with -o.\n`);
    const login = await runCommand(["sh", "-c", `${command} echo logged in`], { env });
    expect(login.stdout).toBe("logged in\n");
  });

  test("machine/.host: reachable when the ssh config routes it to the local sshd, as systemd's ssh_config does", async () => {
    // systemd 262's ssh_config.d has a "Host .host machine/.host" block with a fixed ProxyCommand (no %h).
    const hostConfig = join(box.dir, "ssh_config_host");
    writeFileSync(
      hostConfig,
      `Host machine/.host\n  ProxyCommand ${proxyCommandWord(join(DIST, "systemd-ssh-proxy"))} unix${box.socket} %p\n  ProxyUseFdpass yes\n\n` +
        readFileSync(withProxy, "utf8"),
    );
    const r = await runCommand([BINARY, "machines", "--ssh-config", hostConfig], { env });
    const line = r.stdout.split("\n").find((l) => l.startsWith(".host "))!;
    const command = line.slice(line.indexOf("ssh "));
    expect(command).toBe(`ssh -F ${hostConfig} machine/.host`);
    const login = await runCommand(["sh", "-c", `${command} echo logged in`], { env });
    expect(login.stdout).toBe("logged in\n");
  });

  test("an unreachable user scope makes the system's machines unreachable too, as in the proxy", async () => {
    const r = await runCommand([BINARY, "machines"], { env: { ...env, XDG_RUNTIME_DIR: join(root, "nowhere"), [SYSTEM_URI_ENV]: emptyLibvirt } });
    expect(r.code).toBe(0);
    const why = `Failed to connect to machined on ${join(root, "nowhere")}/systemd/machine/io.systemd.Machine: No such file or directory`;
    expect(r.stdout).toContain(`unreachable: ssh asks the user's systemd-machined first, which fails: ${why}\n`);
    expect(r.stdout).toEndWith(`\nuser scope: ${why}\n`);
  });

  test("no machined anywhere and no libvirt daemon: says so, exit 1", async () => {
    const sock = join(root, "nowhere.sock");
    const noDaemon = `qemu+unix:///system?socket=${sock}`;
    const r = await runCommand([BINARY, "machines"], {
      env: { ...env, XDG_RUNTIME_DIR: "", SYSTEMD_SSH_SYSTEM_RUNTIME_DIR: join(root, "nowhere"), [SYSTEM_URI_ENV]: noDaemon, [SESSION_URI_ENV]: noDaemon },
    });
    expect(r.code).toBe(1);
    const libvirtLine = `libvirt ${noDaemon}: cannot connect: Failed to connect socket to '${sock}': No such file or directory\n`;
    expect(r.stdout).toBe(
      "user scope: $XDG_RUNTIME_DIR is not set.\n" +
        `system scope: Failed to connect to machined on ${join(root, "nowhere")}/systemd/machine/io.systemd.Machine: No such file or directory\n` +
        // As root, qemu/ never asks the session URI, so neither does the listing.
        (!withLibvirt ? "" : process.geteuid?.() === 0 ? libvirtLine : libvirtLine + libvirtLine),
    );
  });

  test("machined with no machines", async () => {
    const empty = startFakeMachined(join(root, "empty/systemd/machine/io.systemd.Machine"), []);
    try {
      const r = await runCommand([BINARY, "machines"], {
        env: { ...env, XDG_RUNTIME_DIR: join(root, "empty"), SYSTEMD_SSH_SYSTEM_RUNTIME_DIR: join(root, "empty"), [SYSTEM_URI_ENV]: emptyLibvirt },
      });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe("No machines registered with systemd-machined.\n");
    } finally {
      empty.stop();
    }
  });
});

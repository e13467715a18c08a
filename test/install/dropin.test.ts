// The files install writes that systemd 262 ships too, compared with 262's (ssh-access.target, tmpfiles.d,
// the ssh_config drop-in), and the installed drop-in as the real ssh client reads it, up to a real login over
// AF_UNIX. Installs go to temporary trees (--root, or --prefix/--sysconfdir in a temp dir).

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sshConfigDropin } from "../../src/install/layout.ts";
import { ensureBuilt } from "../helpers/build.ts";
import { requireReference } from "../helpers/reference.ts";
import { runSync } from "../helpers/spawn.ts";
import { runCommand, startSshd, type TestSshd } from "../helpers/sshd.ts";
import { BINARY, removeDir, tempDir } from "../helpers/tmp.ts";

const ref = requireReference("262");
// Each install copies and fsyncs the 107 MiB binary: seconds on a busy machine, past bun's 5 s default.
setDefaultTimeout(60000);

const cli = (args: string[]) => runSync([BINARY, ...args], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin" }, timeoutMs: 20000 });

beforeAll(async () => {
  await ensureBuilt();
});

describe.skipIf(!ref)("the drop-in is systemd 262's", () => {
  test("same text apart from the proxy path, %n, our header, and our qemu/ block after it", () => {
    const theirs = readFileSync(join(ref!.dir, "usr/lib/systemd/ssh_config.d/20-systemd-ssh-proxy.conf"), "utf8");
    const ours = sshConfigDropin("/usr/lib/systemd/systemd-ssh-proxy");
    const body = (s: string) => s.slice(s.indexOf("# Allow connecting"));
    const systemds = body(theirs).replace("systemd-ssh-proxy %h %p", "systemd-ssh-proxy %n %p");
    expect(body(ours).startsWith(systemds)).toBe(true);
    expect(body(ours).slice(systemds.length)).toStartWith("\n# Added by systemd-ssh: qemu/NAME");
  });
  test("ssh-access.target is byte for byte 262's; tmpfiles.d is 262's with L for L$", async () => {
    const root = tempDir("install-cmp");
    try {
      expect(cli(["install", "--root", root, "--binary", BINARY]).status).toBe(0);
      const target = "usr/lib/systemd/system/ssh-access.target";
      expect(readFileSync(join(root, target), "utf8")).toBe(readFileSync(join(ref!.dir, target), "utf8"));
      const lines = (s: string) => s.split("\n").filter((l) => l && !l.startsWith("#"));
      const tmp = "usr/lib/tmpfiles.d/20-systemd-ssh-generator.conf";
      expect(lines(readFileSync(join(root, tmp), "utf8"))).toEqual(lines(readFileSync(join(ref!.dir, tmp), "utf8").replace(/^L\$ /m, "L ")));
      // Debian's /etc link is the same link.
      const link = "etc/ssh/ssh_config.d/20-systemd-ssh-proxy.conf";
      expect(readlinkSync(join(root, link))).toBe(readlinkSync(join(ref!.dir, link)));
    } finally {
      removeDir(root);
    }
  });
});

describe("the drop-in's qemu/ block, as the real ssh client reads it", () => {
  const proxy = "/usr/lib/systemd/systemd-ssh-proxy";
  function settings(host: string, text = sshConfigDropin(proxy)): Record<string, string> {
    const dir = tempDir("dropin-qemu");
    try {
      const cfg = join(dir, "ssh_config");
      writeFileSync(cfg, text);
      const r = Bun.spawnSync(["ssh", "-F", cfg, "-G", host], { stderr: "pipe" });
      expect(r.exitCode).toBe(0);
      return Object.fromEntries(r.stdout.toString().trim().split("\n").map((l) => [l.slice(0, l.indexOf(" ")), l.slice(l.indexOf(" ") + 1)]));
    } finally {
      removeDir(dir);
    }
  }
  test.each(["qemu/MyVM", "qemu%MyVM", "qemu:system/MyVM", "qemu:session/MyVM"])("%s goes to our proxy (%n), with libvirt's settings", (host) => {
    const s = settings(host);
    // (ssh -G shows the ProxyCommand unexpanded; %n is the host as typed, not lowercased like %h.)
    expect(s.proxycommand).toBe(`${proxy} %n %p`);
    expect(s.proxyusefdpass).toBe("yes");
    expect(s.checkhostip).toBe("no");
    // Not systemd's block: long-lived VMs keep ssh's defaults for the login name and host key checks.
    const defaults = settings(host, "");
    for (const k of ["user", "stricthostkeychecking", "userknownhostsfile"]) expect([k, s[k]]).toEqual([k, defaults[k]]);
  });
  test("other qemu-ish names are not ours", () => {
    expect(settings("qemux/vm").proxycommand).toBeUndefined();
  });
});

describe("the installed drop-in with the real ssh client", () => {
  let base: string;
  let prefix: string;
  let config: string;
  beforeAll(async () => {
    base = tempDir("install-ssh");
    prefix = join(base, "usr");
    // --prefix and --sysconfdir in the temp dir: the ProxyCommand points at the proxy installed there.
    const r = cli(["install", "--prefix", prefix, "--sysconfdir", join(base, "etc"), "--binary", BINARY]);
    expect(r.status).toBe(0);
    expect(existsSync(join(prefix, "lib/systemd/systemd-ssh.manifest"))).toBe(true);
    config = join(base, "ssh_config");
    // Include in a -F file resolves relative paths against ~/.ssh: give it an absolute one.
    writeFileSync(config, `Include ${base}/etc/ssh/ssh_config.d/*.conf\n`);
  });
  afterAll(() => removeDir(base));

  const proxyOf = async (host: string) => {
    const r = await runCommand(["ssh", "-F", config, "-G", host]);
    expect(r.code).toBe(0);
    return r.stdout.split("\n").find((l) => l.startsWith("proxycommand ")) ?? null;
  };

  test("ssh -G: unix/, vsock%, .host, machine/ get the installed proxy", async () => {
    // Our own drop-in (19-) is read before systemd's name (20-): `systemd-ssh proxy`, a path of ours.
    const proxy = `${prefix}/lib/systemd/systemd-ssh proxy`;
    for (const h of ["unix/x", "vsock%3", "vsock/3", "vsock-mux/run/x", "machine/foo", "unix/run/MyVM/sock"]) {
      expect(await proxyOf(h)).toBe(`proxycommand ${proxy} %n %p`);
    }
    expect(await proxyOf(".host")).toBe(`proxycommand ${proxy} unix/run/ssh-unix-local/socket %p`);
    expect(await proxyOf("example.org")).toBeNull();
  });

  describe("a real login over AF_UNIX", () => {
    let sshd: TestSshd;
    let socket: string;
    beforeAll(async () => {
      const dir = tempDir("install-sshd");
      mkdirSync(join(dir, "MyVM"));
      socket = join(dir, "MyVM", "SSH.Sock"); // capitals: OpenSSH's %h would lowercase them
      sshd = await startSshd({ dir, socket });
    });
    afterAll(async () => {
      await sshd?.stop();
    });

    const login = (cfg: string) =>
      runCommand(
        ["ssh", "-F", cfg, "-o", `User=${sshd.user}`, "-o", `IdentityFile=${sshd.clientKey}`, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
          "-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=20", `unix/${socket.slice(1)}`, "echo", "logged-in"],
        { timeoutMs: 30000 },
      );

    test("ssh unix/<path with capitals> logs in through the installed proxy", async () => {
      const r = await login(config);
      expect(r.stderr).toBe("");
      expect(r.stdout).toBe("logged-in\n");
      expect(r.code).toBe(0);
    });

    test("control: systemd's %h would not reach the socket", async () => {
      const withH = join(base, "with-h.conf");
      writeFileSync(withH, readFileSync(join(prefix, "lib/systemd/ssh_config.d/20-systemd-ssh-proxy.conf"), "utf8").replace(" %n %p", " %h %p"));
      const cfg = join(base, "ssh_config_h");
      writeFileSync(cfg, `Include ${withH}\n`);
      const r = await login(cfg);
      expect(r.code).not.toBe(0);
      expect(r.stderr.toLowerCase()).toContain("myvm/ssh.sock");
    });
  });
});


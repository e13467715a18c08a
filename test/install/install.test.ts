// `systemd-ssh install` / `uninstall` with the compiled binary, always into temporary trees (--root, or
// --prefix/--sysconfdir pointing into a temp dir), never the system's /usr or /etc. The installed
// ssh_config drop-in is checked with the real ssh client, and used for a real login over AF_UNIX.

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_LAYOUT, plan, sshConfigDropin } from "../../src/install/layout.ts";
import { ensureBuilt } from "../helpers/build.ts";
import { requireReference } from "../helpers/reference.ts";
import { runCommand, startSshd, type TestSshd } from "../helpers/sshd.ts";
import { BINARY, removeDir, tempDir } from "../helpers/tmp.ts";

const ref = requireReference("262");
// Each install copies and fsyncs the 107 MiB binary: seconds on a busy machine, past bun's 5 s default.
setDefaultTimeout(60000);

async function cli(args: string[]) {
  return runCommand([BINARY, ...args], { timeoutMs: 20000 });
}

/** Everything under `dir`: type, mode, content hash or link target. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const r = `${rel}/${name}`;
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out[r] = `-> ${readlinkSync(p)}`;
      else if (st.isDirectory()) {
        out[r] = `dir ${(st.mode & 0o7777).toString(8)}`;
        walk(p, r);
      } else out[r] = `file ${(st.mode & 0o7777).toString(8)} ${Bun.hash(readFileSync(p)).toString(16)}`;
    }
  };
  walk(dir, "");
  return out;
}

beforeAll(async () => {
  await ensureBuilt();
});

describe("install --root", () => {
  let root: string;
  beforeAll(() => {
    root = tempDir("install");
  });
  afterAll(() => removeDir(root));

  test("installs the binary, the argv[0] links, the drop-in and its link, the units, tmpfiles.d, the udev rule", async () => {
    const r = await cli(["install", "--root", root, "--binary", BINARY]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const s = snapshot(root);
    expect(s["/usr/lib/systemd/systemd-ssh"]).toBe(`file 755 ${Bun.hash(readFileSync(BINARY)).toString(16)}`);
    expect(s["/usr/lib/systemd/systemd-ssh-proxy"]).toBe("-> systemd-ssh");
    expect(s["/usr/lib/systemd/systemd-ssh-issue"]).toBe("-> systemd-ssh");
    expect(s["/usr/lib/systemd/system-generators/systemd-ssh-generator"]).toBe("-> ../systemd-ssh");
    expect(s["/etc/ssh/ssh_config.d/20-systemd-ssh-proxy.conf"]).toBe("-> /usr/lib/systemd/ssh_config.d/20-systemd-ssh-proxy.conf");
    for (const f of [
      "/usr/lib/systemd/ssh_config.d/20-systemd-ssh-proxy.conf",
      "/usr/lib/systemd/system/ssh-access.target",
      "/usr/lib/tmpfiles.d/20-systemd-ssh-generator.conf",
      "/usr/lib/systemd/system/systemd-ssh-vsock-late.service",
      "/usr/lib/udev/rules.d/70-systemd-ssh-vsock.rules",
    ]) {
      expect(s[f]).toStartWith("file 644 ");
    }
    expect(s["/usr/lib/systemd/system-generators"]).toBe("dir 755");
    // The command on PATH, our own drop-in (read before systemd's), the man pages.
    expect(s["/usr/bin/systemd-ssh"]).toBe("-> ../lib/systemd/systemd-ssh");
    expect(s["/etc/ssh/ssh_config.d/19-systemd-ssh.conf"]).toStartWith("file 644 ");
    for (const m of ["man1/systemd-ssh.1.gz", "man1/systemd-ssh-proxy.1.gz", "man1/systemd-ssh-issue.1.gz", "man8/systemd-ssh-generator.8.gz"]) {
      expect(s[`/usr/share/man/${m}`]).toStartWith("file 644 ");
    }
    // One line per file on stdout (and the manifest), nothing left behind by the atomic writes.
    expect(r.stdout.trim().split("\n")).toHaveLength(plan(DEFAULT_LAYOUT).length + 1);
    expect(Object.keys(s).filter((k) => k.includes("/.#"))).toEqual([]);
    // The installed tool links work (argv[0] dispatch through the relative links).
    const issue = await runCommand([join(root, "usr/lib/systemd/systemd-ssh-issue"), "--bogus"]);
    expect(issue.stderr).toBe("systemd-ssh-issue: unrecognized option '--bogus'\n");
    // Content paths are the target system's, not the temp root's.
    expect(readFileSync(join(root, "usr/lib/systemd/ssh_config.d/20-systemd-ssh-proxy.conf"), "utf8")).toContain(
      "ProxyCommand /usr/lib/systemd/systemd-ssh-proxy %n %p",
    );
  });

  test("installing again changes nothing", async () => {
    const before = snapshot(root);
    const r = await cli(["install", "--root", root, "--binary", BINARY]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("unchanged");
    expect(r.stdout).not.toMatch(/^installed .*systemd-ssh \(binary\)/m);
    const after = snapshot(root);
    delete before["/usr/lib/systemd/systemd-ssh.manifest"];
    delete after["/usr/lib/systemd/systemd-ssh.manifest"];
    expect(after).toEqual(before);
  });

  test("uninstall removes exactly what install wrote", async () => {
    const r = await cli(["uninstall", "--root", root]);
    expect(r.code).toBe(0);
    expect(snapshot(root)).toEqual({});
    const again = await cli(["uninstall", "--root", root]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("No manifest at");
  });
});

describe("ownership", () => {
  test("never overwrites a file it did not install unless --force; uninstall leaves others' files", async () => {
    const root = tempDir("install-own");
    try {
      mkdirSync(join(root, "etc/ssh/ssh_config.d"), { recursive: true });
      writeFileSync(join(root, "etc/ssh/ssh_config.d/10-admin.conf"), "Host admin\n");
      mkdirSync(join(root, "usr/lib/systemd/system"), { recursive: true });
      writeFileSync(join(root, "usr/lib/systemd/system/ssh-access.target"), "[Unit]\nDescription=someone else's\n");
      const before = snapshot(root);
      const refused = await cli(["install", "--root", root, "--binary", BINARY]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("Refusing to overwrite");
      expect(refused.stderr).toContain(`${root}/usr/lib/systemd/system/ssh-access.target`);
      expect(snapshot(root)).toEqual(before); // nothing written

      const forced = await cli(["install", "--root", root, "--binary", BINARY, "--force"]);
      expect(forced.code).toBe(0);
      expect(forced.stdout).toContain(`replaced ${root}/usr/lib/systemd/system/ssh-access.target`);

      // An admin edits an installed file: uninstall keeps it.
      writeFileSync(join(root, "usr/lib/tmpfiles.d/20-systemd-ssh-generator.conf"), "# mine now\n");
      const un = await cli(["uninstall", "--root", root]);
      expect(un.code).toBe(0);
      expect(un.stdout).toContain("kept");
      const left = snapshot(root);
      expect(Object.keys(left).filter((k) => !left[k]!.startsWith("dir"))).toEqual([
        "/etc/ssh/ssh_config.d/10-admin.conf",
        "/usr/lib/tmpfiles.d/20-systemd-ssh-generator.conf",
      ]);
    } finally {
      removeDir(root);
    }
  });

  test("a target whose systemd ships its own ssh tools (256+): ours in /etc overrides its generator, its files stay", async () => {
    const root = tempDir("install-alongside");
    try {
      // What Debian trixie's systemd 257 ships (file contents shortened; only who owns them matters).
      const own: Record<string, string> = {
        "usr/lib/systemd/system-generators/systemd-ssh-generator": "ELF systemd's generator\n",
        "usr/lib/systemd/systemd-ssh-proxy": "ELF systemd's proxy\n",
        "usr/lib/systemd/ssh_config.d/20-systemd-ssh-proxy.conf": "# systemd's drop-in\n",
        "usr/lib/systemd/system/ssh-access.target": "[Unit]\nDescription=SSH Access Available\n",
        "usr/lib/tmpfiles.d/20-systemd-ssh-generator.conf": "L$ /etc/ssh/ssh_config.d/20-systemd-ssh-proxy.conf\n",
      };
      for (const [p, text] of Object.entries(own)) {
        mkdirSync(join(root, p, ".."), { recursive: true });
        writeFileSync(join(root, p), text, { mode: 0o755 });
      }
      mkdirSync(join(root, "etc/ssh/ssh_config.d"), { recursive: true });
      symlinkSync("/usr/lib/systemd/ssh_config.d/20-systemd-ssh-proxy.conf", join(root, "etc/ssh/ssh_config.d/20-systemd-ssh-proxy.conf"));
      const systemds = snapshot(root);

      const r = await cli(["install", "--root", root, "--binary", BINARY]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const s = snapshot(root);
      // systemd's files: untouched, and said so.
      for (const [k, v] of Object.entries(systemds)) expect(s[k]).toBe(v);
      for (const p of [...Object.keys(own), "etc/ssh/ssh_config.d/20-systemd-ssh-proxy.conf"]) {
        expect(r.stdout).toContain(`kept ${root}/${p} (systemd's own `);
      }
      // Ours: the binary, the issue link systemd 257 lacks, and the generator where it overrides systemd's.
      expect(s["/usr/lib/systemd/systemd-ssh"]).toBe(`file 755 ${Bun.hash(readFileSync(BINARY)).toString(16)}`);
      expect(s["/usr/lib/systemd/systemd-ssh-issue"]).toBe("-> systemd-ssh");
      expect(s["/etc/systemd/system-generators/systemd-ssh-generator"]).toBe("-> /usr/lib/systemd/systemd-ssh");
      expect(r.stdout).toContain(`installed ${root}/etc/systemd/system-generators/systemd-ssh-generator -> /usr/lib/systemd/systemd-ssh (generator, overriding systemd's own)`);
      const added = Object.keys(s).filter((k) => !(k in systemds)).sort();
      // (and the files systemd never ships: the command, our drop-in, the man pages this fake lacks).
      expect(added).toEqual([
        "/etc/ssh/ssh_config.d/19-systemd-ssh.conf",
        "/etc/systemd",
        "/etc/systemd/system-generators",
        "/etc/systemd/system-generators/systemd-ssh-generator",
        "/usr/bin",
        "/usr/bin/systemd-ssh",
        "/usr/lib/systemd/system/systemd-ssh-vsock-late.service",
        "/usr/lib/systemd/systemd-ssh",
        "/usr/lib/systemd/systemd-ssh-issue",
        "/usr/lib/systemd/systemd-ssh.manifest",
        "/usr/lib/udev",
        "/usr/lib/udev/rules.d",
        "/usr/lib/udev/rules.d/70-systemd-ssh-vsock.rules",
        "/usr/share",
        "/usr/share/man",
        "/usr/share/man/man1",
        "/usr/share/man/man1/systemd-ssh-issue.1.gz",
        "/usr/share/man/man1/systemd-ssh-proxy.1.gz",
        "/usr/share/man/man1/systemd-ssh.1.gz",
        "/usr/share/man/man8",
        "/usr/share/man/man8/systemd-ssh-generator.8.gz",
      ]);

      // Again: nothing changes; then uninstall leaves exactly systemd's files.
      const again = await cli(["install", "--root", root, "--binary", BINARY]);
      expect(again.code).toBe(0);
      expect(again.stdout).toContain(`unchanged ${root}/etc/systemd/system-generators/systemd-ssh-generator`);
      const un = await cli(["uninstall", "--root", root]);
      expect(un.code).toBe(0);
      expect(snapshot(root)).toEqual(systemds);
    } finally {
      removeDir(root);
    }
  });

  test("bad arguments: one line, exit 1, nothing written", async () => {
    const root = tempDir("install-bad");
    try {
      for (const args of [["--prefix", "relative"], ["--binary", join(root, "missing")], ["--root", join(root, "nope")]]) {
        const r = await cli(["install", "--root", root, "--binary", BINARY, ...args]);
        expect(r.code).toBe(1);
        expect(r.stderr.trim().split("\n")).toHaveLength(1);
        expect(r.stderr).not.toContain("    at ");
      }
      expect(snapshot(root)).toEqual({});
    } finally {
      removeDir(root);
    }
  });
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
      expect((await cli(["install", "--root", root, "--binary", BINARY])).code).toBe(0);
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
    const r = await cli(["install", "--prefix", prefix, "--sysconfdir", join(base, "etc"), "--binary", BINARY]);
    expect(r.code).toBe(0);
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

describe("install --package (the Debian package's maintainer scripts), dpkg's answers injected", () => {
  // Calls apply.ts directly: which paths a package owns is a fact injected here, as dpkg-query would say.
  const lines: string[] = [];
  const say = (l: string) => void lines.push(l);
  const systemdPaths = plan(DEFAULT_LAYOUT).filter((e) => e.systemdOwn).map((e) => e.path);

  test("systemd < 256: every entry at systemd's paths and nothing else (dpkg has the rest)", async () => {
    const { install, uninstall } = await import("../../src/install/apply.ts");
    const root = tempDir("install-pkg");
    try {
      install({ root, binary: "", package: true, packaged: () => new Set(), say });
      const s = snapshot(root);
      const files = Object.keys(s).filter((k) => !s[k]!.startsWith("dir")).sort();
      expect(files).toEqual([...systemdPaths, "/usr/lib/systemd/systemd-ssh.manifest"].sort());
      expect(s["/usr/lib/systemd/system-generators/systemd-ssh-generator"]).toBe("-> ../systemd-ssh");
      uninstall({ root, package: true, packaged: () => new Set(), say });
      expect(snapshot(root)).toEqual({});
    } finally {
      removeDir(root);
    }
  });

  test("systemd 256+: nothing is added at its paths, not even what 257 lacks; no generator in /etc", async () => {
    const { install } = await import("../../src/install/apply.ts");
    const root = tempDir("install-pkg257");
    try {
      const gen = "/usr/lib/systemd/system-generators/systemd-ssh-generator";
      mkdirSync(join(root, gen, ".."), { recursive: true });
      writeFileSync(join(root, gen), "ELF systemd's generator\n");
      const before = snapshot(root);
      install({ root, binary: "", package: true, packaged: (_, ps) => new Set(ps.filter((p) => p !== "/usr/lib/systemd/systemd-ssh-issue" && !p.includes("issue.1"))), say });
      const s = snapshot(root);
      delete s["/usr/lib/systemd/systemd-ssh.manifest"];
      expect(s).toEqual(before);
    } finally {
      removeDir(root);
    }
  });

  test("after a 12 -> 13 upgrade: a file a package owns now is kept by uninstall, even with our very bytes", async () => {
    const { install, uninstall } = await import("../../src/install/apply.ts");
    const root = tempDir("install-pkgup");
    try {
      install({ root, binary: "", package: true, packaged: () => new Set(), say });
      const target = "/usr/lib/systemd/system/ssh-access.target";
      const bytes = readFileSync(join(root, target));
      // systemd 257 unpacks the same bytes over ours: the manifest alone would call it ours.
      uninstall({ root, package: true, packaged: (_, ps) => new Set(ps.filter((p) => p === target)), say });
      expect(readFileSync(join(root, target))).toEqual(bytes);
      expect(lines).toContain(`kept ${root}${target} (a package's now)`);
      expect(existsSync(join(root, "usr/lib/systemd/systemd-ssh.manifest"))).toBe(false);
    } finally {
      removeDir(root);
    }
  });

  test("uninstall --package with no manifest: nothing to do, no error (a prerm must not fail)", async () => {
    const { uninstall } = await import("../../src/install/apply.ts");
    const root = tempDir("install-pkgnone");
    try {
      expect(uninstall({ root, package: true, packaged: () => new Set(), say })).toBe(0);
    } finally {
      removeDir(root);
    }
  });
});

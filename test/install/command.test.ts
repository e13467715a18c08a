// `systemd-ssh install` / `uninstall` with the compiled binary, always into temporary trees (--root), never
// the system's /usr or /etc: what goes where, what is kept, what uninstall removes.

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_LAYOUT, plan } from "../../src/install/layout.ts";
import { ensureBuilt } from "../helpers/build.ts";
import { hashedTree as snapshot } from "../helpers/byte-tree.ts";
import { runSync } from "../helpers/spawn.ts";
import { BINARY, removeDir, tempDir } from "../helpers/tmp.ts";

// Each install copies and fsyncs the 107 MiB binary: seconds on a busy machine, past bun's 5 s default.
setDefaultTimeout(60000);

const cli = (args: string[]) => runSync([BINARY, ...args], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin" }, timeoutMs: 20000 });

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
    const r = cli(["install", "--root", root, "--binary", BINARY]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
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
    const issue = runSync([join(root, "usr/lib/systemd/systemd-ssh-issue"), "--bogus"]);
    expect(issue.stderr).toBe("systemd-ssh-issue: unrecognized option '--bogus'\n");
    // Content paths are the target system's, not the temp root's.
    expect(readFileSync(join(root, "usr/lib/systemd/ssh_config.d/20-systemd-ssh-proxy.conf"), "utf8")).toContain(
      "ProxyCommand /usr/lib/systemd/systemd-ssh-proxy %n %p",
    );
  });

  test("installing again changes nothing", async () => {
    const before = snapshot(root);
    const r = cli(["install", "--root", root, "--binary", BINARY]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("unchanged");
    expect(r.stdout).not.toMatch(/^installed .*systemd-ssh \(binary\)/m);
    const after = snapshot(root);
    delete before["/usr/lib/systemd/systemd-ssh.manifest"];
    delete after["/usr/lib/systemd/systemd-ssh.manifest"];
    expect(after).toEqual(before);
  });

  test("uninstall removes exactly what install wrote", async () => {
    const r = cli(["uninstall", "--root", root]);
    expect(r.status).toBe(0);
    expect(snapshot(root)).toEqual({});
    const again = cli(["uninstall", "--root", root]);
    expect(again.status).toBe(1);
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
      const refused = cli(["install", "--root", root, "--binary", BINARY]);
      expect(refused.status).toBe(1);
      expect(refused.stderr).toContain("Refusing to overwrite");
      expect(refused.stderr).toContain(`${root}/usr/lib/systemd/system/ssh-access.target`);
      expect(snapshot(root)).toEqual(before); // nothing written

      const forced = cli(["install", "--root", root, "--binary", BINARY, "--force"]);
      expect(forced.status).toBe(0);
      expect(forced.stdout).toContain(`replaced ${root}/usr/lib/systemd/system/ssh-access.target`);

      // An admin edits an installed file: uninstall keeps it.
      writeFileSync(join(root, "usr/lib/tmpfiles.d/20-systemd-ssh-generator.conf"), "# mine now\n");
      const un = cli(["uninstall", "--root", root]);
      expect(un.status).toBe(0);
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

      const r = cli(["install", "--root", root, "--binary", BINARY]);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
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
      const again = cli(["install", "--root", root, "--binary", BINARY]);
      expect(again.status).toBe(0);
      expect(again.stdout).toContain(`unchanged ${root}/etc/systemd/system-generators/systemd-ssh-generator`);
      const un = cli(["uninstall", "--root", root]);
      expect(un.status).toBe(0);
      expect(snapshot(root)).toEqual(systemds);
    } finally {
      removeDir(root);
    }
  });

  test("bad arguments: one line, exit 1, nothing written", async () => {
    const root = tempDir("install-bad");
    try {
      for (const args of [["--prefix", "relative"], ["--binary", join(root, "missing")], ["--root", join(root, "nope")]]) {
        const r = cli(["install", "--root", root, "--binary", BINARY, ...args]);
        expect(r.status).toBe(1);
        expect(r.stderr.trim().split("\n")).toHaveLength(1);
        expect(r.stderr).not.toContain("    at ");
      }
      expect(snapshot(root)).toEqual({});
    } finally {
      removeDir(root);
    }
  });
});


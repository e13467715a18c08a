// End to end with the real OpenSSH client and a real sshd behind an AF_UNIX socket: ssh, scp both ways and
// rsync, all through dist/systemd-ssh-proxy with ProxyUseFdpass yes.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sshConfigDropin } from "../../src/install/layout.ts";
import { runCommand, startSshd, type TestSshd } from "../helpers/sshd.ts";
import { PROXY, removeDir, tempDir } from "../helpers/tmp.ts";

let sshd: TestSshd;
let config: string;
let work: string;

beforeAll(async () => {
  sshd = await startSshd();
  work = tempDir("ssh-e2e");
  // scp and rsync read "host:path" and take anything with a '/' before the colon for a local path, so the
  // socket is reached through a Host alias whose HostName is unix/...
  config = sshd.sshConfig({ extra: `Host box\n  HostName unix${sshd.socket}\n` });
});
afterAll(async () => {
  await sshd?.stop();
  removeDir(work);
});

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe("ssh through systemd-ssh-proxy", () => {
  test("ssh unix/PATH runs a command", async () => {
    const r = await runCommand(["ssh", "-F", config, `unix${sshd.socket}`, "echo", "hello-unix", "$((6*7))"]);
    expect(r.stderr).toBe("");
    expect(r).toMatchObject({ code: 0, stdout: "hello-unix 42\n" });
  });

  test("ssh unix%PATH (the form scp and rsync can carry)", async () => {
    const r = await runCommand(["ssh", "-F", config, `unix%${sshd.socket.slice(1)}`, "id", "-un"]);
    expect(r).toMatchObject({ code: 0, stdout: `${sshd.user}\n` });
  });

  test("stdin and stdout carry binary data both ways", async () => {
    const data = randomBytes(3 << 20);
    const r = await runCommand(["ssh", "-F", config, "box", "sha256sum"], { stdin: data });
    expect(r.code).toBe(0);
    expect(r.stdout.split(" ")[0]).toBe(sha256(data));
  });

  test("the installed drop-in works from a prefix with a space, a quote and a % in it", async () => {
    // ssh expands % tokens in a ProxyCommand and runs it with the shell: the drop-in must quote both ways.
    const prefix = join(work, "my prefix's 100%");
    mkdirSync(prefix, { recursive: true });
    const proxy = join(prefix, "systemd-ssh-proxy");
    symlinkSync(PROXY, proxy);
    const dropin = sshConfigDropin(proxy);
    expect(dropin).toContain(`ProxyCommand '${work}/my prefix'\\''s 100%%/systemd-ssh-proxy' %n %p`);
    // The test sshd's client settings (user, key) first; ssh takes the first value it sees, and the
    // drop-in's ProxyCommand is the only one for unix/* (sshConfig() without a proxy of its own).
    const base = readFileSync(sshd.sshConfig({ name: "dropin_base" }), "utf8").replace(/^ {2}ProxyCommand .*\n/m, "").replace(/^ {2}ProxyUseFdpass .*\n/m, "");
    const cfg = join(work, "dropin_config");
    writeFileSync(cfg, `${dropin}\n${base}`);
    const r = await runCommand(["ssh", "-F", cfg, `unix${sshd.socket}`, "echo", "via-dropin"]);
    expect(r).toMatchObject({ code: 0, stdout: "via-dropin\n" });
  });

  test("a missing socket fails with the proxy's message", async () => {
    const r = await runCommand(["ssh", "-F", config, `unix${work}/nope.sock`, "true"]);
    expect(r.code).toBe(255);
    expect(r.stderr).toContain(`Failed to connect to AF_UNIX socket ${work}/nope.sock: No such file or directory`);
  });

  test("scp both ways", async () => {
    const up = join(work, "up.bin");
    const down = join(work, "down.bin");
    const remote = join(work, "remote.bin");
    writeFileSync(up, randomBytes(1 << 20));
    let r = await runCommand(["scp", "-F", config, "-q", up, `box:${remote}`]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(sha256(readFileSync(remote))).toBe(sha256(readFileSync(up)));
    r = await runCommand(["scp", "-F", config, "-q", `box:${remote}`, down]);
    expect(r.code).toBe(0);
    expect(sha256(readFileSync(down))).toBe(sha256(readFileSync(up)));
  });

  test("rsync -e ssh, a tree with a symlink", async () => {
    const src = join(work, "tree");
    mkdirSync(join(src, "sub"), { recursive: true });
    writeFileSync(join(src, "a.txt"), "alpha\n");
    writeFileSync(join(src, "sub", "b.bin"), randomBytes(200_000));
    symlinkSync("a.txt", join(src, "link"));
    const dest = join(work, "copy");
    const r = await runCommand(["rsync", "-a", "-e", `ssh -F ${config}`, `${src}/`, `box:${dest}/`]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(readFileSync(join(dest, "a.txt"), "utf8")).toBe("alpha\n");
    expect(sha256(readFileSync(join(dest, "sub", "b.bin")))).toBe(sha256(readFileSync(join(src, "sub", "b.bin"))));
    expect(require("node:fs").readlinkSync(join(dest, "link"))).toBe("a.txt");
  });

  test("the proxy writes exactly one byte (the NUL with the descriptor) to stdout", async () => {
    const { runFdpass } = await import("../helpers/fdpass.ts");
    const { close } = await import("../../ffi/socket.ts");
    const r = await runFdpass([PROXY, `unix${sshd.socket}`, "22"], { env: { ...process.env, SYSTEMD_LOG_LEVEL: "debug" } });
    expect(r.fd).not.toBeNull();
    close(r.fd!);
    expect(Array.from(r.stdout)).toEqual([0]);
    expect(r.stderr).toBe("Successfully sent AF_UNIX socket via STDOUT.\n");
  });
});

// What scripts/build makes: one binary and its tool links, at package.json's version, that runs the same
// wherever it is started. A compiled Bun program would read .env and bunfig.toml from the directory it is
// started in, and refuse to start in one that no longer exists (a shell in a removed build tree runs ssh;
// ssh runs the proxy there) unless built with an exec-argv: scripts/build turns the first off and passes
// --compile-exec-argv=--no-install. All three tools in a deleted directory, next to systemd 262's.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { close } from "../../ffi/socket.ts";
import { accept, listenUnix } from "../../ffi/test-sockets.ts";
import { VERSION } from "../../src/version.ts";
import { ensureBuilt } from "../helpers/build.ts";
import { runFdpass } from "../helpers/fdpass.ts";
import { requireReference, type SshToolName } from "../helpers/reference.ts";
import { runSync } from "../helpers/spawn.ts";
import { DIST, PROXY, REPO, removeDir, tempDir } from "../helpers/tmp.ts";

const ref = requireReference("262");
let work: string;
let sock: string;
let listener: number;
let gone = 0;

beforeAll(async () => {
  await ensureBuilt();
  work = tempDir("build");
  sock = join(work, "sshd.sock");
  listener = listenUnix(sock);
});
afterAll(() => {
  close(listener);
  removeDir(work);
});

/** `cmd` started by a shell whose working directory was removed just before (exec keeps stdio as given). */
function inDeletedCwd(cmd: string[]): string[] {
  const dir = join(work, `gone-${gone++}`);
  mkdirSync(dir);
  return ["sh", "-c", 'cd "$1" && rmdir "$1" && shift && exec "$@"', "sh", dir, ...cmd];
}

const tools = () => (ref ? ([["ours", DIST], ["262", null]] as const) : ([["ours", DIST]] as const));

/** The tool's command; the reference runs through its loader directly (see Reference.direct). */
function tool(which: string | null, name: SshToolName): string[] {
  return which === null ? ref!.direct(name) : [join(which, name)];
}

describe("dist/", () => {
  test("the tool links are relative symlinks to the one binary", () => {
    for (const tool of ["systemd-ssh-proxy", "systemd-ssh-generator", "systemd-ssh-issue"]) {
      expect(readlinkSync(join(DIST, tool))).toBe("systemd-ssh");
    }
  });

  test("the binary's version is package.json's, which the .deb and the tarball are named after", () => {
    const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string };
    expect(VERSION).toBe(pkg.version);
  });

  test("a .env or bunfig.toml in the working directory changes nothing", async () => {
    // ssh runs the proxy in the user's directory.
    const dir = join(work, "dotenv");
    mkdirSync(dir);
    writeFileSync(join(dir, ".env"), "SYSTEMD_LOG_LEVEL=debug\n");
    writeFileSync(join(dir, "bunfig.toml"), 'preload = ["./nonexistent.ts"]\n');
    const target = join(dir, "target.sock");
    const server = Bun.listen({ unix: target, socket: { data() {} } });
    const old = process.cwd();
    process.chdir(dir);
    try {
      const r = await runFdpass([PROXY, `unix${target}`, "22"]);
      if (r.fd !== null) close(r.fd);
      expect(r).toMatchObject({ code: 0, stderr: "" });
    } finally {
      process.chdir(old);
      server.stop(true);
    }
  });
});

describe("started in a deleted working directory", () => {
  test("the proxy hands over the connected socket, like 262's", async () => {
    for (const [who, dir] of tools()) {
      const r = await runFdpass(inDeletedCwd([...tool(dir, "systemd-ssh-proxy"), `unix${sock}`, "22"]));
      // Drain the connection, only if there is one: accept() blocks.
      if (r.fd !== null) close(accept(listener));
      expect({ who, code: r.code, stderr: r.stderr, gotFd: r.fd !== null, stdout: [...r.stdout] }).toEqual({ who, code: 0, stderr: "", gotFd: true, stdout: [0] });
      if (r.fd !== null) close(r.fd);
    }
  });

  test("a missing socket: the same message and status as 262's", async () => {
    const seen = new Set<string>();
    for (const [, dir] of tools()) {
      const r = await runFdpass(inDeletedCwd([...tool(dir, "systemd-ssh-proxy"), `unix${work}/nope.sock`, "22"]));
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`Failed to connect to AF_UNIX socket ${work}/nope.sock: No such file or directory\n`);
      seen.add(r.stderr);
    }
    expect(seen.size).toBe(1);
  });

  test("the generator writes the same units as 262's", () => {
    const trees: string[][] = [];
    for (const [who, dir] of tools()) {
      const out = join(work, `gen-${who}`);
      mkdirSync(out);
      const p = runSync(inDeletedCwd([...tool(dir, "systemd-ssh-generator"), out, out, out]), {
        env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin", SYSTEMD_PROC_CMDLINE: "systemd.ssh_listen=2222", SYSTEMD_UNIT_PATH: join(work, "no-units"),
          // Ours writes for the systemd it runs under unless told (this machine's 252 lacks ssh-access.target).
          SYSTEMD_SSH_TARGET_VERSION: "262" },
      });
      expect({ who, code: p.status, stderr: p.stderr }).toEqual({ who, code: 0, stderr: "" });
      trees.push(readdirSync(out, { recursive: true }).map(String).sort());
    }
    expect(trees[0]).toContain("sshd-extra.socket");
    if (trees.length === 2) expect(trees[0]).toEqual(trees[1]!);
  });

  test("systemd-ssh-issue rm-vsock removes the file, like 262's", () => {
    for (const [who, dir] of tools()) {
      const issue = join(work, `issue-${who}`);
      writeFileSync(issue, "old hint\n");
      const p = runSync(inDeletedCwd([...tool(dir, "systemd-ssh-issue"), "rm-vsock", `--issue-path=${issue}`]), { env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin" } });
      expect({ who, code: p.status, stderr: p.stderr, left: readdirSync(work).includes(`issue-${who}`) }).toEqual({ who, code: 0, stderr: "", left: false });
    }
  });
});

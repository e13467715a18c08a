// All three tools started in a working directory that no longer exists (a shell in a removed build tree
// runs ssh; ssh runs the proxy there), next to systemd 262's. A compiled Bun program refuses to start
// there unless it was built with an exec-argv (scripts/build passes --compile-exec-argv=--no-install).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { close } from "../ffi/socket.ts";
import { accept, listenUnix } from "../ffi/test-sockets.ts";
import { ensureBuilt } from "./helpers/build.ts";
import { runFdpass } from "./helpers/fdpass.ts";
import { requireReference, type SshToolName } from "./helpers/reference.ts";
import { DIST, removeDir, tempDir } from "./helpers/tmp.ts";

const ref = requireReference("262");
let work: string;
let sock: string;
let listener: number;
let gone = 0;

beforeAll(async () => {
  await ensureBuilt();
  work = tempDir("deleted-cwd");
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
      const p = Bun.spawnSync(inDeletedCwd([...tool(dir, "systemd-ssh-generator"), out, out, out]), {
        env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin", SYSTEMD_PROC_CMDLINE: "systemd.ssh_listen=2222", SYSTEMD_UNIT_PATH: join(work, "no-units"),
          // Ours writes for the systemd it runs under unless told (this machine's 252 lacks ssh-access.target).
          SYSTEMD_SSH_TARGET_VERSION: "262" },
        stderr: "pipe",
      });
      expect({ who, code: p.exitCode, stderr: p.stderr.toString() }).toEqual({ who, code: 0, stderr: "" });
      trees.push(readdirSync(out, { recursive: true }).map(String).sort());
    }
    expect(trees[0]).toContain("sshd-extra.socket");
    if (trees.length === 2) expect(trees[0]).toEqual(trees[1]!);
  });

  test("systemd-ssh-issue rm-vsock removes the file, like 262's", () => {
    for (const [who, dir] of tools()) {
      const issue = join(work, `issue-${who}`);
      writeFileSync(issue, "old hint\n");
      const p = Bun.spawnSync(inDeletedCwd([...tool(dir, "systemd-ssh-issue"), "rm-vsock", `--issue-path=${issue}`]), { stderr: "pipe" });
      expect({ who, code: p.exitCode, stderr: p.stderr.toString(), left: readdirSync(work).includes(`issue-${who}`) }).toEqual({ who, code: 0, stderr: "", left: false });
    }
  });
});

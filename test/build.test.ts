// The built binary: argv[0] dispatch, the umbrella command, and independence from the directory it runs in.

import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { close, socketpair } from "../ffi/socket.ts";
import { VERSION } from "../src/version.ts";
import { runFdpass } from "./helpers/fdpass.ts";
import { runCommand } from "./helpers/sshd.ts";
import { BINARY, DIST, PROXY, removeDir, tempDir } from "./helpers/tmp.ts";

const dir = tempDir("build");
afterAll(() => removeDir(dir));

describe("dist/", () => {
  test("the tool links are relative symlinks to the one binary", () => {
    for (const tool of ["systemd-ssh-proxy", "systemd-ssh-generator", "systemd-ssh-issue"]) {
      expect(readlinkSync(join(DIST, tool))).toBe("systemd-ssh");
    }
  });

  test("the binary's version is package.json's, which the .deb and the tarball are named after", () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dir, "../package.json"), "utf8")) as { version: string };
    expect(VERSION).toBe(pkg.version);
  });

  test("version and help", async () => {
    const v = await runCommand([BINARY, "--version"]);
    expect(v).toEqual({ code: 0, stdout: `systemd-ssh ${VERSION} (systemd 262 compatible)\n`, stderr: "" });
    const h = await runCommand([BINARY, "--help"]);
    expect(h.code).toBe(0);
    for (const sub of ["proxy", "generator", "issue", "explain", "install", "uninstall", "machines"]) {
      expect(h.stdout).toContain(sub);
    }
    expect(h.stdout).not.toContain("\x1b["); // no colour codes into a pipe
  });

  test("an unknown subcommand is one clear error", async () => {
    const r = await runCommand([BINARY, "frobnicate"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("systemd-ssh: Unknown command frobnicate\nTry 'systemd-ssh --help'.\n");
  });

  test("`systemd-ssh proxy` is the proxy, with the proxy's own command line", async () => {
    const viaSub = await runCommand([BINARY, "proxy"]);
    const viaLink = await runCommand([PROXY]);
    expect(viaSub).toEqual(viaLink);
    expect(viaLink).toEqual({ code: 1, stdout: "", stderr: "Expected two arguments: host and port.\n" });
  });

  test("a .env or bunfig.toml in the working directory changes nothing", async () => {
    // Compiled Bun programs load both by default; ssh runs the proxy in the user's directory.
    writeFileSync(join(dir, ".env"), "SYSTEMD_LOG_LEVEL=debug\n");
    writeFileSync(join(dir, "bunfig.toml"), 'preload = ["./nonexistent.ts"]\n');
    const sock = join(dir, "target.sock");
    const server = Bun.listen({ unix: sock, socket: { data() {} } });
    const old = process.cwd();
    process.chdir(dir);
    try {
      const r = await runFdpass([PROXY, `unix${sock}`, "22"]);
      if (r.fd !== null) close(r.fd);
      expect(r).toMatchObject({ code: 0, stderr: "" });
    } finally {
      process.chdir(old);
      server.stop(true);
    }
  });

  test("a reader that went away ends the umbrella command quietly (status 141, as SIGPIPE would)", async () => {
    for (const args of [["--help"], ["explain"], ["explain", "--help"], ["install", "--help"]]) {
      const [ours, theirs] = socketpair();
      close(ours); // the reader is gone before anything is written
      const p = Bun.spawn([BINARY, ...args], { stdout: theirs, stderr: "pipe" });
      close(theirs);
      const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
      expect({ args, code, stderr }).toEqual({ args, code: 141, stderr: "" });
    }
  });
});

// The entry point (src/main.ts), in the built binary: argv[0] or the first argument picks the tool, and the
// umbrella command's own answers.

import { beforeAll, describe, expect, test } from "bun:test";
import { close } from "../ffi/socket.ts";
import { socketpair } from "../ffi/test-sockets.ts";
import { VERSION } from "../src/version.ts";
import { ensureBuilt } from "./helpers/build.ts";
import { runSync } from "./helpers/spawn.ts";
import { BINARY, PROXY } from "./helpers/tmp.ts";

beforeAll(ensureBuilt);

describe("systemd-ssh", () => {
  test("version and help", () => {
    expect(runSync([BINARY, "--version"])).toEqual({ status: 0, stdout: `systemd-ssh ${VERSION} (systemd 262 compatible)\n`, stderr: "" });
    const h = runSync([BINARY, "--help"]);
    expect(h.status).toBe(0);
    for (const sub of ["proxy", "generator", "issue", "explain", "install", "uninstall", "machines"]) {
      expect(h.stdout).toContain(sub);
    }
    expect(h.stdout).not.toContain("\x1b["); // no colour codes into a pipe
  });

  test("an unknown subcommand is one clear error", () => {
    expect(runSync([BINARY, "frobnicate"])).toEqual({ status: 1, stdout: "", stderr: "systemd-ssh: Unknown command frobnicate\nTry 'systemd-ssh --help'.\n" });
  });

  test("`systemd-ssh proxy` is the proxy, with the proxy's own command line", () => {
    const viaSub = runSync([BINARY, "proxy"]);
    const viaLink = runSync([PROXY]);
    expect(viaSub).toEqual(viaLink);
    expect(viaLink).toEqual({ status: 1, stdout: "", stderr: "Expected two arguments: host and port.\n" });
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

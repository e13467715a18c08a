// The proxy's command line (src/proxy/args.ts): our options before HOST PORT, everything else positional,
// as systemd parses it.

import { describe, expect, test } from "bun:test";
import { parseProxyArgs } from "../../src/proxy/args.ts";
import { Failure } from "../../src/shared/failure.ts";
import { runCommand } from "../helpers/sshd.ts";
import { PROXY } from "../helpers/tmp.ts";

describe("argument parsing", () => {
  const usage = "Expected two arguments: host and port.";
  test.each([
    [["unix/x", "22"], { transport: "auto", waitMs: null, host: "unix/x", port: "22" }],
    [["--relay", "unix/x", "22"], { transport: "relay", waitMs: null, host: "unix/x", port: "22" }],
    [["--fdpass", "unix/x", "22"], { transport: "fdpass", waitMs: null, host: "unix/x", port: "22" }],
    [["--fdpass", "--relay", "unix/x", "22"], { transport: "relay", waitMs: null, host: "unix/x", port: "22" }],
    // Not options of ours: positional, as systemd sees them.
    [["--foo", "22"], { transport: "auto", waitMs: null, host: "--foo", port: "22" }],
    [["--relay=1", "22"], { transport: "auto", waitMs: null, host: "--relay=1", port: "22" }],
    [["--relay", "--x", "22"], { transport: "relay", waitMs: null, host: "--x", port: "22" }],
    [["unix/x", "--relay"], { transport: "auto", waitMs: null, host: "unix/x", port: "--relay" }],
  ])("%j", (args, want) => {
    expect(parseProxyArgs(args)).toEqual(want as ReturnType<typeof parseProxyArgs>);
  });

  test.each([[[]], [["--relay"]], [["--relay", "unix/x"]], [["unix/x"]], [["--foo", "unix/x", "22"]], [["--", "unix/x", "22"]], [["a", "b", "c"]]])(
    "%j is systemd's usage error",
    (args) => {
      expect(() => parseProxyArgs(args)).toThrow(new Failure(usage));
    },
  );

  test("parsing: --wait=S before HOST PORT; --wait without '=' is not ours (positional, like systemd)", () => {
    expect(parseProxyArgs(["--wait=30", "vsock-mux/x", "22"])).toEqual({ transport: "auto", waitMs: 30_000, host: "vsock-mux/x", port: "22" });
    expect(parseProxyArgs(["--relay", "--wait=0.5", "unix/x", "22"])).toEqual({ transport: "relay", waitMs: 500, host: "unix/x", port: "22" });
    expect(() => parseProxyArgs(["--wait", "30", "unix/x", "22"])).toThrow("Expected two arguments: host and port.");
    expect(() => parseProxyArgs(["--wait=soon", "unix/x", "22"])).toThrow('Invalid wait time in --wait=: "soon" (expected seconds, e.g. 30 or 2.5).');
  });

  test("the binary prints it and exits 1", async () => {
    for (const args of [["--relay"], ["--relay", "unix/x"], ["--bogus", "unix/x", "22"]]) {
      expect(await runCommand([PROXY, ...args])).toEqual({ code: 1, stdout: "", stderr: `${usage}\n` });
    }
  });
});

// The reference wrappers from scripts/fetch-reference run like the installed programs. Skipped when the 262
// reference is not fetched, except in CI.

import { describe, expect, test } from "bun:test";
import { requireReference } from "../helpers/reference.ts";
import { runSync } from "../helpers/spawn.ts";

const ref = requireReference("262");
// The wrappers need $PATH (see Reference.direct).
const env = { PATH: process.env.PATH ?? "/usr/bin:/bin" };

describe.skipIf(!ref)("systemd 262 reference wrappers", () => {
  test("systemd-detect-virt --version says systemd 262", () => {
    const r = runSync([ref!.tool("systemd-detect-virt"), "--version"], { env });
    expect(r.status).toBe(0);
    expect(r.stdout).toStartWith(`systemd 262 (${ref!.debianVersion})\n`);
  });

  test("systemd-ssh-proxy without arguments fails like systemd's", () => {
    const r = runSync([ref!.tool("systemd-ssh-proxy")], { env });
    expect(r).toEqual({ status: 1, stdout: "", stderr: "Expected two arguments: host and port.\n" });
  });

  test("systemd-detect-virt --help names the program", () => {
    // systemd 262 starts its help text with "> NAME [OPTION…]".
    const r = runSync([ref!.tool("systemd-detect-virt"), "--help"], { env });
    expect(r.status).toBe(0);
    expect(r.stdout).toStartWith("> systemd-detect-virt [OPTION…]\n");
  });
});

// systemd-ssh-issue's --help (on a terminal too), --introspect-cli and --version, against systemd 262's.

import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ensureBuilt } from "../helpers/build.ts";
import { requireReference } from "../helpers/reference.ts";
import { shQuote } from "../helpers/shell.ts";
import { DIST } from "../helpers/tmp.ts";

const ref = requireReference("262");

describe.skipIf(!ref)("systemd-ssh-issue output compared on a terminal and for tooling", () => {
  const OURS = join(DIST, "systemd-ssh-issue");
  const hasScript = Bun.which("script") !== null;
  test.skipIf(!hasScript)("--help on a terminal (colours, hyperlink) is systemd 262's", async () => {
    await ensureBuilt();
    for (const env of [{ TERM: "xterm-256color" }, { TERM: "dumb" }, { TERM: "xterm", NO_COLOR: "1" }, { TERM: "xterm", SYSTEMD_COLORS: "0" }]) {
      const [a, b] = [ref!.tool("systemd-ssh-issue"), OURS].map((bin) => {
        const p = Bun.spawnSync(["script", "-qec", `${shQuote(bin)} --help`, "/dev/null"], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env } });
        return p.stdout.toString();
      });
      expect(b).toBe(a!);
      expect(a!.length).toBeGreaterThan(100);
    }
  });
  test("--introspect-cli describes the same command line (project and version are ours)", async () => {
    await ensureBuilt();
    const [a, b] = [ref!.tool("systemd-ssh-issue"), OURS].map((bin) => Bun.spawnSync([bin, "--introspect-cli"]).stdout.toString());
    expect(b!.endsWith("\n")).toBe(a!.endsWith("\n"));
    const strip = (s: string) => {
      const j = JSON.parse(s);
      for (const c of j.commands) {
        delete c.project;
        delete c.version;
        delete c.features;
      }
      return j;
    };
    expect(strip(b!)).toEqual(strip(a!));
  });
  test("--version names our version and the systemd we match", async () => {
    await ensureBuilt();
    const p = Bun.spawnSync([OURS, "--version"]);
    expect(p.exitCode).toBe(0);
    expect(p.stdout.toString()).toMatch(/^systemd-ssh \S+ \(systemd 262 compatible\)\n$/);
  });
});

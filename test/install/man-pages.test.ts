// The manual pages (man/*.1, man/*.8, mdoc): each renders without a single groff or man warning, and each
// documents every command and option that the tool's --help lists (for the proxy, which has no --help,
// as systemd's has none: every option its parser takes).

import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MAN_PAGES } from "../../src/install/man-pages.ts";
import { ensureBuilt } from "../helpers/build.ts";
import { runSync } from "../helpers/spawn.ts";
import { BINARY, DIST, removeDir, tempDir } from "../helpers/tmp.ts";

const MAN = join(import.meta.dir, "../../man");
const inherited = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
const ENV = { ...inherited, LC_ALL: "C.UTF-8", MANWIDTH: "80" };

beforeAll(async () => {
  const deps = runSync([join(import.meta.dir, "../../scripts/ensure-deps"), "groff", "man"], { env: inherited, timeoutMs: 600000 });
  expect(deps.stderr.includes("missing") ? deps.stderr : "").toBe("");
  await ensureBuilt();
});

/** Every warning groff and man-db have about a page: stderr of a full render with warnings on. */
function warnings(file: string): string {
  const g = runSync(["groff", "-mandoc", "-ww", "-z", file], { env: ENV });
  const m = runSync(["man", "--warnings", "-l", file], { env: ENV });
  expect(g.status).toBe(0);
  expect(m.status).toBe(0);
  return g.stderr + m.stderr;
}

describe("rendering", () => {
  for (const p of MAN_PAGES) {
    test(`${p.name}(${p.section}): no groff or man warnings`, () => {
      expect(warnings(join(MAN, `${p.name}.${p.section}`))).toBe("");
    });
  }
  test("control: a broken page does warn", () => {
    const dir = tempDir("man-broken");
    try {
      const src = readFileSync(join(MAN, "systemd-ssh.1"), "utf8").replace(".Sh DESCRIPTION", ".Sh DESCRIPTION\n.Bl -tag -width Ds\n.Xr");
      writeFileSync(join(dir, "broken.1"), src);
      expect(warnings(join(dir, "broken.1"))).toContain("warning");
    } finally {
      removeDir(dir);
    }
  });
  test("the embedded pages are the sources, and the name and section in .Dt match the file", () => {
    for (const p of MAN_PAGES) {
      const src = readFileSync(join(MAN, `${p.name}.${p.section}`), "utf8");
      expect(p.source).toBe(src);
      expect(src).toContain(`\n.Dt ${p.name.toUpperCase()} ${p.section}\n`);
      expect(src).toContain(`\n.Nm ${p.name}\n`);
    }
  });
});

/** The long options (--name) in a --help text. */
const longOptions = (help: string) => [...new Set([...help.matchAll(/(?<![\w-])--([a-z][a-z-]*)/g)].map((m) => m[1]!))];
/** The page documents option NAME: mdoc `Fl -NAME`. */
const documents = (page: string, name: string) => new RegExp(`\\bFl -${name}\\b`).test(page);
const page = (name: string) => readFileSync(join(MAN, name), "utf8");

describe("every option --help lists is in the page", () => {
  test("systemd-ssh: every command, and every option of each", () => {
    const man = page("systemd-ssh.1");
    const top = runSync([BINARY, "--help"], { env: inherited });
    expect(top.status).toBe(0);
    const commands = [...top.stdout.matchAll(/^\s+([a-z]+)\s{2,}\S/gm)].map((m) => m[1]!);
    expect(commands).toContain("explain");
    for (const c of commands) expect(man).toMatch(new RegExp(`^\\.It Cm ${c}\\b`, "m"));
    for (const c of commands.filter((c) => !["proxy", "generator", "issue"].includes(c))) {
      const r = runSync([BINARY, c, "--help"], { env: inherited });
      expect(r.status).toBe(0);
      for (const o of longOptions(r.stdout)) {
        if (!documents(man, o)) throw new Error(`systemd-ssh ${c} --${o} is not in systemd-ssh(1)`);
      }
    }
    for (const o of ["help", "version"]) expect(documents(man, o)).toBe(true);
  });

  test("systemd-ssh-issue", () => {
    const r = runSync([join(DIST, "systemd-ssh-issue"), "--help"], { env: inherited });
    expect(r.status).toBe(0);
    const opts = longOptions(r.stdout);
    expect(opts).toContain("issue-path");
    const man = page("systemd-ssh-issue.1");
    for (const o of opts) expect(`--${o}: ${documents(man, o)}`).toBe(`--${o}: true`);
    for (const c of ["make-vsock", "rm-vsock"]) expect(man).toContain(`.It Cm ${c}`);
  });

  test("systemd-ssh-proxy (no --help, as systemd's: the options its parser takes)", async () => {
    const src = readFileSync(join(import.meta.dir, "../../src/proxy/args.ts"), "utf8");
    const opts = [...src.matchAll(/^\s+"--([a-z-]+)": \{/gm)].map((m) => m[1]!);
    expect(opts).toEqual(expect.arrayContaining(["relay", "fdpass", "wait"]));
    const man = page("systemd-ssh-proxy.1");
    for (const o of opts) expect(`--${o}: ${documents(man, o)}`).toBe(`--${o}: true`);
    expect(man).toContain("SYSTEMD_SSH_PROXY_WAIT");
  });

  test("control: an option missing from a page is caught", () => {
    const man = page("systemd-ssh.1").replaceAll("Fl -force", "Fl -farce");
    expect(documents(man, "force")).toBe(false);
  });
});

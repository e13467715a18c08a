// path_simplify(), as systemd's: its own test cases, and pinned against systemd 262 where the two tools
// hand it paths that start with "/..": systemd 262 drops a ".." right under "/" of an absolute path, and
// both tools print and use the result. The generator meets it in $PATH (the sshd path in the generated unit), in
// $SYSTEMD_UNIT_PATH (the target of the link to the system's template) and in its output directory (the
// target of the link to the generated template; there systemd's mkdir_parents() also refuses to make
// sockets.target.wants/ under a ".." path, so that link fails); systemd-ssh-issue in --issue-path.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathSimplify, simplifyComponents } from "../../src/shared/path.ts";
import { ensureBuilt } from "../helpers/build.ts";
import { byteTree } from "../helpers/byte-tree.ts";
import { requireReference } from "../helpers/reference.ts";
import { runSync, type Ran } from "../helpers/spawn.ts";
import { isolatedRoot, runOn } from "../generator/harness.ts";
import { DIST, removeDir, tempDir } from "../helpers/tmp.ts";

const ref = requireReference("262");
const base = tempDir("path-dotdot");
afterAll(() => removeDir(base));
beforeAll(async () => {
  await ensureBuilt();
});

describe("pathSimplify", () => {
  test("path_simplify", () => {
    const cases: [string, string][] = [
      ["", ""],
      ["/", "/"],
      ["//", "/"],
      ["///foo//./bar/.", "/foo/bar"],
      [".//./foo//./bar/.", "foo/bar"],
      ["/../foo/bar", "/foo/bar"],
      ["/../foo/bar/..", "/foo/bar/.."],
      ["./", "."],
      ["a/../b/", "a/../b"],
      ["/a/.b/", "/a/.b"],
    ];
    for (const [input, out] of cases) expect(pathSimplify(input)).toBe(out);
  });

  // pathSimplify() returns a path it finds already simple untouched; every path built from these pieces
  // must come out as the component walk makes it, including components just at and past NAME_MAX.
  test("the already-simple shortcut agrees with the component walk", () => {
    const pieces = ["/", "/", ".", "..", "a", "bc", "./", "é", "x".repeat(84), "x".repeat(85), "y".repeat(255), "€".repeat(85), "€".repeat(86)];
    let seed = 1;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
    let shortcut = 0;
    for (let n = 0; n < 20000; n++) {
      let path = "";
      for (let k = next() % 7; k >= 0; k--) path += pieces[next() % pieces.length];
      for (const byteString of [false, true]) {
        const want = simplifyComponents(path, byteString);
        expect(pathSimplify(path, byteString)).toBe(want);
        if (want === path) shortcut++;
      }
    }
    expect(shortcut).toBeGreaterThan(1000);
  });
});

interface GenCase {
  name: string;
  /** The environment and output directory, given the scratch root; sshd@.service in units/ when `unit`. */
  setup(root: string): { env: Record<string, string>; dest: string; unit?: boolean };
  /** What systemd 262's result shows, so the case tests what it says. */
  check(r: Ran & { tree: string[] }, root: string): void;
}

const CASES: GenCase[] = [
  {
    name: "$PATH entry /..ROOT/bin: the sshd path in the template",
    setup: (root) => ({ env: { PATH: `/..${root}/bin` }, dest: `${root}/out` }),
    check(r, root) {
      expect(r.tree.find((l) => l.startsWith("F sshd-generated@.service"))).toContain(`ExecStart=-${root}/bin/sshd -i`);
    },
  },
  {
    name: "$SYSTEMD_UNIT_PATH /../..ROOT/units: the link to the system's template",
    setup: (root) => ({ env: { SYSTEMD_UNIT_PATH: `/../..${root}/units` }, dest: `${root}/out`, unit: true }),
    check(r, root) {
      expect(r.tree).toContain(`L sshd-unix-local@.service -> ${root}/units/sshd@.service`);
    },
  },
  {
    name: "output directory /..ROOT/out: the link to the generated template; no sockets.target.wants/",
    setup: (root) => ({ env: {}, dest: `/..${root}/out` }),
    check(r, root) {
      expect(r.tree).toContain(`L sshd-unix-local@.service -> ${root}/out/sshd-generated@.service`);
      expect(r.stderr).toContain(`Failed to create symlink /..${root}/out/sockets.target.wants/sshd-unix-local.socket: No such file or directory\n`);
      expect(r.status).toBe(1);
    },
  },
];

function generate(cmd: readonly string[], root: string, c: GenCase): Ran & { tree: string[] } {
  removeDir(root);
  const isolated = isolatedRoot(root);
  mkdirSync(join(root, "out"));
  const { env, dest, unit } = c.setup(root);
  if (unit) writeFileSync(join(root, "units/sshd@.service"), "[Unit]\n");
  return { ...runOn(cmd, dest, { env: { ...isolated, ...env } }), tree: byteTree(join(root, "out")) };
}

describe.skipIf(!ref)("paths that start with /.., like systemd 262", () => {
  for (const c of CASES) {
    test(`generator, ${c.name}`, () => {
      const root = join(base, "gen");
      const theirs = generate(ref!.direct("systemd-ssh-generator"), root, c);
      c.check(theirs, root);
      expect(generate([join(DIST, "systemd-ssh-generator")], root, c)).toEqual(theirs);
    });
  }

  test("systemd-ssh-issue, --issue-path=/..DIR/x: the path it names", () => {
    const dir = join(base, "issue");
    mkdirSync(join(dir, "x"), { recursive: true });
    const run = (bin: string) => runSync([bin, "rm-vsock", `--issue-path=/..${dir}/x`], { cwd: dir, env: { PATH: "/usr/bin:/bin" } });
    const theirs = run(ref!.tool("systemd-ssh-issue"));
    expect(theirs.stderr).toBe(`Failed to remove '${dir}/x': Is a directory\n`);
    expect(run(join(DIST, "systemd-ssh-issue"))).toEqual(theirs);
  });
});

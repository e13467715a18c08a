// systemd-ssh-issue takes --issue-path (and every other argument, and the working directory a relative
// path is made absolute against) as bytes, as systemd 262 does: a path that is not UTF-8 is the one removed
// or written, and is named byte for byte in messages. Bun decodes argv as UTF-8 (replacing invalid bytes)
// and node:fs encodes strings as UTF-8, which once made us act on, and name, another path.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { snapshotModes as snapshot } from "../helpers/byte-tree.ts";
import { ensureBuilt } from "../helpers/build.ts";
import { requireReference } from "../helpers/reference.ts";
import { runBytesSync, type Ran } from "../helpers/spawn.ts";
import { DIST, removeDir, tempDir } from "../helpers/tmp.ts";
import { canFakeVm, cleanEnv, runBothInVm, type VmCase } from "../helpers/vm-chroot.ts";

const ref = requireReference("262");
const OURS = join(DIST, "systemd-ssh-issue");

// Invalid UTF-8 (\xff), valid UTF-8 (é), and a truncated sequence (\xe2\x82), in one name.
const NAME = "-\xff-\xc3\xa9-\xe2\x82";
const b = (s: string) => Buffer.from(s, "latin1");

interface Result extends Ran {
  /** The scratch directory afterwards: names, modes, contents, link targets as byte strings. */
  files: Record<string, string>;
}

/** Run `bin` with byte-string arguments in a byte-string working directory. */
const run = (bin: string, args: string[], cwd: string): Ran =>
  runBytesSync(bin, args, { cwd, env: cleanEnv({ SYSTEMD_LOG_LEVEL: "debug" }), timeoutMs: 10000 });

interface Case {
  name: string;
  args: (d: string) => string[];
  setup?: (d: string) => void;
  /** Working directory, relative to the scratch directory (default: the scratch directory). */
  cwd?: string;
  /** What must hold for the reference's result, so the case tests what it says. */
  check: (r: Result, d: string) => void;
}

const LONG_OK = "\xc3\xa9".repeat(100); // 200 bytes: a valid component (100 characters in UTF-8)
const TOO_LONG = "\xff".repeat(256); // 256 bytes: longer than NAME_MAX

const CASES: Case[] = [
  {
    name: "rm-vsock removes a file named in bytes",
    args: (d) => ["rm-vsock", `--issue-path=${d}/f${NAME}`],
    setup: (d) => writeFileSync(b(`${d}/f${NAME}`), "x"),
    check: (r, d) => {
      expect(r.files).toEqual({});
      expect(r.stderr).toBe(`Successfully removed '${d}/f${NAME}'.\n`);
    },
  },
  {
    name: "rm-vsock: a missing file named in bytes",
    args: (d) => ["rm-vsock", "--issue-path", `${d}/f${NAME}`],
    setup: (d) => writeFileSync(b(`${d}/f`), "keep"),
    check: (r, d) => expect(r.stderr).toBe(`File '${d}/f${NAME}' does not exist, no operation executed.\n`),
  },
  {
    name: "rm-vsock: a directory named in bytes is an error",
    args: (d) => ["rm-vsock", `--issue-path=${d}/dir${NAME}`],
    setup: (d) => mkdirSync(b(`${d}/dir${NAME}`)),
    check: (r, d) => {
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(`Failed to remove '${d}/dir${NAME}': Is a directory\n`);
    },
  },
  {
    name: "rm-vsock: a file named in bytes as parent is an error",
    args: (d) => ["rm-vsock", `--issue-path=${d}/p${NAME}/f`],
    setup: (d) => writeFileSync(b(`${d}/p${NAME}`), ""),
    check: (r) => expect(r.status).toBe(1),
  },
  {
    name: "rm-vsock: a link named in bytes is removed, not its target",
    args: (d) => ["rm-vsock", `--issue-path=${d}/l${NAME}`],
    setup: (d) => {
      writeFileSync(b(`${d}/t${NAME}`), "keep");
      symlinkSync(b(`t${NAME}`), b(`${d}/l${NAME}`));
    },
    check: (r) => expect(Object.keys(r.files)).toEqual([`t${NAME}`]),
  },
  {
    name: "relative path, working directory named in bytes",
    args: () => ["rm-vsock", `--issue-path=./f${NAME}//`],
    setup: (d) => {
      mkdirSync(b(`${d}/cwd${NAME}`));
      writeFileSync(b(`${d}/cwd${NAME}/f${NAME}`), "");
    },
    cwd: `cwd${NAME}`,
    check: (r, d) => expect(r.stderr).toBe(`Successfully removed '${d}/cwd${NAME}/f${NAME}'.\n`),
  },
  {
    name: "relative path in an error message, working directory named in bytes",
    args: () => ["rm-vsock", `--issue-path=dir${NAME}/`],
    setup: (d) => mkdirSync(b(`${d}/cwd${NAME}/dir${NAME}`), { recursive: true }),
    cwd: `cwd${NAME}`,
    check: (r, d) => expect(r.stderr).toBe(`Failed to remove '${d}/cwd${NAME}/dir${NAME}': Is a directory\n`),
  },
  {
    name: "a 200-byte component (100 characters) is simplified like any other",
    args: (d) => ["rm-vsock", `--issue-path=${d}/${LONG_OK}/./f`],
    setup: (d) => {
      mkdirSync(b(`${d}/${LONG_OK}`));
      writeFileSync(b(`${d}/${LONG_OK}/f`), "");
    },
    check: (r, d) => expect(r.stderr).toBe(`Successfully removed '${d}/${LONG_OK}/f'.\n`),
  },
  {
    name: "a component longer than NAME_MAX bytes stops simplification",
    args: (d) => ["rm-vsock", `--issue-path=${d}//${TOO_LONG}/./f/`],
    check: (r, d) => expect(r.stderr).toBe(`Failed to remove '${d}/${TOO_LONG}/./f/': File name too long\n`),
  },
  {
    name: "an unknown verb in bytes",
    args: () => ["rm-vsoc\xff"],
    check: (r) => expect(r.stderr).toBe("Unknown command verb 'rm-vsoc\xff', did you mean 'rm-vsock'?\n"),
  },
  {
    name: "an unknown option in bytes",
    args: () => [`--bogus${NAME}=1`, "rm-vsock"],
    check: (r) => expect(r.stderr).toBe(`systemd-ssh-issue: unrecognized option '--bogus${NAME}'\n`),
  },
];

describe.skipIf(!ref)("systemd-ssh-issue with paths and arguments in bytes, like systemd 262", () => {
  beforeAll(async () => {
    await ensureBuilt();
  });

  for (const c of CASES) {
    test(c.name, () => {
      const dir = tempDir("issue-bytes");
      try {
        const [theirs, ours] = [ref!.tool("systemd-ssh-issue"), OURS].map((bin): Result => {
          for (const n of readdirSync(b(dir), { encoding: "buffer" })) rmSync(Buffer.concat([b(`${dir}/`), n]), { recursive: true, force: true });
          c.setup?.(dir);
          const r = run(bin, c.args(dir), c.cwd ? `${dir}/${c.cwd}` : dir);
          return { ...r, files: snapshot(dir) };
        });
        c.check(theirs!, dir);
        expect(ours).toEqual(theirs!);
      } finally {
        removeDir(dir);
      }
    });
  }
});

describe.skipIf(!ref || !canFakeVm)("systemd-ssh-issue make-vsock in a VM, paths in bytes, like systemd 262", () => {
  let scratch: string;
  beforeAll(async () => {
    await ensureBuilt();
    scratch = tempDir("issue-vm-bytes");
  });
  afterAll(() => removeDir(scratch));

  const cases: VmCase[] = [
    { name: "file and missing parents named in bytes", args: (d) => ["make-vsock", `--issue-path=${d}/run${NAME}/issue.d/f${NAME}`] },
    {
      name: "replaces a file named in bytes",
      args: (d) => ["make-vsock", `--issue-path=${d}/f${NAME}`],
      setup: (d) => writeFileSync(b(`${d}/f${NAME}`), "old\n", { mode: 0o600 }),
    },
    { name: "a directory named in bytes in the way", args: (d) => ["make-vsock", `--issue-path=${d}/f${NAME}`], setup: (d) => mkdirSync(b(`${d}/f${NAME}`)) },
    { name: "a file named in bytes as parent", args: (d) => ["make-vsock", `--issue-path=${d}/p${NAME}/f`], setup: (d) => writeFileSync(b(`${d}/p${NAME}`), "") },
  ];

  test("make-vsock: same output, status and files as systemd 262", () => {
    const runs = runBothInVm(cases, [ref!.tool("systemd-ssh-issue"), OURS], scratch);
    cases.forEach((c, i) => {
      const [theirs, ours] = runs[i]!;
      expect({ name: c.name, ...ours }).toEqual({ name: c.name, ...theirs });
    });
    // It did write the hint, under the name given; and the errors name their paths (compared above).
    expect(runs[0]![1].files[`run${NAME}/issue.d/f${NAME}`]).toMatch(/^file 644 "Try contacting this VM's SSH server via 'ssh vsock%\d+' from host\.\\n\\n"$/);
    expect(runs[2]![1].stderr).toContain(`/case2/f${NAME}'`);
    expect(runs[3]![1].stderr).toContain(`/case3/p${NAME}/f'`);
  });
});

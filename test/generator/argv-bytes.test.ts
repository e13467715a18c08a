// The output directory is bytes, as systemd takes it: a name that is not UTF-8 (or is) must be written
// into and printed exactly as given. process.argv decodes arguments as UTF-8 and replaces invalid bytes,
// which once made us write into, and name, another directory than the one we were given.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureBuilt } from "../helpers/build.ts";
import { requireReference } from "../helpers/reference.ts";
import { tempDir } from "../helpers/tmp.ts";
import { runBytesSync } from "../helpers/spawn.ts";
import { byteTree } from "../helpers/byte-tree.ts";
import { OURS } from "./harness.ts";

const ref = requireReference("262");
const base = tempDir("gen-argv");
afterAll(() => rmSync(base, { recursive: true, force: true }));
beforeAll(async () => {
  await ensureBuilt();
});

// Invalid UTF-8 (\xff), valid UTF-8 (é), and a truncated sequence (\xe2\x82), in one directory name.
const NAME = "out-\xff-\xc3\xa9-\xe2\x82";
const bytes = (s: string) => Buffer.from(s, "latin1");

interface Result {
  status: number;
  stderr: string;
  /** Everything under the scratch root (names and link targets as latin1 byte strings). */
  tree: string[];
}

/** Run a generator with `root/NAME` as its one argument, passed byte for byte through printf(1). */
function run(cmd: readonly string[], root: string, create: boolean): Result {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(join(root, "bin"), { recursive: true });
  mkdirSync(join(root, "units"));
  writeFileSync(join(root, "bin", "sshd"), "#!/bin/sh\nexit 0\n");
  chmodSync(join(root, "bin", "sshd"), 0o755);
  if (create) mkdirSync(bytes(`${root}/${NAME}`));
  const r = runBytesSync(cmd[0]!, [...cmd.slice(1), `${root}/${NAME}`], {
    env: {
      PATH: join(root, "bin"), SYSTEMD_LOG_LEVEL: "debug", SYSTEMD_LOG_TARGET: "console", SYSTEMD_PROC_CMDLINE: "",
      SYSTEMD_UNIT_PATH: join(root, "units"), CREDENTIALS_DIRECTORY: join(root, "nocreds"),
      ENCRYPTED_CREDENTIALS_DIRECTORY: join(root, "nocreds"), SYSTEMD_SSH_TARGET_VERSION: "262",
    },
  });
  const stderr = r.stderr.replace(/^Generating units in the form of systemd .*\n/m, "");
  return { status: r.status, stderr, tree: byteTree(root).filter((e) => !/^[DF] (bin|units)\b/.test(e)) };
}

describe("an output directory named in bytes that are not all UTF-8", () => {
  for (const [label, cmd] of Object.entries(OURS)) {
    test(`${label}: writes into exactly that directory, and names it so`, () => {
      const root = join(base, "ours");
      const r = run(cmd, root, true);
      expect(r.status).toBe(0);
      expect(r.tree).toContain(`D ${NAME}`);
      expect(r.tree.some((e) => e.startsWith(`F ${NAME}/sshd-unix-local.socket\n`))).toBe(true);
      // The link's target is the generated template, in the directory as given.
      expect(r.tree).toContain(`L ${NAME}/sshd-unix-local@.service -> ${root}/${NAME}/sshd-generated@.service`);
      expect(r.tree.filter((e) => e.startsWith("D "))).toEqual([`D ${NAME}`, `D ${NAME}/sockets.target.wants`]);
    });

    test(`${label}: a missing directory is named byte for byte`, () => {
      const r = run(cmd, join(base, "ours"), false);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`Failed to create unit file '${base}/ours/${NAME}/sshd-generated@.service': No such file or directory\n`);
    });
  }

  describe.skipIf(!ref)("like systemd 262", () => {
    for (const create of [true, false]) {
      for (const [label, cmd] of Object.entries(OURS)) {
        test(`${label}, directory ${create ? "present" : "missing"}`, () => {
          const root = join(base, "cmp");
          const theirs = run(ref!.direct("systemd-ssh-generator"), root, create);
          const ours = run(cmd, root, create);
          expect(ours).toEqual(theirs);
        });
      }
    }
  });
});

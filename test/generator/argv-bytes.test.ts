// The output directory is bytes, as systemd takes it: a name that is not UTF-8 (or is) must be written
// into and printed exactly as given. process.argv decodes arguments as UTF-8 and replaces invalid bytes,
// which once made us write into, and name, another directory than the one we were given.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ensureBuilt } from "../helpers/build.ts";
import { requireReference } from "../helpers/reference.ts";
import { tempDir } from "../helpers/tmp.ts";
import { byteTree } from "../helpers/byte-tree.ts";
import { isolatedRoot, OURS, runOn, type Snapshot } from "./harness.ts";

const ref = requireReference("262");
const base = tempDir("gen-argv");
afterAll(() => rmSync(base, { recursive: true, force: true }));
beforeAll(async () => {
  await ensureBuilt();
});

// Invalid UTF-8 (\xff), valid UTF-8 (é), and a truncated sequence (\xe2\x82), in one directory name.
const NAME = "out-\xff-\xc3\xa9-\xe2\x82";
const bytes = (s: string) => Buffer.from(s, "latin1");

/**
 * Run a generator with `root/NAME` as its one argument, passed byte for byte through printf(1); its tree is
 * everything under the scratch root but bin/ and units/ (names and link targets as latin1 byte strings).
 */
function run(cmd: readonly string[], root: string, create: boolean): Snapshot {
  rmSync(root, { recursive: true, force: true });
  const env = isolatedRoot(root);
  if (create) mkdirSync(bytes(`${root}/${NAME}`));
  const { status, stderr } = runOn(cmd, `${root}/${NAME}`, { env });
  return { status, stderr, tree: byteTree(root).filter((e) => !/^[DF] (bin|units)\b/.test(e)) };
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

// The generator under a strict umask, like systemd 262: unit files get 0666 less the umask, as fopen(3)
// makes them, while the directories it makes (sockets.target.wants/) are 0755 whatever the umask, as
// mkdir_parents() makes them.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureBuilt } from "../helpers/build.ts";
import { requireReference } from "../helpers/reference.ts";
import { runSync } from "../helpers/spawn.ts";
import { removeDir, tempDir } from "../helpers/tmp.ts";
import { OURS, OUR_EXTRA_DEBUG, snapshot } from "./harness.ts";

const ref = requireReference("262");
const base = tempDir("gen-umask");
afterAll(() => removeDir(base));
beforeAll(async () => {
  await ensureBuilt();
});

function run(cmd: readonly string[]): { tree: string[]; status: number; stderr: string } {
  const root = join(base, "root");
  removeDir(root);
  mkdirSync(join(root, "bin"), { recursive: true });
  mkdirSync(join(root, "out"));
  writeFileSync(join(root, "bin/sshd"), "#!/bin/sh\n");
  chmodSync(join(root, "bin/sshd"), 0o755);
  const r = runSync(["/bin/sh", "-c", 'umask 077 && exec "$@"', "sh", ...cmd, join(root, "out")], {
    env: {
      PATH: join(root, "bin"), SYSTEMD_LOG_LEVEL: "debug", SYSTEMD_LOG_TARGET: "console", SYSTEMD_PROC_CMDLINE: "systemd.ssh_listen=2222",
      SYSTEMD_UNIT_PATH: join(root, "units"), CREDENTIALS_DIRECTORY: join(root, "nocreds"),
      ENCRYPTED_CREDENTIALS_DIRECTORY: join(root, "nocreds"), SYSTEMD_SSH_TARGET_VERSION: "262",
    },
    encoding: "latin1",
  });
  return { tree: snapshot(join(root, "out")), status: r.status, stderr: r.stderr.replace(OUR_EXTRA_DEBUG, "") };
}

describe.skipIf(!ref)("umask 077, like systemd 262", () => {
  for (const [label, cmd] of Object.entries(OURS)) {
    test(label, () => {
      const theirs = run(ref!.direct("systemd-ssh-generator"));
      expect(theirs.tree).toContain("D sockets.target.wants 755");
      expect(theirs.tree.some((l) => l.startsWith("F sshd-unix-local.socket 600\n"))).toBe(true);
      expect(run(cmd)).toEqual(theirs);
    });
  }
});

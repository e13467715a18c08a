// Paths from the environment are bytes, as for systemd: $PATH (where sshd is found, and the path written into
// the generated unit), $CREDENTIALS_DIRECTORY and $ENCRYPTED_CREDENTIALS_DIRECTORY, $SYSTEMD_UNIT_PATH (and a
// relative entry in it, against a working directory named in bytes). We read the environment raw, but once
// passed those byte strings to node:fs as strings, which encoded every byte above 0x7f as two: a directory
// named "é" or "\xff" was never found, or a different one was.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureBuilt } from "../helpers/build.ts";
import { requireReference } from "../helpers/reference.ts";
import { tempDir } from "../helpers/tmp.ts";
import { runBytesSync } from "../helpers/spawn.ts";
import { byteTree } from "../helpers/byte-tree.ts";
import { OURS } from "./harness.ts";

const ref = requireReference("262");
const base = tempDir("gen-env-bytes");
afterAll(() => rmSync(base, { recursive: true, force: true }));
beforeAll(async () => {
  await ensureBuilt();
});

// Invalid UTF-8 (\xff), valid UTF-8 (é), and a truncated sequence (\xe2\x82), in one name.
const NAME = "-\xff-\xc3\xa9-\xe2\x82";
const b = (s: string) => Buffer.from(s, "latin1");

const TEMPLATE = "[Unit]\nDescription=test sshd template\n[Service]\nExecStart=-/usr/sbin/sshd -i\nStandardInput=socket\n";

function stub(path: string): void {
  writeFileSync(b(path), "#!/bin/sh\nexit 0\n");
  chmodSync(b(path), 0o755);
}

interface Case {
  name: string;
  /** Prepare `root` (a byte string); return the environment (byte strings) and the working directory. */
  setup(root: string): { env: Record<string, string>; cwd?: string };
  /** The reference's exit status (default 0). */
  status?: number;
  /** What must hold for the reference's result, so the case tests what it says. */
  check(r: Result, root: string): void;
}

/** The environment every case starts from: nothing found outside `root`. */
function baseEnv(root: string): Record<string, string> {
  mkdirSync(b(`${root}/bin`));
  stub(`${root}/bin/sshd`);
  mkdirSync(b(`${root}/units`));
  return {
    PATH: `${root}/bin`, SYSTEMD_LOG_LEVEL: "debug", SYSTEMD_LOG_TARGET: "console", SYSTEMD_PROC_CMDLINE: "",
    SYSTEMD_UNIT_PATH: `${root}/units`, CREDENTIALS_DIRECTORY: `${root}/nocreds`,
    ENCRYPTED_CREDENTIALS_DIRECTORY: `${root}/nocreds`, SYSTEMD_SSH_TARGET_VERSION: "262",
  };
}

const CASES: Case[] = [
  {
    name: "sshd found in a $PATH directory named in bytes (its path goes into the unit)",
    setup(root) {
      const env = baseEnv(root);
      mkdirSync(b(`${root}/bin${NAME}`));
      stub(`${root}/bin${NAME}/sshd`);
      return { env: { ...env, PATH: `${root}/none${NAME}:${root}/bin${NAME}:${root}/bin` } };
    },
    check(r, root) {
      expect(r.tree.find((e) => e.startsWith("F sshd-generated@.service"))).toContain(`ExecStart=-${root}/bin${NAME}/sshd -i`);
    },
  },
  // $PATH is split as systemd's extract_first_word() splits it: a backslash takes the next byte as it is.
  {
    name: "a backslash in a $PATH entry is dropped, the byte after it kept",
    setup(root) {
      return { env: { ...baseEnv(root), PATH: `${root}/none:${root}/b\\in` } };
    },
    check(r, root) {
      expect(r.tree.find((e) => e.startsWith("F sshd-generated@.service"))).toContain(`ExecStart=-${root}/bin/sshd -i`);
    },
  },
  {
    name: "an escaped colon is part of the $PATH entry",
    setup(root) {
      const env = baseEnv(root);
      mkdirSync(b(`${root}/x:y${NAME}`));
      stub(`${root}/x:y${NAME}/sshd`);
      return { env: { ...env, PATH: `${root}/none:${root}/x\\:y${NAME}` } };
    },
    check(r, root) {
      expect(r.tree.find((e) => e.startsWith("F sshd-generated@.service"))).toContain(`${root}/x:y${NAME}/sshd`);
    },
  },
  {
    name: "a doubled backslash in a $PATH entry is one backslash",
    setup(root) {
      const env = baseEnv(root);
      mkdirSync(b(`${root}/a\\b`));
      stub(`${root}/a\\b/sshd`);
      return { env: { ...env, PATH: `${root}/a\\\\b` } };
    },
    check(r, root) {
      expect(r.tree.find((e) => e.startsWith("F sshd-generated@.service"))).toContain("/a\\");
    },
  },
  {
    name: "a backslash at the end of $PATH is dropped",
    setup(root) {
      return { env: { ...baseEnv(root), PATH: `${root}/none:${root}/bin\\` } };
    },
    check(r, root) {
      expect(r.tree.find((e) => e.startsWith("F sshd-generated@.service"))).toContain(`ExecStart=-${root}/bin/sshd -i`);
    },
  },
  {
    name: "a backslash inside the only $PATH entry and one at its end",
    setup(root) {
      return { env: { ...baseEnv(root), PATH: `${root}/bi\\n\\` } };
    },
    check(r) {
      expect(r.tree.find((e) => e.startsWith("F sshd-generated@.service"))).toBeDefined();
    },
  },
  // Messages are cut at LINE_MAX and split at every run of CR/LF (src/shared/log-core.ts, for all three tools).
  {
    name: "a 3000-byte kernel command line value, in a warning",
    setup(root) {
      const long = "y".repeat(3000);
      return { env: { ...baseEnv(root), SYSTEMD_PROC_CMDLINE: `systemd.ssh_listen=${NAME}${long}` } };
    },
    check(r) {
      // "Failed to parse systemd.ssh_listen= expression, ignoring: " and the value, 2047 bytes in all.
      expect(r.stderr).toContain(`ignoring: ${NAME}${"y".repeat(2047 - 58 - NAME.length)}\n`);
    },
  },
  {
    name: "sshd in the only $PATH directory, named in bytes, is a directory",
    setup(root) {
      const env = baseEnv(root);
      mkdirSync(b(`${root}/bin${NAME}`));
      mkdirSync(b(`${root}/bin${NAME}/sshd`));
      return { env: { ...env, PATH: `${root}/bin${NAME}` } };
    },
    status: 1,
    check(r) {
      expect(r.stderr).toContain("Is a directory");
    },
  },
  {
    name: "ssh.listen in a $CREDENTIALS_DIRECTORY named in bytes",
    setup(root) {
      const env = baseEnv(root);
      mkdirSync(b(`${root}/creds${NAME}`));
      writeFileSync(b(`${root}/creds${NAME}/ssh.listen`), b(`/run/ssh${NAME}.sock\n`));
      return { env: { ...env, CREDENTIALS_DIRECTORY: `${root}/creds${NAME}` } };
    },
    check(r) {
      expect(r.tree.find((e) => e.startsWith("F sshd-extra.socket"))).toContain("ListenStream=/run/ssh-\\377-\\303\\251-\\342\\202.sock");
    },
  },
  {
    name: "sshd@.service in a $SYSTEMD_UNIT_PATH directory named in bytes",
    setup(root) {
      const env = baseEnv(root);
      mkdirSync(b(`${root}/units${NAME}`));
      writeFileSync(b(`${root}/units${NAME}/sshd@.service`), TEMPLATE);
      return { env: { ...env, SYSTEMD_UNIT_PATH: `${root}/units${NAME}` } };
    },
    check(r, root) {
      expect(r.tree).toContain(`L sshd-unix-local@.service -> ${root}/units${NAME}/sshd@.service`);
    },
  },
  {
    name: "sshd@.service linked to a file in a directory named in bytes",
    setup(root) {
      const env = baseEnv(root);
      mkdirSync(b(`${root}/units${NAME}`));
      mkdirSync(b(`${root}/other${NAME}`));
      writeFileSync(b(`${root}/other${NAME}/sshd@.service`), TEMPLATE);
      symlinkSync(b(`../other${NAME}/sshd@.service`), b(`${root}/units${NAME}/sshd@.service`));
      return { env: { ...env, SYSTEMD_UNIT_PATH: `${root}/units${NAME}` } };
    },
    check(r, root) {
      expect(r.stderr).toContain(`Linked unit file: ${root}/units${NAME}/sshd@.service \xe2\x86\x92 ${root}/other${NAME}/sshd@.service`);
    },
  },
  {
    name: "sshd@.service an alias, in a directory named in bytes",
    setup(root) {
      const env = baseEnv(root);
      mkdirSync(b(`${root}/units${NAME}`));
      writeFileSync(b(`${root}/units${NAME}/ssh@.service`), TEMPLATE);
      symlinkSync("ssh@.service", b(`${root}/units${NAME}/sshd@.service`));
      return { env: { ...env, SYSTEMD_UNIT_PATH: `${root}/units${NAME}` } };
    },
    check(r, root) {
      expect(r.tree).toContain(`L sshd-unix-local@.service -> ${root}/units${NAME}/ssh@.service`);
    },
  },
  {
    name: "sshd@.service a dangling link into a directory named in bytes",
    setup(root) {
      const env = baseEnv(root);
      mkdirSync(b(`${root}/other${NAME}`));
      symlinkSync(b(`${root}/other${NAME}/missing${NAME}`), b(`${root}/units/sshd@.service`));
      return { env };
    },
    check(r, root) {
      expect(r.stderr).toContain(`${root}/other${NAME}/missing${NAME}`);
    },
  },
  {
    name: "relative $SYSTEMD_UNIT_PATH entry, working directory named in bytes",
    setup(root) {
      const env = baseEnv(root);
      mkdirSync(b(`${root}/cwd${NAME}`));
      mkdirSync(b(`${root}/cwd${NAME}/units${NAME}`));
      writeFileSync(b(`${root}/cwd${NAME}/units${NAME}/sshd@.service`), TEMPLATE);
      return { env: { ...env, SYSTEMD_UNIT_PATH: `units${NAME}` }, cwd: `${root}/cwd${NAME}` };
    },
    check(r, root) {
      expect(r.tree).toContain(`L sshd-unix-local@.service -> ${root}/cwd${NAME}/units${NAME}/sshd@.service`);
    },
  },
];

interface Result {
  status: number;
  stderr: string;
  /** The output directory: names, contents and link targets as byte strings. */
  tree: string[];
}

/** Run a generator on a fresh `root` set up by `c`; environment and working directory passed byte for byte. */
function run(cmd: readonly string[], root: string, c: Case): Result {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(join(root, "out"), { recursive: true });
  const { env, cwd } = c.setup(root);
  const r = runBytesSync(cmd[0]!, [...cmd.slice(1), `${root}/out`], { env, cwd });
  const stderr = r.stderr.replace(/^Generating units in the form of systemd .*\n/m, "");
  return { status: r.status, stderr, tree: byteTree(`${root}/out`) };
}

describe.skipIf(!ref)("paths from the environment named in bytes, like systemd 262", () => {
  for (const c of CASES) {
    describe(c.name, () => {
      test("systemd 262 (the case tests what it says)", () => {
        const root = join(base, "ref");
        const theirs = run(ref!.direct("systemd-ssh-generator"), root, c);
        expect(theirs.status).toBe(c.status ?? 0);
        c.check(theirs, root);
      });
      for (const [label, cmd] of Object.entries(OURS)) {
        test(label, () => {
          const root = join(base, "cmp");
          const theirs = run(ref!.direct("systemd-ssh-generator"), root, c);
          const ours = run(cmd, root, c);
          expect(ours).toEqual(theirs);
        });
      }
    });
  }
});

// Where we differ from 262 on purpose (we cannot decrypt credentials: a warning instead of 262's attempt), the
// encrypted credential is still found and named byte for byte.
describe("an $ENCRYPTED_CREDENTIALS_DIRECTORY named in bytes", () => {
  const encrypted: Case = {
    name: "encrypted ssh.listen",
    setup(root) {
      const env = baseEnv(root);
      mkdirSync(b(`${root}/enc${NAME}`));
      writeFileSync(b(`${root}/enc${NAME}/ssh.listen`), "x");
      return { env: { ...env, ENCRYPTED_CREDENTIALS_DIRECTORY: `${root}/enc${NAME}` } };
    },
    check() {},
  };
  for (const [label, cmd] of Object.entries(OURS)) {
    test(`${label}: the encrypted ssh.listen is found and named`, () => {
      const root = join(base, "enc");
      const r = run(cmd, root, encrypted);
      expect(r.status).toBe(0);
      expect(r.stderr).toContain(`Credential 'ssh.listen' in ${root}/enc${NAME}/ssh.listen is encrypted, which this generator cannot decrypt, ignoring.\n`);
    });
  }
});

// systemd-ssh-generator against systemd 262's and 257's, byte for byte: the written tree (names, bytes, modes, symlink
// targets), the exit status and the log on stderr. Fixed cases, then a seeded random sweep
// ($GEN_DIFF_SEED, $GEN_DIFF_CASES). Skips when the reference is not fetched; with CI=true that fails.

import { afterAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { type Case, runOurs, runReference, scratch } from "./harness.ts";
import { Gen, rng } from "./random-input.ts";
import { type Reference, requireReference } from "../helpers/reference.ts";

const base = scratch();
afterAll(() => rmSync(base, { recursive: true, force: true }));

function compare(ref: Reference, c: Case, label: string): void {
  const root = join(base, "root");
  const theirs = runReference(ref, c, root);
  const ours = runOurs(c, root, ref.version);
  if (JSON.stringify(ours) !== JSON.stringify(theirs)) {
    expect({ label, case: c, ...ours }).toEqual({ label, case: c, ...theirs });
  }
}

const FIXED: Array<[string, Case]> = [
  ["defaults", { cmdline: "", credential: null, sshd: "stub", template: "none" }],
  ["no sshd", { cmdline: "systemd.ssh_listen=22", credential: null, sshd: "none", template: "none" }],
  ["sshd is a directory", { cmdline: "", credential: null, sshd: "dir", template: "none" }],
  ["sshd not executable", { cmdline: "", credential: null, sshd: "noexec", template: "none" }],
  ["auto off", { cmdline: "systemd.ssh_auto=0", credential: null, sshd: "stub", template: "none" }],
  ["auto off, listen", { cmdline: "systemd.ssh_auto=no systemd.ssh_listen=22", credential: null, sshd: "stub", template: "none" }],
  ["bare auto", { cmdline: "systemd.ssh_auto=0 systemd-ssh-auto", credential: null, sshd: "stub", template: "none" }],
  ["bad bool", { cmdline: "systemd.ssh_auto=maybe", credential: null, sshd: "stub", template: "none" }],
  ["missing value", { cmdline: "systemd.ssh_listen systemd.ssh-listen", credential: null, sshd: "stub", template: "none" }],
  ["bases", { cmdline: "systemd.ssh_listen=0x16 systemd.ssh_listen=022 systemd.ssh_listen=0b10110 systemd.ssh_listen=0o26 systemd.ssh_listen=22", credential: null, sshd: "stub", template: "none" }],
  ["families", { cmdline: "systemd.ssh_listen=1.2.3.4:22 systemd.ssh_listen=[::1]:22 systemd.ssh_listen=[fe80::1]:22%lo systemd.ssh_listen=vsock:2:22 systemd.ssh_listen=vsock::22 systemd.ssh_listen=vsock:host:1 systemd.ssh_listen=@abs systemd.ssh_listen=/run/x.sock", credential: null, sshd: "stub", template: "none" }],
  ["seqpacket aborts the command line", { cmdline: "systemd.ssh_listen=22 systemd.ssh_listen=vsock-seqpacket:2:22 systemd.ssh_listen=23", credential: "24\nvsock-seqpacket:1:1\n25\n", sshd: "stub", template: "none" }],
  ["escapes", { cmdline: "systemd.ssh_listen=\"/a b\\\"c\" systemd.ssh_listen=/x\x01\x7f\xe9\xff'", credential: "/q\t\"x\\y\n@\x1bz\n", sshd: "stub", template: "none" }],
  ["rd. only in initrd", { cmdline: "rd.systemd.ssh_listen=22 rd.systemd.ssh_auto=0", credential: null, sshd: "stub", template: "none" }],
  ["credential only", { cmdline: "", credential: "# comment\n22\n\n  [::]:2222  \r\n1.2.3.4:5\0/x\n22\n", sshd: "stub", template: "none" }],
  ["long credential line", { cmdline: "", credential: `22\n${"1".repeat(2047)}\n23\n`, sshd: "stub", template: "none" }],
  ["line of 2047", { cmdline: "", credential: `22\n/${"a".repeat(2046)}\n23`, sshd: "stub", template: "none" }],
  ["duplicates sort", { cmdline: "systemd.ssh_listen=22 systemd.ssh_listen=0x16 systemd.ssh_listen=@b systemd.ssh_listen=@a", credential: "22\n@a\n", sshd: "stub", template: "none" }],
  ["template file", { cmdline: "systemd.ssh_listen=22", credential: null, sshd: "stub", template: "file" }],
  ["template empty", { cmdline: "systemd.ssh_listen=22", credential: null, sshd: "stub", template: "empty" }],
  ["template symlink", { cmdline: "systemd.ssh_listen=22", credential: null, sshd: "stub", template: "symlink" }],
  ["template alias", { cmdline: "systemd.ssh_listen=22", credential: null, sshd: "stub", template: "alias" }],
  ["template dangling", { cmdline: "systemd.ssh_listen=22", credential: null, sshd: "stub", template: "dangling" }],
  ["template masked", { cmdline: "systemd.ssh_listen=22", credential: null, sshd: "stub", template: "devnull" }],
  ["unit directory through a symlink", { cmdline: "systemd.ssh_listen=22", credential: null, sshd: "stub", template: "dirlink" }],
  ["alias to an invalid unit name", { cmdline: "systemd.ssh_listen=22", credential: null, sshd: "stub", template: "alias-invalid" }],
  ["alias to another unit type", { cmdline: "systemd.ssh_listen=22", credential: null, sshd: "stub", template: "alias-socket" }],
  ["alias into a subdirectory", { cmdline: "systemd.ssh_listen=22", credential: null, sshd: "stub", template: "alias-subdir" }],
  ["self-alias", { cmdline: "systemd.ssh_listen=22", credential: null, sshd: "stub", template: "alias-self" }],
  ["sshd symlink", { cmdline: "", credential: null, sshd: "link", template: "none" }],
  ["one directory", { cmdline: "systemd.ssh_listen=22", credential: null, sshd: "stub", template: "none", args: 1 }],
  ["two arguments", { cmdline: "", credential: null, sshd: "stub", template: "none", args: 2 }],
  ["info level", { cmdline: "systemd.ssh_listen=x systemd.ssh_listen=22", credential: "y\n", sshd: "stub", template: "none", logLevel: "info" }],
  ["newline in a quoted value", { cmdline: "systemd.ssh_listen=\"a\nb\" systemd.ssh_listen='/p\nq' systemd.ssh_listen=\"\r\n\"", credential: null, sshd: "stub", template: "none" }],
  ["long message", { cmdline: `systemd.ssh_listen="${"z".repeat(3000)}"`, credential: null, sshd: "stub", template: "none" }],
];

for (const version of ["262", "257"] as const) {
  const ref = requireReference(version);
  describe.skipIf(!ref)(`generator vs systemd ${version}`, () => {
    for (const [label, c] of FIXED) test(label, () => compare(ref!, c, label));

    const seed = Number(process.env.GEN_DIFF_SEED ?? version);
    const count = Number(process.env.GEN_DIFF_CASES ?? (version === "262" ? 400 : 200));
    test(`random inputs (seed ${seed}, ${count} cases)`, () => {
      const g = new Gen(rng(seed));
      for (let i = 0; i < count; i++) compare(ref!, g.case(), `random #${i} (seed ${seed})`);
    }, 120_000);
  });
}

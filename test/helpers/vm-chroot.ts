// A private mount namespace and a chroot made of bind mounts of everything but /.dockerenv: programs run in
// it see a plain KVM guest instead of the docker container this machine looks like, so systemd-ssh-issue's
// make-vsock runs for real (creating an AF_VSOCK socket and reading our CID; nothing connects). Root only.

import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { snapshotModes } from "./byte-tree.ts";

export interface ChrootResult {
  code: number;
  /** Output as byte strings (latin1: one character per byte). */
  stdout: string;
  stderr: string;
}

/** Whether inVmChroot() can run here. */
export const canFakeVm = process.getuid?.() === 0 && Bun.which("unshare") !== null && Bun.which("chroot") !== null;

/** The environment of the test process without systemd's variables (they would change the tools' output). */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("SYSTEMD_") && k !== "NO_COLOR") env[k] = v;
  return { ...env, ...extra };
}

/**
 * Run `cmds` one after the other in one namespace (so one can prepare what the next sees). Command words
 * are byte strings (latin1: one character per byte), so paths not in UTF-8 pass through exactly; each
 * command's output is framed in a result file under `scratch`.
 */
export function inVmChroot(cmds: string[][], scratch: string, env: Record<string, string> = cleanEnv()): ChrootResult[] {
  const root = join(scratch, "root");
  mkdirSync(root);
  const results = join(scratch, "results");
  mkdirSync(results);
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const script = [
    "set -e",
    `mount -t tmpfs -o mode=755 tmpfs ${q(root)}`,
    // Every top-level directory, wherever the checkout, the reference and $TMPDIR live (CI clones outside
    // /work); Docker's /.dockerenv is a file, and only directories and links are taken.
    `for e in /* /.[!.]*; do`,
    `  x=\${e#/}; case "$x" in '*'|'.[!.]*') continue ;; esac`,
    `  if [ -L "$e" ]; then ln -s "$(readlink "$e")" ${q(root)}/"$x"; elif [ -d "$e" ]; then mkdir ${q(root)}/"$x"; mount --rbind "$e" ${q(root)}/"$x"; fi`,
    "done",
    "set +e",
    ...cmds.map((c, i) => `chroot ${q(root)} ${c.map(q).join(" ")} >${q(results)}/${i}.out 2>${q(results)}/${i}.err; echo $? >${q(results)}/${i}.rc`),
  ].join("\n");
  // A script file, written byte for byte: an argument string would reach sh encoded as UTF-8.
  const file = join(scratch, "script.sh");
  writeFileSync(file, Buffer.from(script, "latin1"));
  const p = Bun.spawnSync(["unshare", "--mount", "--propagation", "private", "sh", file], { env, timeout: 20000 });
  if (p.exitCode !== 0) throw new Error(`namespace setup failed: ${p.stderr.toString()}`);
  const out = cmds.map((_, i) => ({
    code: Number(readFileSync(join(results, `${i}.rc`), "latin1")),
    stdout: readFileSync(join(results, `${i}.out`), "latin1"),
    stderr: readFileSync(join(results, `${i}.err`), "latin1"),
  }));
  rmdirSync(root);
  // A program the chroot cannot see or start must not pass as "both programs failed alike".
  for (const [i, r] of out.entries()) {
    if (r.code >= 125 && r.code <= 127 && /^chroot: /m.test(r.stderr)) throw new Error(`the chroot did not run ${cmds[i]![0]}: ${r.stderr.trim()}`);
  }
  return out;
}

export interface VmCase {
  name: string;
  /** The arguments, given the case's directory (the same path for both programs: it is in messages). */
  args: (dir: string) => string[];
  setup?: (dir: string) => void;
  /** The umask to run the program with (octal, as sh's umask takes it); the chroot's own by default. */
  umask?: string;
}

export interface VmRun extends ChrootResult {
  files: Record<string, string>;
}

/**
 * Run each case with both programs in the faked VM, each on identical fresh state under the same path:
 * every program's prepared directory is renamed into place for its run and back afterwards.
 * Returns, per case, [the first program's run, the second's] with the directory's resulting contents.
 */
export function runBothInVm(cases: readonly VmCase[], bins: readonly [string, string], scratch: string): [VmRun, VmRun][] {
  const dirs = cases.flatMap((_, i) => [0, 1].map((k) => join(scratch, `case${i}-${k}`)));
  const cmds: string[][] = [];
  cases.forEach((c, i) => {
    const shared = join(scratch, `case${i}`);
    for (const [k, bin] of bins.entries()) {
      const d = dirs[i * 2 + k]!;
      mkdirSync(Buffer.from(d, "latin1"));
      c.setup?.(d);
      const umask = c.umask === undefined ? "" : `umask ${c.umask} && `;
      cmds.push(["sh", "-c", `rm -rf '${shared}' && mv '${d}' '${shared}' && ${umask}exec "$@"`, "sh", bin, ...c.args(shared)]);
      cmds.push(["sh", "-c", `mv '${shared}' '${d}'`]);
    }
  });
  const results = inVmChroot(cmds, scratch);
  return cases.map((_, i) => [0, 1].map((k) => ({ ...results[i * 4 + k * 2]!, files: snapshotModes(dirs[i * 2 + k]!) })) as [VmRun, VmRun]);
}

// Differential harness: run systemd's generator (reference) and ours on the same inputs, in the same output
// path one after the other, and compare the trees (names, bytes, modes, symlink targets), exit statuses and
// stderr (console log target, debug level).

import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "../../src/generator/args.ts";
import { nullSink, Logger } from "../../src/shared/log.ts";
import { runGenerator } from "../../src/generator/main.ts";
import { byteTree } from "../helpers/byte-tree.ts";
import type { Reference } from "../helpers/reference.ts";
import { printfArg, shQuote } from "../helpers/shell.ts";
import { runSync } from "../helpers/spawn.ts";
import { DIST, REPO } from "../helpers/tmp.ts";

export interface Case {
  /** Kernel command line as bytes (latin1 string); undefined: $SYSTEMD_PROC_CMDLINE unset is NOT used (always set). */
  cmdline: string;
  /** ssh.listen credential bytes (latin1), or null for none. */
  credential: string | null;
  sshd: "stub" | "link" | "none" | "dir" | "noexec";
  /** dirlink: a file, found through a $SYSTEMD_UNIT_PATH entry that is a symlink to the unit directory;
   * alias-invalid / alias-socket: an alias to a name that is not a valid unit name / to a socket template;
   * alias-subdir: an alias into a subdirectory of the unit directory (its name is looked up again);
   * alias-self: a link into that subdirectory, to the same name (a self-alias, refused). */
  template: "none" | "file" | "empty" | "symlink" | "alias" | "dangling" | "devnull" | "dirlink" | "alias-invalid" | "alias-socket"
    | "alias-subdir" | "alias-self";
  args?: number;
  logLevel?: string;
}

export interface Snapshot {
  tree: string[];
  status: number;
  stderr: string;
}

/** The test's scratch root, with bin/, units/, creds/ set up for a case. */
export function prepare(root: string, c: Case): { env: Record<string, string>; dest: string; dirs: string[] } {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  const bin = join(root, "bin");
  mkdirSync(bin);
  if (c.sshd === "stub") {
    writeFileSync(join(bin, "sshd"), "#!/bin/sh\nexit 0\n");
    chmodSync(join(bin, "sshd"), 0o755);
  } else if (c.sshd === "link") symlinkSync("/usr/sbin/sshd", join(bin, "sshd"));
  else if (c.sshd === "dir") mkdirSync(join(bin, "sshd"));
  else if (c.sshd === "noexec") writeFileSync(join(bin, "sshd"), "x");
  const units = join(root, "units");
  const other = join(root, "other");
  mkdirSync(units);
  mkdirSync(other);
  const tpl = "[Unit]\nDescription=test sshd template\n[Service]\nExecStart=-/usr/sbin/sshd -i\nStandardInput=socket\n";
  switch (c.template) {
    case "file": writeFileSync(join(units, "sshd@.service"), tpl); break;
    case "empty": writeFileSync(join(units, "sshd@.service"), ""); break;
    case "symlink":
      writeFileSync(join(other, "sshd@.service"), tpl);
      symlinkSync(join(other, "sshd@.service"), join(units, "sshd@.service"));
      break;
    case "alias":
      writeFileSync(join(units, "ssh@.service"), tpl);
      symlinkSync("ssh@.service", join(units, "sshd@.service"));
      break;
    case "dangling": symlinkSync(join(other, "missing@.service"), join(units, "sshd@.service")); break;
    case "devnull": symlinkSync("/dev/null", join(units, "sshd@.service")); break;
    case "dirlink":
      writeFileSync(join(units, "sshd@.service"), tpl);
      symlinkSync("units", join(root, "ulink"));
      break;
    case "alias-invalid":
      writeFileSync(join(units, "ssh\u00e9@.service"), tpl);
      symlinkSync("ssh\u00e9@.service", join(units, "sshd@.service"));
      break;
    case "alias-subdir":
      mkdirSync(join(units, "sub"));
      writeFileSync(join(units, "sub", "ssh@.service"), tpl);
      writeFileSync(join(units, "ssh@.service"), tpl);
      symlinkSync("sub/ssh@.service", join(units, "sshd@.service"));
      break;
    case "alias-self":
      mkdirSync(join(units, "sub"));
      writeFileSync(join(units, "sub", "sshd@.service"), tpl);
      symlinkSync("sub/sshd@.service", join(units, "sshd@.service"));
      break;
    case "alias-socket":
      writeFileSync(join(units, "ssh@.socket"), tpl);
      symlinkSync("ssh@.socket", join(units, "sshd@.service"));
      break;
    case "none": break;
  }
  const creds = join(root, "creds");
  mkdirSync(creds);
  if (c.credential !== null) writeFileSync(join(creds, "ssh.listen"), Buffer.from(c.credential, "latin1"));
  const dest = join(root, "out");
  const dirs = [dest, join(root, "early"), join(root, "late")];
  for (const d of dirs) mkdirSync(d);
  return {
    dest,
    dirs: dirs.slice(0, c.args ?? 3),
    env: {
      PATH: bin,
      SYSTEMD_LOG_LEVEL: c.logLevel ?? "debug",
      SYSTEMD_LOG_TARGET: "console",
      SYSTEMD_UNIT_PATH: c.template === "dirlink" ? join(root, "ulink") : units,
      CREDENTIALS_DIRECTORY: creds,
      ENCRYPTED_CREDENTIALS_DIRECTORY: join(root, "encrypted"),
      SYSTEMD_SSH_TARGET_VERSION: "262",
    },
  };
}

/** The output directory as the comparisons see it: names, modes, contents, link targets. */
export const snapshot = (dir: string): string[] => byteTree(dir, { modes: true });

/**
 * The shell words that run the reference generator through its own loader, arguments to follow (the
 * wrapper script needs $PATH, which cases control).
 */
export function referenceCommand(ref: Reference): string {
  return ref.direct("systemd-ssh-generator").map(shQuote).join(" ");
}

/** Run the reference generator on a prepared root. */
export function runReference(ref: Reference, c: Case, root: string): Snapshot {
  const { env, dest, dirs } = prepare(root, c);
  const script = `SYSTEMD_PROC_CMDLINE="$(printf '${printfArg(c.cmdline)}x')"; SYSTEMD_PROC_CMDLINE="\${SYSTEMD_PROC_CMDLINE%x}"; export SYSTEMD_PROC_CMDLINE; exec ${referenceCommand(ref)} ${dirs.map(shQuote).join(" ")}`;
  const r = runSync(["/bin/sh", "-c", script], { env, encoding: "latin1", timeoutMs: 120_000 });
  return { tree: snapshot(dest), status: r.status, stderr: r.stderr };
}

/** Our generator, as argv: the built binary and the source through bun. */
export const OURS: Record<string, string[]> = {
  binary: [join(DIST, "systemd-ssh-generator")],
  "bun src/main.ts": [join(REPO, "node_modules/.bin/bun"), join(REPO, "src/main.ts"), "generator"],
};

export const OUR_EXTRA_DEBUG = /^Generating units in the form of systemd .*\n/m;

/** Run ours in-process, on the same prepared root. */
export function runOurs(c: Case, root: string, version = "262"): Snapshot {
  const { env, dest, dirs } = prepare(root, c);
  const m = new Map<string, string>(Object.entries({ ...env, SYSTEMD_SSH_TARGET_VERSION: version }));
  m.set("SYSTEMD_PROC_CMDLINE", c.cmdline);
  const lines: string[] = [];
  const request = parseArgs(dirs);
  if (request.kind === "explain") throw new Error("runOurs: not a generator run");
  // Every target but null collects the records.
  const status = runGenerator(request, m, new Logger(), (target) => (target === "null" ? nullSink : { write: (_level, line) => void lines.push(line) }));
  const stderr = lines.map((l) => `${l}\n`).join("").replace(OUR_EXTRA_DEBUG, "");
  return { tree: snapshot(dest), status, stderr };
}

export function scratch(): string {
  return mkdtempSync(join(tmpdir(), "gen-diff-"));
}

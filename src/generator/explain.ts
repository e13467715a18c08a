// `systemd-ssh generator --explain [DIR]` and `systemd-ssh explain [DIR]`: for a person at a shell. Runs the
// generator's core on this machine's real facts with an in-memory output directory (nothing is written), then
// prints the facts, where every listen address came from and whether it was taken, the exact units, the
// generator's own log (debug level), and how to reach this machine over SSH.

import { cmdlineItems, cmdlineKeyEq } from "../shared/proc-cmdline.ts";
import { writeAll } from "../shared/write-all.ts";
import { isErrno, run, type Tree } from "./core.ts";
import { LOG_DEBUG, Logger } from "../shared/log.ts";
import { rawArgs, rawEnviron } from "../shared/raw-bytes.ts";
import { realFacts } from "./effects.ts";
import { detectSystemdVersion } from "./systemd-version.ts";

const LEVELS = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"];

/** Byte strings from the core, shown with non-printable bytes escaped so a terminal cannot be driven by input. */
function show(s: string): string {
  const text = Buffer.from(s, "latin1").toString("utf8");
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

interface Explained {
  text: string;
  exitStatus: number;
}

function explain(dest: string, env: Map<string, string>): Explained {
  const records: Array<{ level: number; line: string }> = [];
  const log = new Logger();
  log.sink = { write: (level, line) => void records.push({ level, line }) };
  log.maxLevel = LOG_DEBUG;
  const facts = realFacts(env, log.logBytes);
  const version = detectSystemdVersion(env);
  const files = new Map<string, string>();
  const links = new Map<string, string>();
  const tree: Tree = {
    dest,
    createFile(name, content) {
      if (files.has(name) || links.has(name)) return "EEXIST";
      files.set(name, content);
      return null;
    },
    mkdirs() {},
    symlink(target, name) {
      if (files.has(name) || links.has(name)) return "EEXIST";
      links.set(name, target);
      return null;
    },
  };
  const out = run(facts, tree, log.logBytes);
  const generatorLog = [...records];
  const words = facts.cmdline();
  const lines: string[] = [];
  const p = (s = "") => lines.push(s);

  p("Facts");
  p(`  systemd version:     ${version.version ?? "unknown"} (${version.source}); units in systemd ${facts.form.form === "legacy" ? `${version.version ?? ""} form (no ssh generator of its own)` : `${facts.form.form}'s form`}`);
  const c = facts.detectContainer();
  const v = facts.detectVm();
  if (isErrno(c)) p(`  container:           detection failed (${c.errno})`);
  if (isErrno(v)) p(`  VM:                  detection failed (${v.errno})`);
  const container = isErrno(c) ? null : c;
  const vm = isErrno(v) ? null : v;
  p(`  container:           ${container ?? "none"}`);
  p(`  VM:                  ${vm ?? "none"}${vm && container ? " (ignored: inside a container, systemd does not listen on AF_VSOCK)" : ""}`);
  const vsockErr = facts.vsockSocket();
  const cid = facts.localCid();
  p(`  AF_VSOCK:            ${vsockErr ? `not available (${vsockErr})` : "available"}${!vsockErr ? (isErrno(cid) ? `, local CID unknown (${cid.errno})` : `, local CID ${cid}`) : ""}`);
  p(`  sshd:                ${out.sshd ?? (() => { const s = facts.sshd(); return isErrno(s) ? `not found in $PATH (${s.errno}): nothing is generated` : s; })()}`);
  p(`  sshd@.service:       ${out.template ?? "none: sshd-generated@.service is written and used"}`);
  if (isErrno(words)) p(`  kernel command line: unreadable (${words.errno})`);
  else {
    const auto = cmdlineItems(words, facts.inInitrd).filter((i) => cmdlineKeyEq(i.key, "systemd.ssh_auto"));
    p(`  systemd.ssh_auto:    ${auto.length ? auto.map((i) => show(i.value ?? "(bare: yes)")).join(", then ") : "not given (yes)"}`);
  }
  p();
  p("Listen addresses (systemd.ssh_listen= on the kernel command line, lines of the ssh.listen credential)");
  if (out.listen.length === 0) p("  none");
  for (const l of out.listen) {
    const from = l.source === "cmdline" ? "command line" : "credential  ";
    p(`  ${from}  ${JSON.stringify(show(l.input))}  ${l.address !== null ? `accepted as ${show(l.address)}` : `rejected (${l.error})`}`);
  }
  p();
  p(`Units the generator would write into ${show(dest)}${out.written.length === 0 && links.size === 0 ? ": none" : ""}`);
  for (const [name, content] of files) {
    p(`  --- ${name}`);
    for (const l of content.replace(/\n$/, "").split("\n")) p(`  ${show(l)}`);
  }
  for (const [name, target] of links) p(`  ${name} -> ${show(target)}`);
  p();
  p("Generator log");
  for (const r of generatorLog) p(`  ${LEVELS[r.level] ?? r.level}: ${show(r.line)}`);
  p(`  exit status: ${out.exitStatus}`);
  p();
  p("Reaching this machine with ssh");
  const newer = facts.form.form !== "257";
  if (files.has("sshd-vsock.socket") && out.vsock?.cid != null) {
    p(`  from the VM's host:        ssh ${newer ? `vsock%${out.vsock.cid}` : `vsock/${out.vsock.cid}`}`);
  }
  if (files.has("sshd-unix-export.socket")) {
    p("  from the container's host: ssh unix/run/systemd/nspawn/unix-export/MACHINE/ssh   (MACHINE: the container's name)");
  }
  if (files.has("sshd-unix-local.socket")) p("  on this machine:           ssh .host");
  for (const l of out.listen) if (l.address !== null) p(`  listening on:              ${show(l.address)}`);
  return { text: `${lines.join("\n")}\n`, exitStatus: out.exitStatus };
}

export async function explainMain(args: readonly string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    writeAll(1, "systemd-ssh generator --explain [DIR]\n\nShow what systemd-ssh-generator would write into DIR (default /run/systemd/generator) and why,\nwithout writing anything.\n");
    return 0;
  }
  const dest = rawArgs(args).find((a) => !a.startsWith("-")) ?? "/run/systemd/generator";
  const { text } = explain(dest, rawEnviron());
  writeAll(1, text);
  return 0;
}

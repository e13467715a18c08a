// The benchmark behind scripts/bench. Each section prints its figures and its targets with PASS/MISS.
//
// Targets are ratios against floors measured in the same run, never milliseconds: process start differs
// fourfold between our machines, and a busy machine slows every candidate alike when they alternate.
//   proxy       spawn to exit <= 1.10x the bun:ffi floor
//   generator   typical inputs, spawn to exit <= 1.3x the bun:ffi floor
//   listen-10k  10,000 systemd.ssh_listen= addresses on the kernel command line <= 1.5x systemd 262's time
//   dup-5mib    a 5 MiB ssh.listen credential of duplicate addresses: peak RSS <= 2x systemd 262's
// The bun:ffi floor is scripts/bench.d/ffi-floor.ts, compiled like ours. The proxy section also shows the
// least hand-off (scripts/bench.d/handoff-floor.ts: the same binding, then connect, sendmsg, _exit, in one
// straight line): what the hand-off alone costs in this runtime. The generator section shows the least
// generator likewise (scripts/bench.d/generator-floor.ts: the system calls ours makes on those inputs, in
// one straight line, writing the same entries). The two scale sections also check
// that our output is identical to 262's (files, modes, symlinks, exit status, log).
//
// Usage: scripts/bench [--runs N] [--scale-runs N] [--mem-runs N] [SECTION...]
//   sections: proxy generator listen-10k dup-5mib relay qemu arm64 (default: all but qemu and arm64)
// Any failure (a candidate that exits non-zero, sends no descriptor, hangs past its timeout, or writes
// other output than 262) ends the bench with one line naming it and a non-zero status.

import { copyFileSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { close, setRecvTimeout } from "../ffi/socket.ts";
import { accept, listenUnix } from "../ffi/test-sockets.ts";
import { requireReference, type SshToolName } from "../test/helpers/reference.ts";

const REPO = join(import.meta.dir, "..");
const BUN = join(REPO, "node_modules/.bin/bun");

function option(name: string, fallback: number): number {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(args.splice(i, 2)[1]);
  if (!Number.isInteger(v) || v < 1) fail(`${name} wants a positive integer`);
  return v;
}

/** End the bench with one line (the exit handler still removes the scratch directory). */
function fail(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(1);
}

const args = process.argv.slice(2);
const RUNS = option("--runs", 30);
const SCALE_RUNS = option("--scale-runs", 5);
const MEM_RUNS = option("--mem-runs", 2);
const ALL = ["proxy", "generator", "listen-10k", "dup-5mib", "relay"];
// qemu (libvirt) and arm64 (a cross build under qemu-user) run only when named.
const KNOWN = [...ALL, "qemu", "arm64"];
const sections = args.length ? args : ALL;
for (const s of sections) if (!KNOWN.includes(s)) fail(`unknown section ${s} (sections: ${KNOWN.join(" ")})`);

const work = join(tmpdir(), `systemd-ssh-bench-${process.pid}`);
mkdirSync(work);
process.on("exit", () => rmSync(work, { recursive: true, force: true }));

function sh(cmd: string[]): string {
  const r = Bun.spawnSync(cmd, { stderr: "pipe" });
  if (r.exitCode !== 0) fail(`${cmd.join(" ")}: ${r.stderr.toString().trim()}`);
  return r.stdout.toString();
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const ms = (us: number) => `${(us / 1000).toFixed(2)} ms`;
const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;

/** One target line: "target: WHAT <= LIMITx: ours / floor = RATIOx PASS". */
function target(what: string, limit: number, ours: number, floor: number, unit: (x: number) => string): void {
  const ratio = ours / floor;
  console.log(`target: ${what} <= ${limit.toFixed(2)}x: ${unit(ours)} / ${unit(floor)} = ${ratio.toFixed(3)}x ${ratio <= limit ? "PASS" : "MISS"}`);
}

const reference = requireReference("262") ?? fail(`systemd 262 reference missing: run scripts/fetch-reference 262 (with $SYSTEMD_SSH_REFERENCE_DIR as for the tests)`);
const refCommand = (tool: SshToolName) => reference.direct(tool);

let harness: string | undefined;
/** The C harness (scripts/bench.d/handoff.c), built once. */
function handoffHarness(): string {
  if (harness) return harness;
  harness = join(work, "handoff");
  sh(["gcc", "-O2", "-o", harness, join(REPO, "scripts/bench.d/handoff.c")]);
  return harness;
}

interface Run {
  /** µs from spawn to the descriptor (or EOF on stdout). */
  handoff: number;
  /** µs from spawn to exit. */
  exit: number;
  /** Peak RSS, KiB. */
  rss: number;
  /** User + system CPU, µs. */
  cpu: number;
  gotFd: boolean;
  code: number;
  stderr: string;
}

interface MeasureOptions {
  env?: Record<string, string>;
  /** [file, target] bind mounts in a private mount namespace (the harness needs root for them). */
  binds?: Array<[string, string]>;
  timeoutSec?: number;
}

/** One run of cmd under the harness. A harness failure (timeout included) ends the bench with its line. */
function measure(name: string, cmd: string[], o: MeasureOptions = {}): Run {
  const timeout = o.timeoutSec ?? 60;
  const pre = ["--timeout", String(timeout), ...(o.binds ?? []).flatMap(([f, t]) => ["--bind", f, t])];
  const r = Bun.spawnSync([handoffHarness(), ...pre, ...cmd], { stderr: "pipe", env: o.env ?? process.env, timeout: (timeout + 10) * 1000 });
  const stderr = r.stderr.toString();
  if (r.exitCode !== 0) fail(`${name}: ${stderr.trim().split("\n").pop() || `harness exited ${r.exitCode ?? r.signalCode}`}`);
  const out = r.stdout.toString().trim().split("\n").pop()!.split(" ").map(Number);
  const [handoff, exit, rss, got, code, cpu] = out as [number, number, number, number, number, number];
  // The harness's own lines come last; everything before is the candidate's stderr.
  return { handoff, exit, rss, cpu, gotFd: got === 1, code, stderr };
}

/**
 * Our tool as the bench runs it: dist/systemd-ssh copied into the scratch directory when first asked for,
 * behind the tool's link. The floors are compiled afresh in every run, and the same bytes start at a
 * different speed depending on how long ago their file was written: a binary built before a memory-hungry
 * job (here, a CI run) and read back since took 50 more page faults (1333 against 1280) and started 7-10%
 * slower than a fresh copy of itself, while a fresh copy and a fresh build measured the same. Copying ours
 * puts it on the floors' footing even when dist/ is older than this run (bun scripts/bench.ts run directly).
 */
let oursDir: string | undefined;
function ours(tool: "proxy" | "generator"): string {
  if (!oursDir) {
    oursDir = join(work, "ours");
    mkdirSync(oursDir);
    copyFileSync(join(REPO, "dist/systemd-ssh"), join(oursDir, "systemd-ssh"));
    for (const t of ["proxy", "generator"]) symlinkSync("systemd-ssh", join(oursDir, `systemd-ssh-${t}`));
  }
  return join(oursDir, `systemd-ssh-${tool}`);
}

const floorBinaries = new Map<string, string>();
/**
 * One of the runtime's floors (scripts/bench.d/NAME.ts), compiled with the same flags as ours
 * (scripts/build ENTRY OUT) the first time a section asks for it.
 */
function floor(name: "empty" | "ffi-floor" | "handoff-floor" | "generator-floor"): string {
  let out = floorBinaries.get(name);
  if (!out) {
    out = join(work, name);
    sh([join(REPO, "scripts/build"), join(REPO, `scripts/bench.d/${name}.ts`), out]);
    floorBinaries.set(name, out);
  }
  return out;
}

/**
 * The functions the engine compiled in one run (JavaScriptCore's report, made synchronous). A run that
 * compiles any pays for starting the compiler and its threads, more than the calls cost (ffi/fs.ts).
 */
function engineCompiles(stderr: string): string {
  const n = stderr.split("Optimized ").length - 1;
  return n === 0 ? "none" : String(n);
}
const COMPILE_REPORT = { BUN_JSC_useConcurrentJIT: "false", BUN_JSC_reportCompileTimes: "true" };

/**
 * How many blocks of its heap the engine allocated in one run of `cmd` (run by `run`, given the extra
 * environment): JavaScriptCore starts a helper thread that pre-faults more once a process has allocated
 * warmUpMarkedBlockStartAfterBlocks of them (64), which cost the generator about 3 ms wherever in its run it
 * happened (scripts/bundle.ts). Found by moving that threshold and watching, under strace, whether the
 * thread is created: the smallest threshold at which it is not is the count.
 */
function heapBlocks(run: (env: Record<string, string>) => void): number {
  const log = join(work, "clones");
  const threads = (threshold: number) => {
    run({ BUN_JSC_warmUpMarkedBlockStartAfterBlocks: String(threshold), STRACE_LOG: log });
    return readFileSync(log, "utf8").split("\n").filter((l) => l.includes("clone")).length;
  };
  const none = threads(1 << 20);
  let lo = 1;
  let hi = 1024;
  if (threads(hi) > none) return hi;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (threads(mid) > none) lo = mid;
    else hi = mid;
  }
  return hi;
}
/** cmd under strace, which writes the threads it starts to $STRACE_LOG. */
const straced = (cmd: string[], env: Record<string, string>): string[] =>
  [Bun.which("strace") ?? fail("strace missing (scripts/ensure-deps strace)"), "-f", "-qq", "-e", "trace=clone,clone3", "-o", env.STRACE_LOG!, ...cmd];
const HEAP_BLOCK_LIMIT = 64;

const FFI_FLOOR = "bun:ffi floor (libc bound, nothing else)";
const EMPTY_FLOOR = "empty compiled Bun program";
const HANDOFF_FLOOR = "least hand-off (straight-line bun:ffi)";
const GENERATOR_FLOOR = "least generator (straight-line bun:ffi)";

/** The listener the proxy candidates connect to. accept() gives up after 10 s (SO_RCVTIMEO), so a candidate
 * that hands over a descriptor without having connected never leaves the bench waiting forever. */
function targetListener(path: string): number {
  const listener = listenUnix(path);
  setRecvTimeout(listener, { sec: 10, usec: 0 });
  return listener;
}

/** Take the connection a candidate made, so the backlog never fills; none there ends the bench. */
function drainConnection(listener: number, name: string): void {
  try {
    close(accept(listener));
  } catch (e) {
    fail(`${name}: sent a descriptor, but no connection reached the listener (${(e as Error).message})`);
  }
}

async function proxySection() {
  const sock = join(work, "target.sock");
  const listener = targetListener(sock);
  const candidates: Record<string, string[]> = {
    "ours (dist/systemd-ssh-proxy)": [ours("proxy"), `unix${sock}`, "22"],
    "systemd 262": [...refCommand("systemd-ssh-proxy"), `unix${sock}`, "22"],
    [HANDOFF_FLOOR]: [floor("handoff-floor"), `unix${sock}`, "22"],
    [EMPTY_FLOOR]: [floor("empty")],
    [FFI_FLOOR]: [floor("ffi-floor")],
  };
  const results: Record<string, Run[]> = {};
  const once = (name: string, cmd: string[]): Run => {
    const r = measure(name, cmd);
    const isProxy = cmd.length > 1;
    if (isProxy && (!r.gotFd || r.code !== 0)) {
      fail(`${name}: no descriptor (exit ${r.code})${r.stderr.trim() ? `: ${r.stderr.trim().split("\n")[0]}` : ""}`);
    }
    if (!isProxy && r.code !== 0) fail(`${name}: exited ${r.code}`);
    if (isProxy) drainConnection(listener, name);
    return r;
  };
  // Warm the page cache, then alternate so that drift on the machine hits every candidate alike.
  for (const [name, cmd] of Object.entries(candidates)) once(name, cmd);
  for (let i = 0; i < RUNS; i++) {
    for (const [name, cmd] of Object.entries(candidates)) (results[name] ??= []).push(once(name, cmd));
  }
  const report = measure("ours", candidates["ours (dist/systemd-ssh-proxy)"]!, { env: { ...process.env, ...COMPILE_REPORT } });
  drainConnection(listener, "ours");
  const blocks = heapBlocks((env) => {
    const r = Bun.spawnSync(straced([handoffHarness(), "--timeout", "60", ...candidates["ours (dist/systemd-ssh-proxy)"]!], env), { env: { ...process.env, ...env }, stderr: "pipe" });
    if (r.exitCode !== 0) fail(`ours under strace: ${r.stderr.toString().trim().split("\n").pop()}`);
    drainConnection(listener, "ours");
  });
  close(listener);

  console.log(`\n## proxy hand-off (${RUNS} runs each, alternating; median)`);
  console.log("candidate                                 descriptor     exited        CPU   peak RSS");
  for (const [name, r] of Object.entries(results)) {
    const handoff = name === EMPTY_FLOOR || name === FFI_FLOOR ? "" : ms(median(r.map((x) => x.handoff)));
    console.log(`${name.padEnd(40)} ${handoff.padStart(11)} ${ms(median(r.map((x) => x.exit))).padStart(10)} ${ms(median(r.map((x) => x.cpu))).padStart(10)} ${mib(median(r.map((x) => x.rss))).padStart(10)}`);
  }
  const exit = (name: string) => median(results[name]!.map((x) => x.exit));
  const cpu = (name: string) => median(results[name]!.map((x) => x.cpu));
  console.log(`(CPU time against the bun:ffi floor: ${(cpu("ours (dist/systemd-ssh-proxy)") / cpu(FFI_FLOOR)).toFixed(3)}x; the least hand-off: ${(exit(HANDOFF_FLOOR) / exit(FFI_FLOOR)).toFixed(3)}x the floor's time)`);
  console.log(`(functions the engine compiled in one run of ours: ${engineCompiles(report.stderr)})`);
  console.log(`(blocks of the engine's heap one run of ours allocated: ${blocks}; at ${HEAP_BLOCK_LIMIT} it starts its warm-up thread)`);
  target("proxy spawn to exit, against the bun:ffi floor", 1.1, exit("ours (dist/systemd-ssh-proxy)"), exit(FFI_FLOOR), ms);
}

/** A generator's output directory as comparable text: every entry's kind, mode, and content or target. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = join(dir, r);
      const st = lstatSync(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out.push(`L ${r} -> ${readlinkSync(p)}`);
      else if (st.isDirectory()) {
        out.push(`D ${r} ${mode}`);
        walk(r);
      } else out.push(`F ${r} ${mode}\n${readFileSync(p, "latin1")}`);
    }
  };
  walk("");
  return out;
}

interface GenCandidate {
  name: string;
  cmd: (out: string) => string[];
}

const GENERATORS: GenCandidate[] = [
  { name: "ours (dist/systemd-ssh-generator)", cmd: (out) => [ours("generator"), out, out, out] },
  { name: "systemd 262", cmd: (out) => [...refCommand("systemd-ssh-generator"), out, out, out] },
];

/**
 * The environment systemd gives a generator at boot, not this shell's: its default $PATH (the generator
 * looks for sshd in each entry, so a developer's longer $PATH would make the figures depend on who runs the
 * bench) and the log settings, with the target version fixed so that 262's output is ours to compare with.
 */
function generatorEnv(extra: Record<string, string | undefined>): Record<string, string> {
  const env: Record<string, string | undefined> = {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin",
    SYSTEMD_LOG_TARGET: "console",
    SYSTEMD_LOG_LEVEL: "warning",
    SYSTEMD_SSH_TARGET_VERSION: "262",
    SYSTEMD_PROC_CMDLINE: undefined,
    CREDENTIALS_DIRECTORY: undefined,
    ...extra,
  };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  return env as Record<string, string>;
}

let outSeq = 0;
/** One generator run into a fresh directory; a non-zero exit ends the bench. */
function runGenerator(c: GenCandidate, o: MeasureOptions, keep = false): Run & { dir: string } {
  const out = join(work, `gen-${outSeq++}`);
  mkdirSync(out);
  const r = measure(c.name, c.cmd(out), o);
  if (r.code !== 0) fail(`${c.name}: generator exited ${r.code}${r.stderr.trim() ? `: ${r.stderr.trim().split("\n")[0]}` : ""}`);
  if (!keep) rmSync(out, { recursive: true, force: true });
  return { ...r, dir: out };
}

/** Ours and 262 into the same path one after the other: the same files, exit status and log, or the bench fails. */
function checkIdentical(section: string, o: MeasureOptions): Record<string, Run> {
  const out = join(work, `cmp-${section}`);
  const seen: Array<{ run: Run; tree: string[] }> = [];
  const runs: Record<string, Run> = {};
  for (const c of GENERATORS) {
    mkdirSync(out);
    const run = measure(c.name, c.cmd(out), o);
    seen.push({ run, tree: snapshot(out) });
    runs[c.name] = run;
    rmSync(out, { recursive: true, force: true });
  }
  const [ours, ref] = seen as [{ run: Run; tree: string[] }, { run: Run; tree: string[] }];
  if (ours.run.code !== ref.run.code) fail(`${section}: exit status ${ours.run.code}, 262 gives ${ref.run.code}`);
  if (ours.run.stderr !== ref.run.stderr) fail(`${section}: the log differs from 262's`);
  const i = ours.tree.findIndex((e, k) => e !== ref.tree[k]);
  if (i >= 0 || ours.tree.length !== ref.tree.length) {
    const k = i >= 0 ? i : Math.min(ours.tree.length, ref.tree.length);
    fail(`${section}: output differs from 262's at entry ${k}: ours ${JSON.stringify(ours.tree[k]?.split("\n")[0])}, 262 ${JSON.stringify(ref.tree[k]?.split("\n")[0])}`);
  }
  console.log(`identical to 262: ${ours.tree.length} entries, exit status ${ours.run.code}, ${ours.run.stderr.length} bytes of log`);
  return runs;
}

/**
 * The least generator writes what ours writes, entry for entry (its unit texts are stand-ins of the same
 * length): else it would not be the least of the same work. Ends the bench when the two differ.
 */
function sameEntries(least: GenCandidate, o: MeasureOptions): void {
  const names = (c: GenCandidate) => {
    const r = runGenerator(c, o, true);
    const entries = snapshot(r.dir).map((e) => e.split("\n")[0]!.split(" ").slice(0, 2).join(" "));
    rmSync(r.dir, { recursive: true, force: true });
    return entries;
  };
  const want = names(GENERATORS[0]!);
  const got = names(least);
  if (want.join("\n") !== got.join("\n")) fail(`${least.name}: writes ${got.length} entries, ours ${want.length} (${want.find((e, i) => e !== got[i]) ?? "?"})`);
}

/**
 * The generator on typical inputs (a VM-less machine with sshd, a listen address on the command line and two
 * in the credential), ours against systemd 262's and the floors, alternating, into a fresh directory each run.
 */
function generatorSection() {
  const cred = join(work, "creds");
  mkdirSync(cred, { recursive: true });
  writeFileSync(join(cred, "ssh.listen"), "# extra\n0.0.0.0:2222\nvsock::2200\n");
  const o = { env: generatorEnv({ SYSTEMD_PROC_CMDLINE: "quiet systemd.ssh_listen=[::1]:2022", CREDENTIALS_DIRECTORY: cred }) };
  // Compiled before any run is timed.
  const [leastBin, ffiBin, emptyBin] = [floor("generator-floor"), floor("ffi-floor"), floor("empty")];
  const least: GenCandidate = { name: GENERATOR_FLOOR, cmd: (out) => [leastBin, out, out, out] };
  sameEntries(least, o);
  const floorsToo: GenCandidate[] = [
    least,
    { name: FFI_FLOOR, cmd: () => [ffiBin] },
    { name: EMPTY_FLOOR, cmd: () => [emptyBin] },
  ];
  const results: Record<string, Run[]> = {};
  for (let i = -1; i < RUNS; i++) {
    for (const c of [...GENERATORS, ...floorsToo]) {
      const r = runGenerator(c, o);
      if (i >= 0) (results[c.name] ??= []).push(r); // i < 0: warm-up
    }
  }
  console.log(`\n## generator, typical inputs (${RUNS} runs each, alternating; median)`);
  console.log("candidate                                     exited        CPU   peak RSS");
  for (const [name, r] of Object.entries(results)) {
    console.log(`${name.padEnd(40)} ${ms(median(r.map((x) => x.exit))).padStart(10)} ${ms(median(r.map((x) => x.cpu))).padStart(10)} ${mib(median(r.map((x) => x.rss))).padStart(10)}`);
  }
  const exit = (name: string) => median(results[name]!.map((x) => x.exit));
  const cpu = (name: string) => median(results[name]!.map((x) => x.cpu));
  console.log(`(against systemd 262: ${(exit(GENERATORS[0]!.name) / exit(GENERATORS[1]!.name)).toFixed(2)}x; CPU time against the bun:ffi floor: ${(cpu(GENERATORS[0]!.name) / cpu(FFI_FLOOR)).toFixed(3)}x; the least generator: ${(exit(GENERATOR_FLOOR) / exit(FFI_FLOOR)).toFixed(3)}x the floor's time)`);
  const report = runGenerator(GENERATORS[0]!, { env: { ...o.env, ...COMPILE_REPORT } });
  console.log(`(functions the engine compiled in one run of ours: ${engineCompiles(report.stderr)})`);
  const blocks = heapBlocks((env) => {
    const ours = GENERATORS[0]!;
    runGenerator({ name: `${ours.name} under strace`, cmd: (out) => straced(ours.cmd(out), env) }, { env: { ...o.env, ...env } });
  });
  console.log(`(blocks of the engine's heap one run of ours allocated: ${blocks}; at ${HEAP_BLOCK_LIMIT} it starts its warm-up thread)`);
  target("generator spawn to exit, against the bun:ffi floor", 1.3, exit(GENERATORS[0]!.name), exit(FFI_FLOOR), ms);
}

/** 10,000 distinct addresses of every kind, as systemd.ssh_listen= words. */
function manyAddresses(n: number): string[] {
  const words: string[] = [];
  for (let i = 1; i <= n; i++) {
    const a = [`127.0.${i >> 8}.${i & 255}:${1 + (i % 60000)}`, `/run/ssh-many/${i}.sock`, `vsock:${i}:${i}`, `[::${i.toString(16)}]:${i}`, `@abstract-${i}`][i % 5]!;
    words.push(`systemd.ssh_listen=${a}`);
  }
  return words;
}

/**
 * 10,000 systemd.ssh_listen= addresses on the kernel command line, ours against 262, alternating. An
 * environment variable holds at most 128 KiB, so the words go in a file bind-mounted over /proc/cmdline and
 * (as PID 1's argv: in a container the generators read that instead) over /proc/1/cmdline.
 */
function listen10kSection() {
  const words = manyAddresses(10_000);
  const cmdline = join(work, "cmdline-10k");
  writeFileSync(cmdline, `${words.join(" ")}\n`);
  const pid1 = join(work, "pid1-cmdline-10k");
  writeFileSync(pid1, `/sbin/init\0${words.join("\0")}\0`);
  const empty = join(work, "no-creds");
  mkdirSync(empty, { recursive: true });
  const o: MeasureOptions = {
    env: generatorEnv({ CREDENTIALS_DIRECTORY: empty }),
    binds: [[cmdline, "/proc/cmdline"], [pid1, "/proc/1/cmdline"]],
    timeoutSec: 300,
  };
  console.log(`\n## generator, 10,000 systemd.ssh_listen= addresses (${SCALE_RUNS} runs each, alternating; median)`);
  checkIdentical("listen-10k", o);
  const results: Record<string, Run[]> = {};
  for (let i = 0; i < SCALE_RUNS; i++) for (const c of GENERATORS) (results[c.name] ??= []).push(runGenerator(c, o));
  for (const [name, r] of Object.entries(results)) {
    console.log(`${name.padEnd(40)} ${ms(median(r.map((x) => x.exit))).padStart(11)} ${ms(median(r.map((x) => x.cpu))).padStart(11)} CPU ${mib(median(r.map((x) => x.rss))).padStart(10)}`);
  }
  const exit = (name: string) => median(results[name]!.map((x) => x.exit));
  const cpu = (name: string) => median(results[name]!.map((x) => x.cpu));
  console.log(`(CPU time against systemd 262: ${(cpu(GENERATORS[0]!.name) / cpu(GENERATORS[1]!.name)).toFixed(3)}x)`);
  target("10,000 addresses, spawn to exit, against systemd 262", 1.5, exit(GENERATORS[0]!.name), exit(GENERATORS[1]!.name), ms);
}

/** A 5 MiB ssh.listen credential of three addresses repeated: peak memory, ours against 262. */
function dup5MiBSection() {
  const cred = join(work, "creds-5mib");
  mkdirSync(cred, { recursive: true });
  const lines = ["0.0.0.0:22\n", "[::1]:2222\n", "vsock::22\n"];
  const parts: string[] = [];
  for (let size = 0, i = 0; size < 5 << 20; i++) {
    const l = lines[i % lines.length]!;
    parts.push(l);
    size += l.length;
  }
  writeFileSync(join(cred, "ssh.listen"), parts.join(""));
  const o: MeasureOptions = { env: generatorEnv({ CREDENTIALS_DIRECTORY: cred }), timeoutSec: 600 };
  console.log(`\n## generator, a 5 MiB ssh.listen credential of duplicate addresses (${MEM_RUNS} runs each; median)`);
  const first = checkIdentical("dup-5mib", o);
  const results: Record<string, Run[]> = {};
  for (const c of GENERATORS) results[c.name] = [first[c.name]!];
  for (let i = 1; i < MEM_RUNS; i++) for (const c of GENERATORS) results[c.name]!.push(runGenerator(c, o));
  for (const [name, r] of Object.entries(results)) {
    console.log(`${name.padEnd(40)} ${mib(median(r.map((x) => x.rss))).padStart(10)} peak, ${ms(median(r.map((x) => x.exit))).padStart(11)}`);
  }
  const rss = (name: string) => median(results[name]!.map((x) => x.rss));
  target("5 MiB duplicate credential, peak RSS, against systemd 262", 2, rss(GENERATORS[0]!.name), rss(GENERATORS[1]!.name), mib);
}

/**
 * The arm64 build's hand-off under qemu-user against arm64 systemd 262's under the same emulator (only the
 * ratio means anything: emulation costs differ between the runtime and C). Needs `scripts/build
 * --target=arm64` and `scripts/fetch-reference --arch=arm64` (scripts/bench does both for this section).
 */
function arm64Section() {
  const root = join(REPO, ".reference/arm64");
  const lib = join(root, "262/usr/lib/aarch64-linux-gnu");
  const proxy = "/usr/lib/systemd/systemd-ssh-proxy";
  const sock = join(work, "arm64-target.sock");
  const listener = targetListener(sock);
  const target = [`unix${sock}`, "22"];
  const qemu = Bun.which("qemu-aarch64-static") ?? "qemu-aarch64-static"; // the harness does not search $PATH
  const candidates: Record<string, string[]> = {
    "ours (dist/arm64/systemd-ssh)": [qemu, "-L", join(root, "libc"), "-0", "systemd-ssh-proxy", join(REPO, "dist/arm64/systemd-ssh"), ...target],
    "arm64 systemd 262": [qemu, join(lib, "ld-linux-aarch64.so.1"), "--library-path", `${lib}/systemd:${lib}`, "--argv0", proxy, join(root, "262", proxy), ...target],
  };
  const runs = Math.min(RUNS, 10);
  const results: Record<string, { handoff: number[]; exit: number[] }> = {};
  for (let i = -1; i < runs; i++) {
    for (const [name, cmd] of Object.entries(candidates)) {
      const r = measure(name, cmd, { timeoutSec: 120 });
      if (!r.gotFd || r.code !== 0) fail(`${name}: no descriptor (exit ${r.code})`);
      drainConnection(listener, name);
      if (i < 0) continue; // warm-up
      (results[name] ??= { handoff: [], exit: [] }).handoff.push(r.handoff);
      results[name]!.exit.push(r.exit);
    }
  }
  close(listener);
  console.log(`\n## arm64 proxy hand-off under qemu-user (${runs} runs each, alternating; median)`);
  for (const [name, r] of Object.entries(results)) {
    console.log(`${name.padEnd(35)} ${ms(median(r.handoff)).padStart(9)}  ${ms(median(r.exit)).padStart(9)}`);
  }
  const ratio = median(results["ours (dist/arm64/systemd-ssh)"]!.handoff) / median(results["arm64 systemd 262"]!.handoff);
  console.log(`ratio (hand-off, ours / reference, same emulator): ${ratio.toFixed(1)}x`);
}

/** Relay throughput against socat: scripts/bench-relay.ts, 1 GiB each way. */
function relaySection() {
  console.log("\n## relay throughput (1 GiB each way, ours against socat - UNIX-CONNECT:PATH)");
  const r = Bun.spawnSync([BUN, join(REPO, "scripts/bench-relay.ts"), "--runs=3"], { stdout: "inherit", stderr: "inherit", timeout: 600_000 });
  if (r.exitCode !== 0) fail("relay: scripts/bench-relay.ts failed");
}

/** The qemu/ lookup against virsh (scripts/bench-qemu.ts; needs libvirt, so not in the default sections). */
function qemuSection() {
  const r = Bun.spawnSync([BUN, join(REPO, "scripts/bench-qemu.ts"), `--runs=${RUNS}`], { stdout: "inherit", stderr: "inherit", timeout: 600_000 });
  if (r.exitCode !== 0) fail("qemu: scripts/bench-qemu.ts failed");
}

for (const s of sections) {
  if (s === "proxy") await proxySection();
  else if (s === "generator") generatorSection();
  else if (s === "listen-10k") listen10kSection();
  else if (s === "dup-5mib") dup5MiBSection();
  else if (s === "relay") relaySection();
  else if (s === "qemu") qemuSection();
  else if (s === "arm64") arm64Section();
  else fail(`unknown section ${s}`);
}

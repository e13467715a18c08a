// The benchmark behind scripts/bench. Each section prints its figures and its targets with PASS/MISS.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { accept, close, listenUnix } from "../ffi/socket.ts";

const REPO = join(import.meta.dir, "..");
const BUN = join(REPO, "node_modules/.bin/bun");
const REF = join(REPO, ".reference/262");

const args = process.argv.slice(2);
const runsIdx = args.indexOf("--runs");
const RUNS = runsIdx >= 0 ? Number(args.splice(runsIdx, 2)[1]) : 30;
const sections = args.length ? args : ["proxy", "generator", "relay"];

const work = mkdtempSync(join(tmpdir(), "systemd-ssh-bench-"));
process.on("exit", () => rmSync(work, { recursive: true, force: true }));

function sh(cmd: string[]): string {
  const r = Bun.spawnSync(cmd, { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const ms = (us: number) => `${(us / 1000).toFixed(2)} ms`;
const verdict = (ok: boolean) => (ok ? "PASS" : "MISS");

/** The reference's proxy invoked through sid's loader directly (the wrapper script would add a shell). */
function referenceCommand(tool: string): string[] {
  const lib = join(REF, "usr/lib/x86_64-linux-gnu");
  return [join(lib, "ld-linux-x86-64.so.2"), "--library-path", `${lib}/systemd:${lib}`, "--argv0", tool, join(REF, tool.slice(1))];
}

let harness: string | undefined;
/** The C harness (scripts/bench.d/handoff.c), built once. */
function handoffHarness(): string {
  if (harness) return harness;
  harness = join(work, "handoff");
  sh(["gcc", "-O2", "-o", harness, join(REPO, "scripts/bench.d/handoff.c")]);
  return harness;
}

/** One run of cmd under the harness: [µs to descriptor or EOF, µs to exit, peak RSS KiB, got fd, exit code]. */
function measure(cmd: string[], env?: Record<string, string>): number[] {
  const r = Bun.spawnSync([handoffHarness(), ...cmd], { stderr: "pipe", env: env ?? process.env });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString().trim().split(" ").map(Number);
}

async function proxySection() {
  const empty = join(work, "empty");
  // Same flags as the real build: the floor is the runtime's, not a difference in build options.
  sh([join(REPO, "scripts/build"), join(REPO, "scripts/bench.d/empty.ts"), empty]);
  const ffiFloor = join(work, "ffi-floor");
  sh([join(REPO, "scripts/build"), join(REPO, "scripts/bench.d/ffi-floor.ts"), ffiFloor]);

  const sock = join(work, "target.sock");
  const listener = listenUnix(sock);
  const candidates: Record<string, string[]> = {
    "ours (dist/systemd-ssh-proxy)": [join(REPO, "dist/systemd-ssh-proxy"), `unix${sock}`, "22"],
    "systemd 262": [...referenceCommand("/usr/lib/systemd/systemd-ssh-proxy"), `unix${sock}`, "22"],
    "empty compiled Bun program": [empty],
    "bun:ffi + libc bound, nothing else": [ffiFloor],
  };
  const results: Record<string, { handoff: number[]; exit: number[]; rss: number[] }> = {};
  for (const name of Object.keys(candidates)) results[name] = { handoff: [], exit: [], rss: [] };

  // Warm the page cache (draining the proxies' connections), then alternate so that drift on the
  // machine hits every candidate alike.
  for (const cmd of Object.values(candidates)) measure(cmd);
  for (const cmd of Object.values(candidates)) if (cmd.length > 1) close(accept(listener));
  for (let i = 0; i < RUNS; i++) {
    for (const [name, cmd] of Object.entries(candidates)) {
      const [t1, t2, rss, got, code] = measure(cmd) as number[];
      const isProxy = cmd.length > 1;
      if (isProxy && (got !== 1 || code !== 0)) throw new Error(`${name}: no descriptor (exit ${code})`);
      if (isProxy) close(accept(listener)); // drain the connection so the backlog never fills
      results[name]!.handoff.push(t1!);
      results[name]!.exit.push(t2!);
      results[name]!.rss.push(rss!);
    }
  }
  close(listener);

  console.log(`\n## proxy hand-off (${RUNS} runs each, alternating; median)`);
  console.log("candidate                           descriptor   exited     peak RSS");
  for (const [name, r] of Object.entries(results)) {
    console.log(`${name.padEnd(35)} ${ms(median(r.handoff)).padStart(9)}  ${ms(median(r.exit)).padStart(9)}  ${(median(r.rss) / 1024).toFixed(1).padStart(6)} MiB`);
  }
  const ours = results["ours (dist/systemd-ssh-proxy)"]!;
  const ref = results["systemd 262"]!;
  const floor = results["empty compiled Bun program"]!;
  const oursT = median(ours.handoff);
  const floorT = median(floor.exit);
  const refT = median(ref.handoff);
  console.log(`target: hand-off within 2 ms of the runtime floor: ${ms(oursT)} vs ${ms(floorT)} (+${ms(oursT - floorT)}) ${verdict(oursT - floorT <= 2000)}`);
  console.log(`target: at most 1.5x the reference's wall time: ${(median(ours.exit) / median(ref.exit)).toFixed(2)}x (exit), ${(oursT / refT).toFixed(2)}x (hand-off) ${verdict(median(ours.exit) <= 1.5 * median(ref.exit))}`);
  const ffi = results["bun:ffi + libc bound, nothing else"]!;
  console.log(`of which bun:ffi itself: +${ms(median(ffi.exit) - floorT)} and +${((median(ffi.rss) - median(floor.rss)) / 1024).toFixed(1)} MiB over the empty program`);
  console.log(`target: peak RSS at most 24 MiB: ${(median(ours.rss) / 1024).toFixed(1)} MiB ${verdict(median(ours.rss) <= 24 * 1024)}`);
}

/**
 * The generator on the same typical inputs (a VM-less machine with sshd, a listen address on the command
 * line and two in the credential), ours against systemd 262's, alternating, into a fresh directory each run.
 */
function generatorSection() {
  const cred = join(work, "creds");
  require("node:fs").mkdirSync(cred, { recursive: true });
  require("node:fs").writeFileSync(join(cred, "ssh.listen"), "# extra\n0.0.0.0:2222\nvsock::2200\n");
  const env = {
    ...process.env,
    SYSTEMD_PROC_CMDLINE: "quiet systemd.ssh_listen=[::1]:2022",
    CREDENTIALS_DIRECTORY: cred,
    SYSTEMD_LOG_TARGET: "console",
    SYSTEMD_LOG_LEVEL: "warning",
    SYSTEMD_SSH_TARGET_VERSION: "262",
  } as Record<string, string>;
  const candidates: Record<string, (out: string) => string[]> = {
    "ours (dist/systemd-ssh-generator)": (out) => [join(REPO, "dist/systemd-ssh-generator"), out, out, out],
    "systemd 262": (out) => [...referenceCommand("/usr/lib/systemd/system-generators/systemd-ssh-generator"), out, out, out],
  };
  const results: Record<string, { exit: number[]; rss: number[] }> = {};
  let n = 0;
  for (let i = -1; i < RUNS; i++) {
    for (const [name, cmd] of Object.entries(candidates)) {
      const out = join(work, `gen-${n++}`);
      require("node:fs").mkdirSync(out);
      const [, t2, rss, , code] = measure(cmd(out), env) as number[];
      if (code !== 0) throw new Error(`${name}: generator exited ${code}`);
      if (i < 0) continue; // warm-up
      (results[name] ??= { exit: [], rss: [] }).exit.push(t2!);
      results[name]!.rss.push(rss!);
    }
  }
  console.log(`\n## generator (${RUNS} runs each, alternating; median)`);
  for (const [name, r] of Object.entries(results)) {
    console.log(`${name.padEnd(36)} ${ms(median(r.exit)).padStart(9)}  ${(median(r.rss) / 1024).toFixed(1).padStart(6)} MiB`);
  }
  const ratio = median(results["ours (dist/systemd-ssh-generator)"]!.exit) / median(results["systemd 262"]!.exit);
  console.log(`target: at most 2x the reference's wall time: ${ratio.toFixed(2)}x ${verdict(ratio <= 2)}`);
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
  const listener = listenUnix(sock);
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
      const [t1, t2, , got, code] = measure(cmd) as number[];
      if (got !== 1 || code !== 0) throw new Error(`${name}: no descriptor (exit ${code})`);
      close(accept(listener));
      if (i < 0) continue; // warm-up
      (results[name] ??= { handoff: [], exit: [] }).handoff.push(t1!);
      results[name]!.exit.push(t2!);
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
  const r = Bun.spawnSync([BUN, join(REPO, "scripts/bench-relay.ts"), "--runs=3"], { stdout: "inherit", stderr: "inherit" });
  if (r.exitCode !== 0) throw new Error("bench-relay failed");
}

for (const s of sections) {
  if (s === "proxy") await proxySection();
  else if (s === "relay") relaySection();
  else if (s === "generator") generatorSection();
  else if (s === "arm64") arm64Section();
  else throw new Error(`unknown section ${s}`);
}

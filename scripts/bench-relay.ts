// Relay throughput: 1 GiB through dist/systemd-ssh-proxy in relay mode, against `socat - UNIX-CONNECT:PATH`
// in the same run, both ways:
//   up:   a pipe (feeder) -> proxy stdin -> AF_UNIX socket -> server that discards
//   down: server that sends -> AF_UNIX socket -> proxy stdout -> a pipe -> drain that discards
// Throughput is timed where the bytes arrive (first byte to EOF), so process start-up is not counted;
// CPU time is the proxy process's own user+sys (start-up included), per GiB moved.
//
// Usage: bun scripts/bench-relay.ts [--size=MiB] [--runs=N] [--json]
// The helper roles (--sink, --source, --feed, --drain) are this same file run as child processes.

import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as io from "../ffi/io.ts";
import { close } from "../ffi/socket.ts";
import { accept, listenUnix } from "../ffi/test-sockets.ts";

const SELF = import.meta.path;
const BUN = process.execPath;
const REPO = join(import.meta.dir, "..");
const PROXY = join(REPO, "dist", "systemd-ssh-proxy");
const MiB = 1 << 20;
const CHUNK = MiB;

/** Move everything from `fd` to /dev/null through a pipe (no copies); returns [bytes, seconds first byte to EOF]. */
function discard(fd: number): [number, number] {
  const devnull = require("node:fs").openSync("/dev/null", "w") as number;
  const [r, w] = io.pipe(false);
  io.setPipeSize(w, MiB);
  let total = 0;
  let start = 0;
  for (;;) {
    const n = io.splice(fd, w, CHUNK, io.SPLICE_F_MOVE);
    if (n < 0) throw new Error(`splice in: errno ${-n}`);
    if (n === 0) break;
    if (total === 0) start = performance.now();
    total += n;
    for (let left = n; left > 0; ) {
      const m = io.splice(r, devnull, left, io.SPLICE_F_MOVE);
      if (m <= 0) throw new Error(`splice out: ${m}`);
      left -= m;
    }
  }
  close(r);
  close(w);
  close(devnull);
  return [total, (performance.now() - start) / 1000];
}

/** Write `bytes` of a non-constant pattern to `fd` (blocking). */
function feed(fd: number, bytes: number): void {
  const buf = new Uint8Array(new ArrayBuffer(CHUNK));
  for (let i = 0; i < buf.length; i++) buf[i] = (i * 2654435761) >>> 24;
  let left = bytes;
  while (left > 0) {
    const want = Math.min(left, buf.length);
    let off = 0;
    while (off < want) {
      const n = io.writeFrom(fd, buf, off, want - off);
      if (n <= 0) throw new Error(`write: ${n}`);
      off += n;
    }
    left -= want;
  }
}

async function role(args: string[]): Promise<boolean> {
  const [mode, a, b] = args;
  if (mode === "--sink") {
    const l = listenUnix(a!);
    process.stdout.write("ready\n");
    for (;;) {
      const c = accept(l);
      const [bytes, secs] = discard(c);
      close(c);
      process.stdout.write(`${JSON.stringify({ bytes, secs })}\n`);
    }
  }
  if (mode === "--source") {
    const l = listenUnix(a!);
    process.stdout.write("ready\n");
    for (;;) {
      const c = accept(l);
      try {
        feed(c, Number(b));
      } catch {
        // reader went away
      }
      close(c);
    }
  }
  if (mode === "--feed") {
    try {
      feed(1, Number(a));
    } catch {
      // the proxy went away; its exit status says why
    }
    return true;
  }
  if (mode === "--drain") {
    const [bytes, secs] = discard(0);
    process.stdout.write(`${JSON.stringify({ bytes, secs })}\n`);
    return true;
  }
  return false;
}

interface Result {
  tool: string;
  direction: "up" | "down";
  bytes: number;
  secs: number;
  cpuSecs: number;
}

class Lines {
  private buf = "";
  private readonly reader: { read(): Promise<{ value?: Uint8Array; done: boolean }> };
  constructor(stream: ReadableStream<Uint8Array>) {
    this.reader = stream.getReader();
  }
  async next(): Promise<string> {
    for (;;) {
      const nl = this.buf.indexOf("\n");
      if (nl >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        return line;
      }
      const { value, done } = await this.reader.read();
      if (done) throw new Error("helper exited");
      this.buf += new TextDecoder().decode(value);
    }
  }
}

/** A candidate that fails (never connects, hangs) must end the bench in bounded time: every wait has a limit. */
const LIMIT_SEC = 120;

/** `p`, or a rejection naming `what` after `sec`; `onTimeout` kills what would otherwise linger. */
async function within<T>(what: string, p: Promise<T>, onTimeout: () => void = () => {}, sec = LIMIT_SEC): Promise<T> {
  let timer: Timer | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new Error(`${what}: nothing within ${sec} s`));
    }, sec * 1000);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

function cpu(p: Bun.Subprocess): number {
  const u = p.resourceUsage();
  if (!u) return NaN;
  return Number(u.cpuTime.user + u.cpuTime.system) / 1e6;
}

async function runUp(tool: string, cmd: string[], sink: Lines, bytes: number): Promise<Result> {
  const [r, w] = io.pipe(false);
  const feeder = Bun.spawn([BUN, SELF, "--feed", String(bytes)], { stdin: "ignore", stdout: w, stderr: "inherit" });
  const proxy = Bun.spawn(cmd, { stdin: r, stdout: "ignore", stderr: "inherit" });
  close(r);
  close(w);
  const [code] = await within(`${tool} up`, Promise.all([proxy.exited, feeder.exited]), () => {
    proxy.kill("SIGKILL");
    feeder.kill("SIGKILL");
  });
  if (code !== 0) throw new Error(`${tool} up: exited ${code}`);
  // The proxy has exited, so the server has its EOF at once, if the proxy ever connected.
  const counted = within(`${tool} up: no connection reached the server`, sink.next(), undefined, 10);
  const got = JSON.parse(await counted) as { bytes: number; secs: number };
  if (got.bytes !== bytes) throw new Error(`${tool} up: server got ${got.bytes} of ${bytes} bytes`);
  return { tool, direction: "up", bytes, secs: got.secs, cpuSecs: cpu(proxy) };
}

async function runDown(tool: string, cmd: string[], bytes: number): Promise<Result> {
  const [inR, inW] = io.pipe(false); // stdin stays open until the download is complete (socat would quit 0.5 s after EOF)
  const [outR, outW] = io.pipe(false);
  const drain = Bun.spawn([BUN, SELF, "--drain"], { stdin: outR, stdout: "pipe", stderr: "inherit" });
  const proxy = Bun.spawn(cmd, { stdin: inR, stdout: outW, stderr: "inherit" });
  close(inR);
  close(outR);
  close(outW);
  const kill = () => {
    proxy.kill("SIGKILL");
    drain.kill("SIGKILL");
  };
  const out = await within(`${tool} down`, new Response(drain.stdout).text(), kill);
  await within(`${tool} down`, drain.exited, kill);
  close(inW);
  const code = await within(`${tool} down`, proxy.exited, kill);
  if (code !== 0) throw new Error(`${tool} down: exited ${code}`);
  const got = JSON.parse(out) as { bytes: number; secs: number };
  if (got.bytes !== bytes) throw new Error(`${tool} down: drain got ${got.bytes} of ${bytes} bytes`);
  return { tool, direction: "down", bytes, secs: got.secs, cpuSecs: cpu(proxy) };
}

async function main(): Promise<void> {
  const opt = (name: string, def: number) => {
    const a = process.argv.find((x) => x.startsWith(`--${name}=`));
    return a ? Number(a.slice(name.length + 3)) : def;
  };
  const bytes = opt("size", 1024) * MiB;
  const runs = opt("runs", 3);
  const json = process.argv.includes("--json");
  if (!existsSync(PROXY)) throw new Error(`${PROXY} missing: run scripts/build first`);

  const tools: [string, (path: string) => string[]][] = [
    ["systemd-ssh-proxy --relay", (p) => [PROXY, "--relay", `unix/${p}`, "22"]],
    ["socat - UNIX-CONNECT", (p) => ["socat", "-", `UNIX-CONNECT:${p}`]],
    // For reference: socat with a 1 MiB buffer instead of its default 8 KiB.
    ["socat -b 1048576", (p) => ["socat", "-b", "1048576", "-", `UNIX-CONNECT:${p}`]],
  ];

  const dir = mkdtempSync(join(tmpdir(), "bench-relay-"));
  const sinkPath = join(dir, "sink.sock");
  const sourcePath = join(dir, "source.sock");
  const sink = Bun.spawn([BUN, SELF, "--sink", sinkPath], { stdout: "pipe", stderr: "inherit" });
  const source = Bun.spawn([BUN, SELF, "--source", sourcePath, String(bytes)], { stdout: "pipe", stderr: "inherit" });
  const sinkLines = new Lines(sink.stdout);
  const results: Result[] = [];
  try {
    await within("the sink", sinkLines.next());
    await within("the source", new Lines(source.stdout).next());
    for (let i = 0; i < runs; i++) {
      for (const [name, cmd] of tools) {
        results.push(await runUp(name, cmd(sinkPath), sinkLines, bytes));
        results.push(await runDown(name, cmd(sourcePath), bytes));
      }
    }
  } finally {
    sink.kill();
    source.kill();
    rmSync(dir, { recursive: true, force: true });
  }

  // Best run per tool and direction (least disturbed by the rest of the machine).
  const best = new Map<string, Result>();
  for (const r of results) {
    const k = `${r.tool}|${r.direction}`;
    const b = best.get(k);
    if (!b || r.secs < b.secs) best.set(k, r);
  }
  const GiB = 1 << 30;
  const rows = [...best.values()].map((r) => ({
    tool: r.tool,
    direction: r.direction,
    MiBps: r.bytes / MiB / r.secs,
    cpuSecsPerGiB: (r.cpuSecs * GiB) / r.bytes,
  }));
  if (json) {
    console.log(JSON.stringify({ bytes, runs, rows }, null, 2));
    return;
  }
  console.log(`relay throughput, ${bytes / MiB} MiB per run, best of ${runs}`);
  for (const r of rows) {
    console.log(`  ${r.direction.padEnd(5)} ${r.tool.padEnd(28)} ${r.MiBps.toFixed(0).padStart(6)} MiB/s  ${r.cpuSecsPerGiB.toFixed(3)} s CPU/GiB`);
  }
  for (const dirn of ["up", "down"]) {
    const ours = rows.find((r) => r.direction === dirn && r.tool.startsWith("systemd"))!;
    const socat = rows.find((r) => r.direction === dirn && r.tool === "socat - UNIX-CONNECT")!;
    console.log(`  ${dirn}: ${(ours.MiBps / socat.MiBps).toFixed(2)}x socat's throughput, ${(ours.cpuSecsPerGiB / socat.cpuSecsPerGiB).toFixed(2)}x its CPU per GiB`);
  }
}

if (!(await role(process.argv.slice(2)))) {
  try {
    await main();
  } catch (e) {
    console.error(`bench-relay: ${(e as Error).message}`);
    process.exit(1);
  }
}

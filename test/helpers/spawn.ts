// Spawn a program and collect what it did: the one helper every test that runs a whole process uses.
// Byte-string arguments, environment values and working directories (names not in UTF-8, which Bun would
// re-encode in argv) go through /bin/sh and printf(1): runBytesSync().

import { printfArg, shQuote } from "./shell.ts";

export interface Ran {
  /** The exit status; 128 + N for a death by signal N, -1 when it could not be told. */
  status: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  /** The whole environment (nothing is inherited unless given). */
  env?: Record<string, string>;
  stdin?: string | Uint8Array;
  /** Killed after this long (default 30 s): a hung program fails its test instead of hanging the suite. */
  timeoutMs?: number;
  /** How stdout and stderr are decoded: "utf8" (default) or "latin1" (byte strings, one character a byte). */
  encoding?: "utf8" | "latin1";
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15, SIGABRT: 6 };

export function runSync(cmd: readonly string[], opts: RunOptions = {}): Ran {
  const p = Bun.spawnSync([...cmd], {
    cwd: opts.cwd,
    env: opts.env ?? {},
    stdin: opts.stdin === undefined ? "ignore" : typeof opts.stdin === "string" ? Buffer.from(opts.stdin) : opts.stdin,
    stdout: "pipe",
    stderr: "pipe",
    timeout: opts.timeoutMs ?? 30_000,
  });
  const enc = opts.encoding ?? "utf8";
  const signal = p.signalCode ? SIGNALS[p.signalCode] : undefined;
  const status = p.exitCode ?? (signal !== undefined ? 128 + signal : -1);
  return { status, stdout: Buffer.from(p.stdout).toString(enc), stderr: Buffer.from(p.stderr).toString(enc) };
}

/**
 * Run `program` with byte-string arguments, environment and working directory, each passed to the kernel
 * exactly as given. Output is decoded as latin1 unless told otherwise.
 */
export function runBytesSync(program: string, args: readonly string[], opts: RunOptions = {}): Ran {
  const bytesWord = (s: string) => `"$(printf '${printfArg(s)}')"`;
  const lines = Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${bytesWord(v)}; export ${k}`);
  if (opts.cwd !== undefined) lines.push(`cd ${bytesWord(opts.cwd)} || exit 99`);
  lines.push(`exec ${shQuote(program)} ${args.map(bytesWord).join(" ")}`);
  return runSync(["/bin/sh", "-c", lines.join("\n")], { ...opts, cwd: undefined, env: {}, encoding: opts.encoding ?? "latin1" });
}

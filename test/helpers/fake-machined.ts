// A stand-in for systemd-machined's varlink service io.systemd.Machine, for tests: the real thing needs
// PID 1 and cgroups. It speaks the real wire protocol (one JSON object per message, each terminated by a
// NUL byte, on an AF_UNIX stream socket) and answers io.systemd.Machine.List the way machined does
// (src/machine/machined-varlink.c): a named lookup gets one reply or io.systemd.Machine.NoSuchMachine;
// an enumeration without "more" gets org.varlink.service.ExpectedMore; with "more", one reply per machine
// with "continues": true on all but the last, or NoSuchMachine when there are none. Reply fields and
// their order follow list_machine_one() and src/shared/varlink-io.systemd.Machine.c.
//
// Tests can override the answer per call (`respond`) to produce errors, garbage and hang-ups.

import { mkdirSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import type { Socket, UnixSocketListener } from "bun";

/** A machine as machined reports it. Optional fields are left out of the reply when unset, as machined does. */
export interface FakeMachine {
  name: string;
  class: string;
  id?: string;
  service?: string;
  rootDirectory?: string;
  unit?: string;
  leader?: number;
  timestamp?: { realtime?: number; monotonic?: number };
  vSockCid?: number;
  sshAddress?: string;
  sshPrivateKeyPath?: string;
}

export interface VarlinkCall {
  method: string;
  parameters: Record<string, unknown>;
  more: boolean;
  oneway: boolean;
  /** The message exactly as received, without its NUL terminator. */
  raw: string;
}

/**
 * What to send back for a call: a list of messages (objects are JSON-encoded and NUL-terminated, strings
 * and byte arrays are sent as they are), optionally followed by closing the connection; or "hang" (never
 * answer); or undefined for machined's own answer.
 */
export type FakeAnswer =
  | { messages: (object | string | Uint8Array)[]; close?: boolean }
  | "hang"
  | undefined;

export interface FakeMachined {
  path: string;
  machines: FakeMachine[];
  calls: VarlinkCall[];
  /** Override answers; return undefined to fall back to machined's behaviour. */
  respond: ((call: VarlinkCall) => FakeAnswer) | undefined;
  stop(): void;
}

const NO_SUCH_MACHINE = "io.systemd.Machine.NoSuchMachine";

/** The List reply's parameters, with machined's field order. */
export function machineParameters(m: FakeMachine): Record<string, unknown> {
  const p: Record<string, unknown> = { name: m.name };
  if (m.id !== undefined) p.id = m.id;
  p.class = m.class;
  if (m.service) p.service = m.service;
  if (m.rootDirectory) p.rootDirectory = m.rootDirectory;
  if (m.unit) p.unit = m.unit;
  if (m.leader !== undefined) p.leader = m.leader;
  if (m.timestamp !== undefined) p.timestamp = m.timestamp;
  if (m.vSockCid !== undefined) p.vSockCid = m.vSockCid;
  if (m.sshAddress) p.sshAddress = m.sshAddress;
  if (m.sshPrivateKeyPath) p.sshPrivateKeyPath = m.sshPrivateKeyPath;
  return p;
}

/** systemd's hostname_is_valid(name, VALID_HOSTNAME_DOT_HOST), which machined applies to "name". */
export function validMachineName(name: string): boolean {
  if (name === ".host") return true;
  if (name.length === 0 || name.length > 64) return false;
  if (name.startsWith(".") || name.endsWith(".") || name.includes("..")) return false;
  return /^[A-Za-z0-9._-]+$/.test(name) && !name.startsWith("-");
}

function machinedAnswer(fake: FakeMachined, call: VarlinkCall): object[] {
  if (call.method !== "io.systemd.Machine.List") {
    return [{ error: "org.varlink.service.MethodNotFound", parameters: { method: call.method } }];
  }
  const name = call.parameters.name;
  if (name !== undefined && name !== null) {
    if (typeof name !== "string") return [{ error: "org.varlink.service.InvalidParameter", parameters: { parameter: "name" } }];
    if (!validMachineName(name)) return [{ error: "org.varlink.service.InvalidParameter", parameters: { parameter: "name" } }];
    const m = fake.machines.find((x) => x.name === name);
    return m ? [{ parameters: machineParameters(m) }] : [{ error: NO_SUCH_MACHINE, parameters: {} }];
  }
  if (!call.more) return [{ error: "org.varlink.service.ExpectedMore", parameters: {} }];
  if (fake.machines.length === 0) return [{ error: NO_SUCH_MACHINE, parameters: {} }];
  return fake.machines.map((m, i) =>
    i < fake.machines.length - 1 ? { parameters: machineParameters(m), continues: true } : { parameters: machineParameters(m) },
  );
}

function encode(msg: object | string | Uint8Array): Uint8Array {
  if (msg instanceof Uint8Array) return msg;
  return new TextEncoder().encode(typeof msg === "string" ? msg : `${JSON.stringify(msg)}\0`);
}

interface ConnState {
  buf: Uint8Array;
  hung: boolean;
}

/** Listen on `path` (parent directories are created) as machined would. */
export function startFakeMachined(path: string, machines: FakeMachine[] = []): FakeMachined {
  mkdirSync(dirname(path), { recursive: true });
  rmSync(path, { force: true });
  const fake: FakeMachined = {
    path,
    machines,
    calls: [],
    respond: undefined,
    stop() {
      listener.stop(true);
      rmSync(path, { force: true });
    },
  };

  const handle = (sock: Socket<ConnState>, raw: string) => {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(raw);
    } catch {
      sock.end();
      return;
    }
    const call: VarlinkCall = {
      method: String(msg.method),
      parameters: (msg.parameters ?? {}) as Record<string, unknown>,
      more: msg.more === true,
      oneway: msg.oneway === true,
      raw,
    };
    fake.calls.push(call);
    const custom = fake.respond?.(call);
    if (custom === "hang") {
      sock.data.hung = true;
      return;
    }
    if (call.oneway) return;
    const messages = custom?.messages ?? machinedAnswer(fake, call);
    for (const m of messages) sock.write(encode(m));
    sock.flush();
    if (custom?.close) sock.end();
  };

  const listener: UnixSocketListener<ConnState> = Bun.listen<ConnState>({
    unix: path,
    socket: {
      open(sock) {
        sock.data = { buf: new Uint8Array(0), hung: false };
      },
      data(sock, chunk) {
        if (sock.data.hung) return;
        const all = new Uint8Array(sock.data.buf.length + chunk.length);
        all.set(sock.data.buf);
        all.set(chunk, sock.data.buf.length);
        let start = 0;
        for (let i = 0; i < all.length; i++) {
          if (all[i] !== 0) continue;
          handle(sock, new TextDecoder().decode(all.subarray(start, i)));
          start = i + 1;
          if (sock.data.hung) break;
        }
        sock.data.buf = all.slice(start);
      },
    },
  });
  return fake;
}

/** Answers by call number, for a fake in another process (functions do not cross processes). */
export interface FakeScript {
  machines?: FakeMachine[];
  /** answers[i] answers the i-th call (counting from 0); null or missing: machined's own answer. */
  answers?: (Exclude<FakeAnswer, undefined> | null)[];
}

export interface FakeMachinedProcess {
  path: string;
  /** The calls received so far. */
  calls(): VarlinkCall[];
  stop(): Promise<void>;
}

/**
 * The fake in a child process, for tests that call the (synchronous, blocking) varlink client in this
 * process: an in-process fake could not answer while the client waits.
 */
export async function startFakeMachinedProcess(path: string, script: FakeScript = {}): Promise<FakeMachinedProcess> {
  rmSync(path, { force: true });
  const callsFile = `${path}.calls`;
  const proc = Bun.spawn([process.execPath, import.meta.path, path, callsFile, JSON.stringify(script)], {
    stdout: "pipe",
    stderr: "inherit",
  });
  // The child says "ready" once it listens (the socket file appears at bind(), before listen()).
  const reader = proc.stdout.getReader();
  const timer = setTimeout(() => proc.kill(), 5000);
  const first = await reader.read();
  clearTimeout(timer);
  reader.releaseLock();
  if (first.done || !new TextDecoder().decode(first.value).startsWith("ready")) {
    proc.kill();
    throw new Error(`fake machined did not start on ${path} (exit ${await proc.exited})`);
  }
  return {
    path,
    calls() {
      let text = "";
      try {
        text = require("node:fs").readFileSync(callsFile, "utf8") as string;
      } catch {}
      return text
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as VarlinkCall);
    },
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
      rmSync(path, { force: true });
      rmSync(callsFile, { force: true });
    },
  };
}

if (import.meta.main) {
  const [path, callsFile, json] = process.argv.slice(2) as [string, string, string];
  const script = JSON.parse(json) as FakeScript;
  const fake = startFakeMachined(path, script.machines ?? []);
  let n = 0;
  fake.respond = (call) => {
    require("node:fs").appendFileSync(callsFile, `${JSON.stringify(call)}\n`);
    return script.answers?.[n++] ?? undefined;
  };
  process.on("SIGTERM", () => {
    fake.stop();
    process.exit(0);
  });
  process.stdout.write("ready\n");
}

// machine/NAME end to end: real ssh logins through a fake machined to a container's exported sshd
// socket (user and system scope), and the vm class up to the vsock connect (an injected connector:
// never a real AF_VSOCK connect on this machine).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { SysError } from "../../ffi/errors.ts";
import { realEffects, type ProxyEffects } from "../../src/proxy/effects.ts";
import { main } from "../../src/proxy/main.ts";
import { log } from "../../src/shared/log.ts";
import { startFakeMachined, startFakeMachinedProcess, type FakeMachined } from "../helpers/fake-machined.ts";
import { runFdpass } from "../helpers/fdpass.ts";
import { runCommand, startSshd, type TestSshd } from "../helpers/sshd.ts";
import { PROXY, removeDir, tempDir } from "../helpers/tmp.ts";

const nspawn = (name: string) => ({ name, class: "container", service: "systemd-nspawn", leader: 4242 });

describe("machine/NAME with real ssh", () => {
  let root: string;
  let userRuntime: string;
  let systemRuntime: string;
  let userMachined: FakeMachined;
  let systemMachined: FakeMachined;
  let userBox: TestSshd;
  let systemBox: TestSshd;
  let env: Record<string, string>;

  beforeAll(async () => {
    if (!existsSync(PROXY)) throw new Error(`${PROXY} missing: run scripts/build`);
    root = tempDir("machine");
    userRuntime = join(root, "user");
    systemRuntime = join(root, "run");
    userMachined = startFakeMachined(join(userRuntime, "systemd/machine/io.systemd.Machine"), [nspawn("ubox")]);
    systemMachined = startFakeMachined(join(systemRuntime, "systemd/machine/io.systemd.Machine"), [nspawn("sbox")]);
    const exportSocket = (runtime: string, name: string) => {
      const dir = join(runtime, "systemd/nspawn", name, "unix-export");
      mkdirSync(dir, { recursive: true });
      return join(dir, "ssh");
    };
    [userBox, systemBox] = await Promise.all([
      startSshd({ socket: exportSocket(userRuntime, "ubox") }),
      startSshd({ socket: exportSocket(systemRuntime, "sbox") }),
    ]);
    env = { ...process.env, XDG_RUNTIME_DIR: userRuntime, SYSTEMD_SSH_SYSTEM_RUNTIME_DIR: systemRuntime } as Record<string, string>;
  });

  afterAll(async () => {
    userMachined?.stop();
    systemMachined?.stop();
    await Promise.all([userBox?.stop(), systemBox?.stop()]);
    if (root) removeDir(root);
  });

  test("a container of the user's machined", async () => {
    const r = await runCommand(["ssh", "-F", userBox.sshConfig(), "machine/ubox", "echo", "hello from ubox"], { env });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("hello from ubox\n");
    expect(r.code).toBe(0);
    expect(userMachined.calls.at(-1)?.raw).toBe('{"method":"io.systemd.Machine.List","parameters":{"name":"ubox"}}');
  });

  test("a container of the system's machined, after the user's says NoSuchMachine; machine%NAME", async () => {
    const before = userMachined.calls.length;
    const r = await runCommand(["ssh", "-F", systemBox.sshConfig(), "machine%sbox", "echo", "hello from sbox"], { env });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("hello from sbox\n");
    expect(r.code).toBe(0);
    expect(userMachined.calls.slice(before).map((c) => c.parameters)).toEqual([{ name: "sbox" }]);
    expect(systemMachined.calls.at(-1)?.parameters).toEqual({ name: "sbox" });
  });

  test("a machine neither knows: one line, exit 1, and ssh gives up", async () => {
    const r = await runFdpass([PROXY, "machine/nobox", "22"], { env });
    expect(r.code).toBe(1);
    expect(r.fd).toBeNull();
    expect(r.stderr).toBe("No machine nobox is registered with systemd-machined (user or system scope).\n");
    const s = await runCommand(["ssh", "-F", userBox.sshConfig(), "machine/nobox", "true"], { env });
    expect(s.code).toBe(255);
    expect(s.stderr).toContain("No machine nobox is registered");
  });

  test("no XDG_RUNTIME_DIR: one line naming the problem", async () => {
    const { XDG_RUNTIME_DIR: _, ...noXdg } = env;
    const r = await runFdpass([PROXY, "machine/ubox", "22"], { env: noXdg });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("Cannot look up machine ubox with the user's systemd-machined: $XDG_RUNTIME_DIR is not set.\n");
  });
});

describe("machine/NAME of class vm (injected vsock connector)", () => {
  let root: string;
  const saved = { xdg: process.env.XDG_RUNTIME_DIR, sink: log.sink };
  const lines: string[] = [];

  beforeAll(() => {
    root = tempDir("machine-vm");
    process.env.XDG_RUNTIME_DIR = root;
    log.sink = { write: (_level, line) => void lines.push(line) };
  });
  afterAll(() => {
    if (saved.xdg === undefined) delete process.env.XDG_RUNTIME_DIR;
    else process.env.XDG_RUNTIME_DIR = saved.xdg;
    log.sink = saved.sink;
    removeDir(root);
  });

  /** Effects that record vsock connects and refuse them; nothing may be handed off. */
  function recordingEffects() {
    const vsock: [number, number][] = [];
    const effects: ProxyEffects = {
      connectUnix: () => {
        throw new Error("no unix connect expected");
      },
      connectVsock(cid, port) {
        vsock.push([cid, port]);
        throw new SysError("connect", 111 /* ECONNREFUSED */);
      },
      handOff: () => {
        throw new Error("no hand-off expected");
      },
      close: () => {},
      lookups: realEffects.lookups,
      exit: (code) => code,
    };
    return { effects, vsock };
  }

  async function run(args: string[], machines: object[]) {
    lines.length = 0;
    // The client blocks this process while it waits, so the fake answers from a child process.
    const fake = await startFakeMachinedProcess(join(root, "systemd/machine/io.systemd.Machine"), { machines: machines as never });
    try {
      const { effects, vsock } = recordingEffects();
      const code = await main(args, effects);
      return { code, vsock, lines: [...lines], calls: fake.calls() };
    } finally {
      await fake.stop();
    }
  }

  test("connects AF_VSOCK to the machine's CID and the port ssh asked for", async () => {
    const r = await run(["machine/vm1", "2222"], [{ name: "vm1", class: "vm", service: "systemd-vmspawn", vSockCid: 42 }]);
    expect(r.vsock).toEqual([[42, 2222]]);
    expect(r.code).toBe(1);
    expect(r.lines).toEqual(["Failed to connect to vsock:42:2222: Connection refused"]);
    expect(r.calls.map((c) => c.raw)).toEqual(['{"method":"io.systemd.Machine.List","parameters":{"name":"vm1"}}']);
  });

  test("the CID can be any 32-bit value below VMADDR_CID_ANY", async () => {
    const r = await run(["machine%vm2", "22"], [{ name: "vm2", class: "vm", vSockCid: 4294967294 }]);
    expect(r.vsock).toEqual([[4294967294, 22]]);
  });

  test("a bad port is refused before any connect", async () => {
    const r = await run(["machine/vm1", "ssh"], [{ name: "vm1", class: "vm", vSockCid: 42 }]);
    expect(r.vsock).toEqual([]);
    expect(r.lines).toEqual(["Failed to parse vsock port: ssh"]);
  });

  test("no CID: systemd's message, no connect", async () => {
    const r = await run(["machine/vm1", "22"], [{ name: "vm1", class: "vm" }]);
    expect(r.vsock).toEqual([]);
    expect(r.lines).toEqual(["Machine vm1 has no AF_VSOCK CID assigned."]);
  });
});

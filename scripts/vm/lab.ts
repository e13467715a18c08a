// The VM lab, stage 1: build (via build.sh), boot and tear down a QEMU guest whose only
// job is to run OpenSSH's sshd behind virtio-vsock port 22.
//
// Wiring: vhost-device-vsock emulates the guest's vsock device (guest CID 3) and exposes
// it to us as the "hybrid" AF_UNIX socket (vsock-mux protocol: `CONNECT <port>\n` ->
// `OK <port>\n`). Guest connects to CID 2 port P come out as connects to `<hybrid>_P`.
//
// Safety: nothing here opens an AF_VSOCK socket on the host. The daemon is given only
// `--vm guest-cid=3,socket=...,uds-path=...` (its forward-cid/forward-listen options
// would open host vsock sockets, and the host's vsock belongs to the infrastructure).
//
// Every process started here is killed by its PID in stop(); when VM_PIDFILE is set the
// PIDs are also appended there so a wrapper's trap can kill them if this process dies.

import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const repoRoot = resolve(import.meta.dir, "../..");

export interface GuestBuild {
  vmlinux: string;
  initrd: string;
  initrdMb: number;
  vhost: string;
  hostKeyPub: string;
}

export interface BuildOptions {
  /** Host programs to copy into the guest as /usr/local/bin/<basename>, with their libraries. */
  extra?: string[];
}

/** Runs scripts/vm/build.sh (cached: cheap when nothing changed) and returns its products. */
export function buildGuest(opts: BuildOptions = {}): GuestBuild {
  const args = [join(repoRoot, "scripts/vm/build.sh")];
  for (const x of opts.extra ?? []) args.push("--extra", resolve(x));
  const r = Bun.spawnSync(["bash", ...args], { stdout: "pipe", stderr: "inherit", env: { ...process.env } });
  if (r.exitCode !== 0) throw new Error(`build.sh failed with exit code ${r.exitCode}`);
  const kv = new Map<string, string>();
  for (const line of r.stdout.toString().split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) kv.set(line.slice(0, i), line.slice(i + 1));
  }
  const get = (k: string): string => {
    const v = kv.get(k);
    if (v === undefined) throw new Error(`build.sh did not print ${k}`);
    return v;
  };
  return {
    vmlinux: get("VM_VMLINUX"),
    initrd: get("VM_INITRD"),
    initrdMb: Number(get("VM_INITRD_MB")),
    vhost: get("VM_VHOST"),
    hostKeyPub: get("VM_HOSTKEY_PUB"),
  };
}

export interface Stage2Build extends GuestBuild {
  suite: string;
  /** How our tools got into the image: `systemd-ssh install --root` or `dpkg -i` of our .deb. */
  via: Stage2Via;
  /** The ext4 root disk (booted as a snapshot: never written). */
  disk: string;
  /** The guest's root tree on the host (read-only use: e.g. its sshd host key, its generators). */
  base: string;
}

export type Stage2Via = "install" | "deb";

/**
 * Runs scripts/vm/build-stage2.sh SUITE (cached) and returns its products: a Debian root disk whose own
 * kernel and initramfs (update-initramfs, Debian's defaults) boot it, systemd as PID 1 after the
 * initramfs's switch-root, our tools installed by `systemd-ssh install --root` or by dpkg from our .deb.
 */
export function buildStage2(suite: string, opts: { binary?: string; via?: Stage2Via; deb?: string } = {}): Stage2Build {
  const args = [join(repoRoot, "scripts/vm/build-stage2.sh"), suite, "--via", opts.via ?? "install"];
  if (opts.binary) args.push("--binary", resolve(opts.binary));
  if (opts.deb) args.push("--deb", resolve(opts.deb));
  const r = Bun.spawnSync(["bash", ...args], { stdout: "pipe", stderr: "inherit", env: { ...process.env } });
  if (r.exitCode !== 0) throw new Error(`build-stage2.sh ${suite} failed with exit code ${r.exitCode}`);
  const kv = parseKv(r.stdout.toString());
  const get = (k: string): string => {
    const v = kv.get(k);
    if (v === undefined) throw new Error(`build-stage2.sh did not print ${k}`);
    return v;
  };
  return {
    suite: get("VM_SUITE"),
    via: get("VM_VIA") as Stage2Via,
    disk: get("VM_DISK"),
    base: get("VM_BASE"),
    vmlinux: get("VM_VMLINUX"),
    initrd: get("VM_INITRD"),
    initrdMb: Number(get("VM_INITRD_MB")),
    vhost: get("VM_VHOST"),
    hostKeyPub: get("VM_HOSTKEY_PUB"),
  };
}

function parseKv(text: string): Map<string, string> {
  const kv = new Map<string, string>();
  for (const line of text.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) kv.set(line.slice(0, i), line.slice(i + 1));
  }
  return kv;
}

export interface BootOptions {
  /** With a `disk`, the guest boots the way Debian does: its initramfs mounts the disk (virtio-blk) as root. */
  build: GuestBuild & { disk?: string };
  /** One authorized_keys line for root, passed on the kernel command line. */
  authorizedKey?: string;
  /** Guest RAM in MiB. The initramfs is unpacked into RAM, so big extras need more. */
  memMb?: number;
  readyTimeoutMs?: number;
  /** The guest's vsock CID (vhost-device-vsock guest-cid=); default 3. */
  cid?: number;
  /** QEMU -cpu model; default "max". */
  cpu?: string;
  /** More kernel command line words, and more QEMU arguments (e.g. -smbios type=11,...). */
  append?: string[];
  qemuArgs?: string[];
  /** Kept after stop() when true (console log, sockets dir) for post-mortems. */
  keepDir?: boolean;
  /**
   * The guest vsock port whose `OK` means "ready" (default 22). null: return as soon as QEMU runs
   * (for callers that wait with the proxy's own boot-wait, or for a port the guest opens later).
   */
  readyPort?: number | null;
  /**
   * Boot without the vsock device and add it later with Vm.plugVsock() (PCI hotplug through QEMU's QMP
   * socket): a transport that arrives after boot, whatever PID 1 loads early.
   */
  vsockLater?: boolean;
}

export interface Vm {
  dir: string;
  vhostSock: string;
  /** The vsock-mux socket: connect, send `CONNECT 22\n`, get `OK 22\n`. */
  hybridSock: string;
  consoleLog: string;
  qemuPid: number;
  daemonPid: number;
  /** Milliseconds from starting QEMU to the first `OK` on readyPort (0 with readyPort null). */
  bootMs: number;
  /** performance.now() when QEMU was started. */
  startedAt: number;
  /** Poll until the guest answers OK on `port`; resolves with ms since QEMU start. Throws with the console tail. */
  waitForPort(port: number, timeoutMs?: number): Promise<number>;
  /** Resolves when QEMU exits (a crashed guest, or stop()). */
  exited: Promise<unknown>;
  /** With vsockLater: hot-plug the vsock device now (QMP device_add). */
  plugVsock(): Promise<void>;
  /** Resolves (ms since QEMU start) once the guest's serial console matches `pattern`; throws after timeoutMs. */
  waitForConsole(pattern: RegExp, timeoutMs: number): Promise<number>;
  /** The last `chars` characters of the guest's serial console. */
  consoleTail(chars?: number): string;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function recordPid(pid: number): void {
  const f = process.env.VM_PIDFILE;
  if (f) appendFileSync(f, `${pid}\n`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function killPid(proc: ReturnType<typeof Bun.spawn>, graceMs = 3000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill("SIGTERM");
  const done = await Promise.race([proc.exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!done && alive(proc.pid)) {
    proc.kill("SIGKILL");
    await proc.exited;
  }
}

/**
 * Opens a vsock-mux connection: connect to the hybrid socket, send `CONNECT <port>\n`
 * in one write (the daemon drops a split line), and wait for `OK ...\n`. Nothing may be
 * sent before the OK line. Rejects if the daemon closes first (guest driver not up yet,
 * or nothing listening on that port). Resolves with the socket and any bytes that came
 * after the OK line.
 */
export function vsockMuxConnect(
  hybridSock: string,
  port: number,
  timeoutMs = 5000,
): Promise<{ socket: Socket; rest: Buffer }> {
  return new Promise((resolveP, rejectP) => {
    const sock = createConnection({ path: hybridSock });
    let buf = Buffer.alloc(0);
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      rejectP(new Error(why));
    };
    const timer = setTimeout(() => fail("vsock-mux handshake timed out"), timeoutMs);
    sock.on("connect", () => sock.write(`CONNECT ${port}\n`));
    sock.on("data", (d: Buffer) => {
      if (settled) return;
      buf = Buffer.concat([buf, d]);
      const nl = buf.indexOf(10);
      if (nl < 0) return;
      const line = buf.subarray(0, nl).toString();
      if (!/^OK \d+\r?$/.test(line)) return fail(`unexpected vsock-mux reply: ${JSON.stringify(line)}`);
      settled = true;
      clearTimeout(timer);
      sock.removeAllListeners("data");
      sock.removeAllListeners("error");
      sock.removeAllListeners("close");
      sock.pause();
      resolveP({ socket: sock, rest: buf.subarray(nl + 1) });
    });
    sock.on("error", (e: Error) => fail(`vsock-mux: ${e.message}`));
    sock.on("close", () => fail("vsock-mux: closed before OK"));
  });
}

async function waitForPath(path: string, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!existsSync(path)) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: ${path} did not appear within ${timeoutMs} ms`);
    await sleep(20);
  }
}

const VSOCK_DEVICE = "vhost-user-vsock-pci,chardev=v";

/**
 * Sends QMP commands in order over QEMU's monitor socket (AF_UNIX), one JSON object each, and waits for
 * each one's reply; rejects on an error reply. Events QEMU sends in between are skipped.
 */
function qmp(path: string, commands: object[]): Promise<void> {
  return new Promise((resolveP, rejectP) => {
    const sock = createConnection({ path });
    let buf = "";
    let sent = 0;
    let greeted = false;
    const timer = setTimeout(() => done(new Error("QMP: no reply within 30 s")), 30_000);
    const done = (e?: Error) => {
      clearTimeout(timer);
      sock.destroy();
      if (e) rejectP(e);
      else resolveP();
    };
    const next = () => {
      if (sent === commands.length) return done();
      sock.write(`${JSON.stringify(commands[sent++])}\n`);
    };
    sock.on("data", (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line) as { QMP?: unknown; return?: unknown; error?: { desc?: string } };
        if (msg.QMP && !greeted) {
          greeted = true;
          next();
        } else if (msg.error) done(new Error(`QMP: ${msg.error.desc ?? JSON.stringify(msg.error)}`));
        else if ("return" in msg) next();
      }
    });
    sock.on("error", (e: Error) => done(new Error(`QMP: ${e.message}`)));
  });
}

/** Boots the guest and resolves once sshd answers on vsock port 22. */
export async function bootVm(opts: BootOptions): Promise<Vm> {
  const { build } = opts;
  const memMb = opts.memMb ?? 1024;
  // Lowercase on purpose: OpenSSH lowercases %h, and tests pass the hybrid socket's path as the host
  // (vsock-mux/PATH); mkdtemp's random part has capitals.
  const dir = join(tmpdir(), `vm-lab-${Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => b.toString(16).padStart(2, "0")).join("")}`);
  mkdirSync(dir, { mode: 0o700 });
  const vhostSock = join(dir, "vhost.sock");
  const hybridSock = join(dir, "hybrid.sock");
  const consoleLog = join(dir, "console.log");
  const daemonLog = join(dir, "vhost-device-vsock.log");
  const qmpSock = join(dir, "qmp.sock");

  const daemon = Bun.spawn(
    [build.vhost, "--vm", `guest-cid=${opts.cid ?? 3},socket=${vhostSock},uds-path=${hybridSock}`],
    { stdout: Bun.file(daemonLog), stderr: Bun.file(daemonLog), stdin: "ignore" },
  );
  recordPid(daemon.pid);
  let qemu: ReturnType<typeof Bun.spawn> | undefined;

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.off("exit", onExit);
    if (qemu) await killPid(qemu);
    await killPid(daemon);
    if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
  };
  // Last resort if the test runner exits without calling stop(): kill by PID, synchronously.
  const onExit = () => {
    for (const p of [qemu?.pid, daemon.pid]) {
      if (p !== undefined && alive(p)) process.kill(p, "SIGKILL");
    }
  };
  process.on("exit", onExit);

  try {
    await waitForPath(vhostSock, 5000, "vhost-device-vsock");

    // Stage 1 runs its initramfs as the system (rdinit=/init); a stage-2 guest's initramfs-tools mounts
    // root=/dev/vda (the first virtio disk) and switches to it. The disk is a snapshot: writes go to a
    // temporary file QEMU deletes, the cached image stays as built.
    const disk = build.disk;
    const rootArgs = disk ? ["root=/dev/vda", "rw"] : ["rdinit=/init"];
    const diskArgs = disk ? ["-drive", `file=${disk},format=raw,if=virtio,snapshot=on`] : [];
    const append = ["console=ttyS0", "quiet", "panic=-1", "mitigations=off", ...rootArgs, ...(opts.append ?? [])];
    if (opts.authorizedKey) {
      append.push(`ssh.authorized_key=${Buffer.from(opts.authorizedKey.trim()).toString("base64")}`);
    }
    const t0 = performance.now();
    qemu = Bun.spawn(
      [
        "qemu-system-x86_64",
        // KVM on these machines is a broken software backend: emulate.
        "-accel", "tcg",
        // No default NIC/VGA/drives: less to probe (and no option ROMs) at boot.
        "-nodefaults", "-no-user-config",
        // The default TCG CPU (qemu64) has no AVX/AVX2 and Bun-compiled programs die
        // with SIGILL on it; "max" enables everything TCG emulates (AVX2 since QEMU 7.2).
        "-cpu", opts.cpu ?? "max",
        "-m", `${memMb}`, "-smp", "1",
        // vhost-user needs guest RAM the daemon can map: a shared memfd.
        "-object", `memory-backend-memfd,id=mem,size=${memMb}M,share=on`,
        "-numa", "node,memdev=mem",
        "-chardev", `socket,id=v,path=${vhostSock}`,
        ...(opts.vsockLater ? ["-qmp", `unix:${qmpSock},server=on,wait=off`] : ["-device", VSOCK_DEVICE]),
        "-kernel", build.vmlinux, "-initrd", build.initrd,
        ...diskArgs,
        "-append", append.join(" "),
        // Like -nographic, but the serial console goes to a file and no monitor on stdio.
        "-display", "none", "-monitor", "none", "-serial", `file:${consoleLog}`,
        "-no-reboot",
        ...(opts.qemuArgs ?? []),
      ],
      { stdout: "ignore", stderr: Bun.file(join(dir, "qemu.stderr")), stdin: "ignore" },
    );
    recordPid(qemu.pid);

    const proc = qemu;
    const consoleTail = (chars = 3000) =>
      existsSync(consoleLog) ? readFileSync(consoleLog, "utf8").slice(-chars) : "(no console log)";
    const waitForPort = async (port: number, timeoutMs = opts.readyTimeoutMs ?? 120_000): Promise<number> => {
      for (;;) {
        if (proc.exitCode !== null || proc.signalCode !== null) {
          throw new Error(`QEMU exited early (${proc.exitCode ?? proc.signalCode}); see ${dir}\n--- guest console (tail) ---\n${consoleTail()}`);
        }
        if (performance.now() - t0 > timeoutMs) {
          throw new Error(`guest port ${port} not open within ${timeoutMs} ms of QEMU start\n--- guest console (tail) ---\n${consoleTail()}`);
        }
        try {
          const { socket } = await vsockMuxConnect(hybridSock, port, 3000);
          socket.destroy();
          return Math.round(performance.now() - t0);
        } catch {
          await sleep(100);
        }
      }
    };
    const waitForConsole = async (pattern: RegExp, timeoutMs: number): Promise<number> => {
      for (;;) {
        if (existsSync(consoleLog) && pattern.test(readFileSync(consoleLog, "utf8"))) return Math.round(performance.now() - t0);
        if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`QEMU exited early; see ${dir}\n--- guest console (tail) ---\n${consoleTail()}`);
        if (performance.now() - t0 > timeoutMs) throw new Error(`console never matched ${pattern} within ${timeoutMs} ms\n--- guest console (tail) ---\n${consoleTail()}`);
        await sleep(250);
      }
    };
    const plugVsock = async () => {
      if (!opts.vsockLater) throw new Error("plugVsock: boot with vsockLater");
      await qmp(qmpSock, [{ execute: "qmp_capabilities" }, { execute: "device_add", arguments: { driver: "vhost-user-vsock-pci", chardev: "v", id: "vsock0" } }]);
    };
    const readyPort = opts.readyPort === undefined ? 22 : opts.readyPort;
    const bootMs = readyPort === null ? 0 : await waitForPort(readyPort);
    return {
      dir, vhostSock, hybridSock, consoleLog, qemuPid: qemu.pid, daemonPid: daemon.pid, bootMs, startedAt: t0,
      waitForPort, waitForConsole, plugVsock, consoleTail, stop, exited: proc.exited,
    };
  } catch (e) {
    opts.keepDir = true;
    await stop();
    const msg = (e as Error).message;
    if (msg.includes("--- guest console")) throw e;
    const tail = existsSync(consoleLog) ? readFileSync(consoleLog, "utf8").slice(-3000) : "(no console log)";
    throw new Error(`${msg}\n--- guest console (tail) ---\n${tail}`);
  }
}

// VM lab, stage 1: a real QEMU guest with virtio-vsock and OpenSSH's sshd behind port 22.
//
// Run with `npm run vm:test` (scripts/vm/run-test.sh sets VM_TEST=1 and kills leftovers
// by PID if this process dies). Plain `bun test` skips it: booting takes seconds of CPU.
//
// Env:
//   VM_EXTRA="PATH ..."   more host programs to put into the guest (/usr/local/bin/<name>)
//   VM_MEM_MB=1024        guest RAM
//   VM_FIGURES=FILE       also write the measured figures as JSON there
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { bootVm, buildGuest, repoRoot, type Vm } from "../../scripts/vm/lab.ts";

setDefaultTimeout(240_000);

const bun = join(repoRoot, "node_modules/.bin/bun");

// THE ProxyCommand under test, the one thing to change when dist/systemd-ssh-proxy lands:
//   command: `${repoRoot}/dist/systemd-ssh-proxy vsock-mux/${hybrid} 22`, fdpass: true
// Until then: our stand-in, which does the vsock-mux handshake and relays (no fd passing).
const proxy = (hybrid: string): { command: string; fdpass: boolean } => ({
  command: `${bun} ${join(repoRoot, "test/vm/standin-vsock-mux-proxy.ts")} ${hybrid} 22`,
  fdpass: false,
});

// A small glibc-linked host program that busybox does not provide, to prove that
// extras and their ldd libraries work in the guest; VM_EXTRA adds more (dist/systemd-ssh).
const defaultExtra = "/usr/bin/openssl";
const extras = [defaultExtra];

const run = process.env.VM_TEST === "1";
const figures: Record<string, number | string> = {};

describe.skipIf(!run)("VM lab stage 1", () => {
  let vm: Vm;
  let work: string;
  let sshBase: string[];

  const ssh = (cmd: string, opts: { stdin?: Uint8Array } = {}) => {
    const r = Bun.spawnSync(["ssh", ...sshBase, "root@vm", cmd], {
      stdin: opts.stdin ?? "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "vm-stage1-test-"));
    const key = join(work, "id_ed25519");
    const kg = Bun.spawnSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vm-test", "-f", key]);
    expect(kg.exitCode).toBe(0);

    const build = buildGuest({ extra: extras });
    figures.initrdMb = build.initrdMb;
    // Pin the guest's host key: the test must not trust whatever answers.
    writeFileSync(join(work, "known_hosts"), `vm-stage1 ${readFileSync(build.hostKeyPub, "utf8")}`);

    vm = await bootVm({
      build,
      authorizedKey: readFileSync(`${key}.pub`, "utf8"),
      memMb: process.env.VM_MEM_MB ? Number(process.env.VM_MEM_MB) : 1024,
    });
    figures.bootToVsockMs = vm.bootMs;

    const p = proxy(vm.hybridSock);
    sshBase = [
      "-F", "/dev/null",
      "-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
      "-o", `ProxyCommand=${p.command}`, "-o", `ProxyUseFdpass=${p.fdpass ? "yes" : "no"}`,
      "-o", "HostKeyAlias=vm-stage1", "-o", `UserKnownHostsFile=${join(work, "known_hosts")}`,
      "-o", "StrictHostKeyChecking=yes", "-o", "LogLevel=ERROR",
    ];
  });

  afterAll(async () => {
    await vm?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
    console.log(`vm figures: ${JSON.stringify(figures)}`);
    if (process.env.VM_FIGURES) writeFileSync(process.env.VM_FIGURES, `${JSON.stringify(figures, null, 2)}\n`);
  });

  test("ssh login runs a command in the guest", () => {
    const t0 = performance.now();
    const r = ssh("echo hello from $(hostname); id -u");
    figures.firstLoginMs = Math.round(performance.now() - t0);
    figures.bootToFirstSshMs = (figures.bootToVsockMs as number) + (figures.firstLoginMs as number);
    expect(r.err).toBe("");
    expect(r.out).toBe("hello from vm-stage1\n0\n");
    expect(r.code).toBe(0);

    // Login latency: a few more round trips of a trivial command.
    const n = 3;
    const t1 = performance.now();
    for (let i = 0; i < n; i++) expect(ssh("true").code).toBe(0);
    figures.loginLatencyMs = Math.round((performance.now() - t1) / n);
  });

  test("exit status and a pty come through", () => {
    expect(ssh("exit 7").code).toBe(7);
    const r = Bun.spawnSync(["ssh", ...sshBase, "-tt", "root@vm", "tty"], { stdin: "ignore", stdout: "pipe" });
    expect(r.stdout.toString()).toMatch(/^\/dev\/pts\/\d+\r?\n/);
  });

  test("scp moves 8 MiB both ways intact", () => {
    const size = 8 << 20;
    const blob = new Uint8Array(size);
    for (let off = 0; off < size; off += 65536) crypto.getRandomValues(blob.subarray(off, off + 65536));
    const src = join(work, "blob");
    const back = join(work, "blob.back");
    writeFileSync(src, blob);
    const want = createHash("sha256").update(blob).digest("hex");
    const scp = (...args: string[]) =>
      Bun.spawnSync(["scp", "-q", ...sshBase, ...args], { stdout: "pipe", stderr: "pipe" });

    // Timed with the login included (scp always logs in); the login cost is subtracted
    // for the throughput figure.
    const login = figures.loginLatencyMs as number;
    let t0 = performance.now();
    const up = scp(src, "root@vm:/tmp/blob");
    const upMs = performance.now() - t0;
    expect(up.stderr.toString()).toBe("");
    expect(up.exitCode).toBe(0);
    expect(ssh("sha256sum /tmp/blob").out.split(" ")[0]).toBe(want);

    t0 = performance.now();
    const down = scp("root@vm:/tmp/blob", back);
    const downMs = performance.now() - t0;
    expect(down.exitCode).toBe(0);
    expect(statSync(back).size).toBe(size);
    expect(createHash("sha256").update(readFileSync(back)).digest("hex")).toBe(want);

    const mbps = (ms: number) => Math.round((size / 1048576 / (Math.max(ms - login, 1) / 1000)) * 10) / 10;
    figures.scpUpMs = Math.round(upMs);
    figures.scpDownMs = Math.round(downMs);
    figures.scpUpMBps = mbps(upMs);
    figures.scpDownMBps = mbps(downMs);
  });

  test("the guest reaches the host: AF_VSOCK CID 2 port 22 -> HYBRID_22", async () => {
    // Host side: read "<length>\n" then that many bytes, answer with their sha256 and
    // close. Closing (not half-closing) is what the guest can see: the daemon does not
    // propagate a guest half-close to us, so the length prefix tells us when to answer.
    const received: string[] = [];
    const server: Server = createServer((sock: Socket) => {
      let buf = Buffer.alloc(0);
      let need = -1;
      sock.on("data", (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (need < 0) {
          const nl = buf.indexOf(10);
          if (nl < 0) return;
          need = Number(buf.subarray(0, nl).toString());
          buf = buf.subarray(nl + 1);
        }
        if (buf.length >= need) {
          const sum = createHash("sha256").update(buf.subarray(0, need)).digest("hex");
          received.push(sum);
          sock.end(`${sum}\n`);
        }
      });
      sock.on("error", () => {});
    });
    const path = `${vm.hybridSock}_22`;
    await new Promise<void>((r) => server.listen(path, r));
    try {
      // socat in the guest (copied from the host) speaks VSOCK; -t bounds the wait after EOF.
      const r = Bun.spawn(
        [
          "ssh", ...sshBase, "root@vm",
          "head -c 1048576 /dev/urandom >/tmp/g && " +
            "{ echo 1048576; cat /tmp/g; } | socat -t 10 - VSOCK-CONNECT:2:22 && sha256sum /tmp/g",
        ],
        { stdin: "ignore", stdout: "pipe", stderr: "pipe" },
      );
      const [out, err] = await Promise.all([new Response(r.stdout).text(), new Response(r.stderr).text()]);
      expect(err).toBe("");
      expect(await r.exited).toBe(0);
      const [hostSum, guestLine] = out.trim().split("\n");
      expect(received.length).toBe(1);
      expect(hostSum).toBe(received[0]);
      expect(guestLine?.split(" ")[0]).toBe(hostSum);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  test("extra host programs run in the guest", () => {
    for (const x of [...extras, ...(process.env.VM_EXTRA?.split(/\s+/).filter(Boolean) ?? [])]) {
      // The glibc loader's --list resolves every library without running the program.
      const r = ssh(`/lib64/ld-linux-x86-64.so.2 --list /usr/local/bin/${basename(x)}`);
      expect(r.code).toBe(0);
      expect(r.out).not.toContain("not found");
    }
    const r = ssh("/usr/local/bin/openssl version");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^OpenSSL 3\./);
  });
});

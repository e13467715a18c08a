// VM lab, stage 1: a real QEMU guest with virtio-vsock and OpenSSH's sshd behind port 22.
//
// Run with `npm run vm:test` (scripts/vm/run-test.sh sets VM_TEST=1 and kills leftovers
// by PID if this process dies). Plain `bun test` skips it: booting takes seconds of CPU.
//
// Env:
//   VM_EXTRA="PATH ..."   more host programs to put into the guest (/usr/local/bin/<name>)
//   VM_MEM_MB=1024        guest RAM
//   VM_FIGURES=FILE       also write the measured figures as JSON there
//   VM_TRANSFER_MB=8      size of the fd-pass/relay throughput transfers
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { bootVm, buildGuest, repoRoot, type Vm } from "../../scripts/vm/lab.ts";
import { proxyCommandWord } from "../../src/shared/shell-quote.ts";
import { runFdpass } from "../helpers/fdpass.ts";
import { startSshd } from "../helpers/sshd.ts";

setDefaultTimeout(240_000);

// THE proxy under test: our dist/systemd-ssh-proxy, reached the way users reach it, as `ssh vsock-mux/PATH`
// (scp: `vsock-mux%PATH`) with ProxyCommand "PROXY %n %p" as our installed drop-in has it. In the guest,
// the same binary (and its argv[0] links) connects out over AF_VSOCK.
const PROXY = join(repoRoot, "dist/systemd-ssh-proxy");
const BINARY = join(repoRoot, "dist/systemd-ssh");
// systemd 262's proxy, for the latency comparison on the same guest (vsock-mux: AF_UNIX on the host, safe).
const REF_PROXY = join(repoRoot, ".reference/262/bin/systemd-ssh-proxy");

// A small glibc-linked host program that busybox does not provide, to prove that extras and their ldd
// libraries work in the guest; then our binary and its tool links (symlinks stay symlinks in the guest).
const defaultExtra = "/usr/bin/openssl";
const extras = [defaultExtra, BINARY, PROXY, join(repoRoot, "dist/systemd-ssh-issue")];

const run = process.env.VM_TEST === "1";
const figures: Record<string, number | string> = {};

describe.skipIf(!run)("VM lab stage 1", () => {
  let vm: Vm;
  let work: string;
  let key: string;
  let host: string;
  let sshBase: string[];
  let knownHosts: string;

  /** ssh options for a given ProxyCommand: pinned host key, our key, no config files. */
  const sshOpts = (proxyCommand: string, fdpass: boolean) => [
    "-F", "/dev/null",
    "-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "User=root",
    "-o", `ProxyCommand=${proxyCommand}`, "-o", `ProxyUseFdpass=${fdpass ? "yes" : "no"}`,
    "-o", "HostKeyAlias=vm-stage1", "-o", `UserKnownHostsFile=${knownHosts}`,
    "-o", "StrictHostKeyChecking=yes", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=60",
  ];

  const ssh = (cmd: string, opts: { stdin?: Uint8Array; base?: string[]; env?: Record<string, string> } = {}) => {
    const r = Bun.spawnSync(["ssh", ...(opts.base ?? sshBase), host, cmd], {
      stdin: opts.stdin ?? "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, ...opts.env },
    });
    return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
  };

  /** Fail with the guest's console tail, so a broken boot explains itself. */
  const consoleTail = () => {
    try {
      return `\n--- guest console (tail) ---\n${readFileSync(vm.consoleLog, "utf8").slice(-3000)}`;
    } catch {
      return "";
    }
  };
  const expectOk = (r: { code: number | null; err: string }, what: string) => {
    if (r.code !== 0) throw new Error(`${what}: exit ${r.code}: ${r.err}${consoleTail()}`);
  };

  beforeAll(async () => {
    if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: run scripts/build first (run-test.sh does)`);
    work = mkdtempSync(join(tmpdir(), "vm-stage1-test-"));
    key = join(work, "id_ed25519");
    const kg = Bun.spawnSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vm-test", "-f", key]);
    expect(kg.exitCode).toBe(0);

    const build = buildGuest({ extra: extras });
    figures.initrdMb = build.initrdMb;
    // Pin the guest's host key: the test must not trust whatever answers.
    knownHosts = join(work, "known_hosts");
    writeFileSync(knownHosts, `vm-stage1 ${readFileSync(build.hostKeyPub, "utf8")}`);

    vm = await bootVm({
      build,
      authorizedKey: readFileSync(`${key}.pub`, "utf8"),
      memMb: process.env.VM_MEM_MB ? Number(process.env.VM_MEM_MB) : 1024,
      // No polling here: the first ssh starts right after QEMU and our proxy waits for the guest.
      readyPort: null,
    });
    host = `vsock-mux/${vm.hybridSock}`;
    sshBase = sshOpts(`${proxyCommandWord(PROXY)} %n %p`, true);
    const r = ssh("echo up", { env: { SYSTEMD_SSH_PROXY_WAIT: "120" } });
    figures.bootToFirstSshMs = Math.round(performance.now() - vm.startedAt);
    expectOk(r, "first ssh, started right after QEMU, with SYSTEMD_SSH_PROXY_WAIT=120");
    expect(r.out).toBe("up\n");
  });

  afterAll(async () => {
    await vm?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
    console.log(`vm figures: ${JSON.stringify(figures)}`);
    if (process.env.VM_FIGURES) writeFileSync(process.env.VM_FIGURES, `${JSON.stringify(figures, null, 2)}\n`);
  });
  test("ssh vsock-mux/PATH logs in through our proxy (fd passing) and runs a command", () => {
    const t0 = performance.now();
    const r = ssh("echo hello from $(hostname); id -u");
    figures.secondLoginMs = Math.round(performance.now() - t0);
    expectOk(r, "ssh vsock-mux/PATH through dist/systemd-ssh-proxy");
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
    const r = Bun.spawnSync(["ssh", ...sshBase, "-tt", host, "tty"], { stdin: "ignore", stdout: "pipe" });
    expect(r.stdout.toString()).toMatch(/^\/dev\/pts\/\d+\r?\n/);
  });

  test("scp (ssh_config Host -> vsock-mux/PATH) moves 8 MiB both ways intact (sha256)", () => {
    const size = 8 << 20;
    const blob = new Uint8Array(size);
    for (let off = 0; off < size; off += 65536) crypto.getRandomValues(blob.subarray(off, off + 65536));
    const src = join(work, "blob");
    const back = join(work, "blob.back");
    writeFileSync(src, blob);
    const want = createHash("sha256").update(blob).digest("hex");
    const config = join(work, "scp_config");
    writeFileSync(config, `Host vm-stage1\n  ProxyCommand ${proxyCommandWord(PROXY)} vsock-mux/${vm.hybridSock} %p\n  ProxyUseFdpass yes\n`);
    const scp = (...args: string[]) =>
      Bun.spawnSync(
        [
          "scp", "-q", "-F", config, "-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "User=root",
          "-o", `UserKnownHostsFile=${knownHosts}`, "-o", "StrictHostKeyChecking=yes", "-o", "LogLevel=ERROR", ...args,
        ],
        { stdout: "pipe", stderr: "pipe" },
      );

    // Timed with the login included (scp always logs in); the login cost is subtracted
    // for the throughput figure.
    const login = figures.loginLatencyMs as number;
    // scp takes any argument with a '/' before its first ':' for a local path (even inside [...]): the
    // '%' in vsock-mux%PATH stands in for the '/' after the scheme, but PATH has slashes of its own, so
    // `scp f vsock-mux%/tmp/x/hybrid.sock:/f` is a local copy, with systemd's proxy as with ours. What
    // works is an ssh_config Host whose ProxyCommand names the socket, as here.
    const scpHost = "vm-stage1";
    let t0 = performance.now();
    const up = scp(src, `${scpHost}:/tmp/blob`);
    const upMs = performance.now() - t0;
    expectOk({ code: up.exitCode, err: up.stderr.toString() }, "scp to the guest");
    expect(up.stderr.toString()).toBe("");
    expect(up.exitCode).toBe(0);
    expect(ssh("sha256sum /tmp/blob").out.split(" ")[0]).toBe(want);

    t0 = performance.now();
    const down = scp(`${scpHost}:/tmp/blob`, back);
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
          "ssh", ...sshBase, host,
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
    // Our binary runs in the guest (Bun needs AVX2: -cpu max), and argv[0] dispatch works through the link.
    const p = ssh("/usr/local/bin/systemd-ssh-proxy; echo status=$?");
    expect(p.err).toBe("Expected two arguments: host and port.\n");
    expect(p.out).toBe("status=1\n");
  });

  test("CONNECT to a guest port with no listener: our 'not open' error", async () => {
    const r = await runFdpass([PROXY, host, "23"], { timeoutMs: 30_000 });
    expect(r.fd).toBeNull();
    expect(r.stderr).toBe(`Port 23 on ${vm.hybridSock} is not open\n`);
    expect(r.code).toBe(1);
  });

  test("in the guest, our proxy connects out over AF_VSOCK (vsock/2, vsock%host) to the host's sshd", async () => {
    // A real sshd on the host behind HYBRID_22: guest connects to CID 2 port 22 come out there.
    const sshd = await startSshd({ socket: `${vm.hybridSock}_22` });
    try {
      const hostKey = readFileSync(join(sshd.dir, "host_ed25519.pub"), "utf8");
      expectOk(ssh("umask 077; cat >/tmp/hostside_key", { stdin: readFileSync(sshd.clientKey) }), "copy key");
      expectOk(ssh("cat >/tmp/hostside_known", { stdin: Buffer.from(`hostsshd ${hostKey}`) }), "copy known_hosts");
      const guestSsh = (target: string, cmd: string) =>
        [
          "ssh -F /dev/null -i /tmp/hostside_key -o IdentitiesOnly=yes -o BatchMode=yes",
          "-o HostKeyAlias=hostsshd -o UserKnownHostsFile=/tmp/hostside_known -o StrictHostKeyChecking=yes",
          `-o ProxyCommand='/usr/local/bin/systemd-ssh-proxy %h %p' -o ProxyUseFdpass=yes -o LogLevel=ERROR`,
          `-l ${sshd.user} ${target} '${cmd}'`,
        ].join(" ");
      const hostname = (await Bun.file("/proc/sys/kernel/hostname").text()).trim();
      for (const target of ["vsock/2", "vsock%host"]) {
        const r = ssh(guestSsh(target, "echo from-host $(cat /proc/sys/kernel/hostname)"));
        expectOk(r, `in the guest: ssh ${target} through /usr/local/bin/systemd-ssh-proxy`);
        expect(r.out).toBe(`from-host ${hostname}\n`);
      }
      // 4 MiB guest -> host through the passed AF_VSOCK socket, checked on both ends.
      const r = ssh(
        `head -c 4194304 /dev/urandom >/tmp/g && ${guestSsh("vsock/2", "sha256sum")} </tmp/g && sha256sum </tmp/g`,
      );
      expectOk(r, "4 MiB guest -> host");
      const [hostSum, guestSum] = r.out.trim().split("\n").map((l) => l.split(" ")[0]);
      expect(hostSum).toMatch(/^[0-9a-f]{64}$/);
      expect(hostSum).toBe(guestSum);
    } finally {
      await sshd.stop();
    }
  });

  /**
   * 8 MiB (VM_TRANSFER_MB) up and down through `ssh HOST cmd`, each checked with sha256; MB/s with one
   * login subtracted.
   */
  async function transfer(base: string[], label: string) {
    const size = Number(process.env.VM_TRANSFER_MB ?? 8) << 20;
    const blob = new Uint8Array(size);
    for (let off = 0; off < size; off += 65536) crypto.getRandomValues(blob.subarray(off, off + 65536));
    const want = createHash("sha256").update(blob).digest("hex");
    const loginT0 = performance.now();
    expectOk(ssh("true", { base }), `${label}: login`);
    const login = performance.now() - loginT0;
    let t0 = performance.now();
    const up = ssh("sha256sum >/tmp/up.sum; cat /tmp/up.sum", { base, stdin: blob });
    const upMs = performance.now() - t0;
    expectOk(up, `${label}: upload`);
    expect(up.out.split(" ")[0]).toBe(want);
    writeFileSync(join(work, "down.src"), blob);
    expectOk(ssh("cat >/tmp/down.src", { base, stdin: blob }), `${label}: stage download`);
    t0 = performance.now();
    const down = Bun.spawnSync(["ssh", ...base, host, "cat /tmp/down.src"], { stdout: "pipe", stderr: "pipe" });
    const downMs = performance.now() - t0;
    expect(down.exitCode).toBe(0);
    expect(down.stdout.length).toBe(size);
    expect(createHash("sha256").update(down.stdout).digest("hex")).toBe(want);
    const mbps = (ms: number) => Math.round((size / 1048576 / (Math.max(ms - login, 1) / 1000)) * 10) / 10;
    return { upMBps: mbps(upMs), downMBps: mbps(downMs), loginMs: Math.round(login) };
  }

  test("ssh through our proxy in fd-pass mode: 8 MiB (VM_TRANSFER_MB) each way, sha256-checked", async () => {
    const t = await transfer(sshBase, "fd-pass");
    figures.fdpassUpMBps = t.upMBps;
    figures.fdpassDownMBps = t.downMBps;
  });

  // Relay mode: ssh gives the proxy pipes (ProxyUseFdpass no) and the proxy copies the bytes.
  test("ssh through our proxy in relay mode (ProxyUseFdpass no): login, 8 MiB each way", async () => {
    const base = sshOpts(`${proxyCommandWord(PROXY)} %n %p`, false);
    const r = ssh("echo relayed; hostname", { base });
    expectOk(r, "relay-mode login");
    expect(r.out).toBe("relayed\nvm-stage1\n");
    const t = await transfer(base, "relay");
    figures.relayUpMBps = t.upMBps;
    figures.relayDownMBps = t.downMBps;
    figures.relayLoginMs = t.loginMs;
  });

  test.skipIf(!existsSync(REF_PROXY) && process.env.CI !== "true")("login latency: our proxy against systemd 262's, same guest", () => {
    if (!existsSync(REF_PROXY)) throw new Error(`${REF_PROXY} missing (scripts/fetch-reference 262)`);
    const ours = sshOpts(`${proxyCommandWord(PROXY)} %n %p`, true);
    const theirs = sshOpts(`${proxyCommandWord(REF_PROXY)} %n %p`, true);
    const times: Record<"ours" | "theirs", number[]> = { ours: [], theirs: [] };
    // Interleaved, so that load on the machine hits both alike.
    for (let i = 0; i < 5; i++) {
      for (const [name, base] of [["ours", ours], ["theirs", theirs]] as const) {
        const t0 = performance.now();
        expectOk(ssh("true", { base }), `${name}: ssh true`);
        times[name].push(performance.now() - t0);
      }
    }
    const median = (a: number[]) => Math.round([...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!);
    figures.loginMedianOursMs = median(times.ours);
    figures.loginMedian262Ms = median(times.theirs);
  });
});

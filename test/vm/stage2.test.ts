// VM lab, stage 2: real Debian guests that boot the way Debian boots (scripts/vm/build-stage2.sh): the
// image's own kernel and initramfs (update-initramfs, initramfs-tools' defaults), an ext4 root disk, systemd
// as PID 1 after the initramfs's switch-root. Nothing of ours loads the vsock transport: udev does, after the
// generators ran, and our udev rule and systemd-ssh-vsock-late.service re-run them (docs/vm.md). Per suite:
//   Debian 12 bookworm: systemd 252, no ssh generator of its own: ours does everything.
//   Debian 13 trixie:   systemd 257, ships its own; ours, in /etc/systemd/system-generators, overrides it.
// Boot 1 (kernel command line `systemd.ssh_listen=vsock::2222`, key as an SMBIOS credential), on the image
// with our .deb installed by dpkg (or, without scripts/make-deb, by `systemd-ssh install --root`):
//   the transport loads after the generators; the late service re-runs ours, which finds the VM and its CID
//   and writes sshd-vsock.socket; systemd listens; the host logs in over vsock-mux to port 22 with the
//   ephemeral key from the credential ssh.ephemeral-authorized_keys-all, and to port 2222;
//   systemd-ssh-issue wrote the CID hint (bookworm).
// Boot 2 (`systemd.ssh_auto=0 systemd.ssh_listen=vsock::2222`), on the image made by
// `systemd-ssh install --root` (the image builders' path): port 22 is not open, 2222 is.
//
// Run with `npm run vm:test` (VM_TEST=1). Needs root (mmdebstrap); VM_STAGE2=0 skips this file,
// VM_STAGE2_SUITES="bookworm" limits the suites.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootVm, buildStage2, repoRoot, type Stage2Build, type Stage2Via, type Vm } from "../../scripts/vm/lab.ts";
import { proxyCommandWord } from "../../src/shared/shell-quote.ts";
import { runFdpass } from "../helpers/fdpass.ts";


const PROXY = join(repoRoot, "dist/systemd-ssh-proxy");
const BINARY = join(repoRoot, "dist/systemd-ssh");
// Not 3 (the lab's default): a CID the guest can only have learnt from its device.
const CID = 42;
const MEM_MB = process.env.VM_STAGE2_MEM_MB ? Number(process.env.VM_STAGE2_MEM_MB) : 1024;
// A bound, not an expectation: a stock boot under TCG on a loaded 2-core machine takes 1-3 minutes.
const BOOT_TIMEOUT_MS = 420_000;
// Building the images: a cold mmdebstrap with a kernel and update-initramfs takes minutes, far more on a
// machine busy with other builds.
const BUILD_TIMEOUT_MS = 3_600_000;
// A boot hook waits for the boot, then for a login (each bounded by BOOT_TIMEOUT_MS).
setDefaultTimeout(2 * BOOT_TIMEOUT_MS + 60_000);
// Boot 1's image gets our tools the way users get them: the .deb, when this checkout can build one.
const BOOT1_VIA: Stage2Via = process.env.VM_STAGE2_VIA === "install" || !existsSync(join(repoRoot, "scripts/make-deb")) ? "install" : "deb";
// The kernel logs each module's init call with a timestamp (KERN_DEBUG: the journal, not the console):
// when the vsock transport loaded, against the generators' timestamps.
const EVIDENCE = ["initcall_debug", "log_buf_len=8M"];
const LATE_UNIT = "systemd-ssh-vsock-late.service";
// The end of a boot on the serial console: the getty's prompt, or, on a slow machine, systemd giving up
// waiting for ttyS0 (its 90 s device timeout) and saying the getty's dependency failed.
const BOOTED = / login: |Dependency failed for .*[Ss]erial [Gg]etty/;

const run = process.env.VM_TEST === "1" && process.env.VM_STAGE2 !== "0";
const suites = (process.env.VM_STAGE2_SUITES ?? "bookworm trixie").split(/\s+/).filter(Boolean);
const figures: Record<string, number | string> = {};

for (const suite of suites) {
  describe.skipIf(!run)(`VM lab stage 2: Debian ${suite}`, () => {
    let build: Stage2Build;
    let builds: Record<Stage2Via, Stage2Build>;
    let work: string;
    let key: string;
    let knownHosts: string;
    let vm: Vm | undefined;

    const sshOpts = (extra: string[] = []) => [
      "-F", "/dev/null",
      "-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "User=root",
      "-o", `ProxyCommand=${proxyCommandWord(PROXY)} %n %p`, "-o", "ProxyUseFdpass=yes",
      "-o", `HostKeyAlias=vm-${suite}`, "-o", `UserKnownHostsFile=${knownHosts}`,
      "-o", "StrictHostKeyChecking=yes", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=60",
      ...extra,
    ];

    const ssh = async (cmd: string, opts: { port?: number; env?: Record<string, string>; timeoutMs?: number } = {}) => {
      const args = ["ssh", ...sshOpts(), "-p", String(opts.port ?? 22), `vsock-mux/${vm!.hybridSock}`, cmd];
      const p = Bun.spawn(args, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, ...opts.env } });
      const timer = setTimeout(() => p.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
      // A guest that dies (kernel panic, QEMU error) fails the login now, not at the end of the wait.
      let guestDied = false;
      void vm!.exited.then(() => {
        guestDied = true;
        p.kill("SIGKILL");
      });
      const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      clearTimeout(timer);
      return { code, out, err: guestDied && code !== 0 ? `${err}(QEMU exited during the ssh)\n` : err };
    };
    const expectOk = (r: { code: number | null; err: string }, what: string) => {
      if (r.code !== 0) throw new Error(`${what}: exit ${r.code}: ${r.err}\n--- guest console (tail) ---\n${vm?.consoleTail() ?? ""}`);
    };

    /**
     * The key as system credentials over SMBIOS type 11, base64 (the `.binary` form: no QEMU comma or
     * quoting rules to trip on). ssh.ephemeral-authorized_keys-all is read by the sshd unit our generator
     * writes (bookworm: it copies it from /run/credentials/@system). On trixie, systemd 257's generator
     * (and ours, which writes the same units there) uses Debian's own sshd@.service when it exists, and
     * that unit does not read the credential; systemd 254+'s provision.conf does import
     * ssh.authorized_keys.root into /root/.ssh/authorized_keys, so trixie gets that one too.
     */
    const credentials = (b64: string) => {
      const names = suite === "bookworm" ? ["ssh.ephemeral-authorized_keys-all"] : ["ssh.ephemeral-authorized_keys-all", "ssh.authorized_keys.root"];
      return names.flatMap((n) => ["-smbios", `type=11,value=io.systemd.credential.binary:${n}=${b64}`]);
    };

    /**
     * Boot and log in as early as possible: ssh starts right after QEMU, and our proxy waits for the guest
     * (SYSTEMD_SSH_PROXY_WAIT: boot-wait) instead of the test sleeping or polling. Returns ms from QEMU
     * start to the first successful login.
     */
    async function bootAndLogin(append: string[], port: number): Promise<{ ms: number; out: string }> {
      const cred = Buffer.from(readFileSync(`${key}.pub`, "utf8")).toString("base64");
      vm = await bootVm({
        build,
        cid: CID,
        memMb: MEM_MB,
        readyPort: null,
        readyTimeoutMs: BOOT_TIMEOUT_MS,
        append,
        qemuArgs: credentials(cred),
      });
      const r = await ssh("cat /proc/sys/kernel/hostname", {
        port,
        env: { SYSTEMD_SSH_PROXY_WAIT: String(BOOT_TIMEOUT_MS / 1000) },
        timeoutMs: BOOT_TIMEOUT_MS + 30_000,
      });
      expectOk(r, `first login on port ${port}`);
      return { ms: Math.round(performance.now() - vm.startedAt), out: r.out };
    }

    beforeAll(() => {
      if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: run scripts/build first (run-test.sh does)`);
      work = mkdtempSync(join(tmpdir(), `vm-stage2-${suite}-`));
      key = join(work, "id_ed25519");
      expect(Bun.spawnSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ephemeral", "-f", key]).exitCode).toBe(0);
      const t0 = performance.now();
      // VM_STAGE2_BINARY: install another build (e.g. one without the late-vsock rule, to watch boot 3 fail).
      const binary = process.env.VM_STAGE2_BINARY;
      builds = { install: buildStage2(suite, { via: "install", binary }), deb: BOOT1_VIA === "deb" ? buildStage2(suite, { via: "deb", binary }) : undefined! };
      if (BOOT1_VIA === "install") builds.deb = builds.install;
      build = builds[BOOT1_VIA];
      figures[`${suite}BuildMs`] = Math.round(performance.now() - t0);
      figures[`${suite}InitrdMb`] = build.initrdMb;
      figures[`${suite}Boot1Via`] = BOOT1_VIA;
      knownHosts = join(work, "known_hosts");
      writeFileSync(knownHosts, `vm-${suite} ${readFileSync(build.hostKeyPub, "utf8")}`);
    }, BUILD_TIMEOUT_MS);

    afterAll(async () => {
      await vm?.stop();
      if (work) rmSync(work, { recursive: true, force: true });
      console.log(`vm stage 2 figures: ${JSON.stringify(figures)}`);
      if (process.env.VM_FIGURES) {
        const f = process.env.VM_FIGURES.replace(/(\.json)?$/, `-stage2.json`);
        writeFileSync(f, `${JSON.stringify(figures, null, 2)}\n`);
      }
    });

    describe(`boot 1 (${BOOT1_VIA === "deb" ? "our .deb" : "install --root"}): automatic sockets, systemd.ssh_listen=vsock::2222, key as a credential`, () => {
      beforeAll(async () => {
        build = builds[BOOT1_VIA];
        const { ms, out } = await bootAndLogin(["systemd.ssh_listen=vsock::2222", ...EVIDENCE], 22);
        figures[`${suite}BootToFirstSshMs`] = ms;
        expect(out).toBe(`vm-${suite}\n`);
      });

      test("the host logs in over vsock-mux to port 22 with the key from the credential", async () => {
        const r = await ssh(
          "cat /run/credentials/@system/ssh.ephemeral-authorized_keys-all; echo ---; " +
            "cat /root/.ssh/authorized_keys 2>&1; echo ---; systemctl list-units --plain --no-legend 'sshd*@*.service' | cut -d@ -f1",
        );
        expectOk(r, "login");
        const [cred, rootKeys, perConnection] = r.out.split("---\n");
        const pub = readFileSync(`${key}.pub`, "utf8").trim();
        expect(cred).toContain(pub);
        if (suite === "bookworm") {
          // The key exists nowhere in the image, only as the ephemeral credential, read by our unit.
          expect(rootKeys).toContain("No such file or directory");
          expect(perConnection).toContain("sshd-generated");
        } else {
          // Debian's sshd@.service serves the connection (systemd 257 picks it); provision.conf put the key in place.
          expect(rootKeys).toContain(pub);
          expect(perConnection).toContain("sshd\n");
        }
        const t0 = performance.now();
        for (let i = 0; i < 3; i++) expectOk(await ssh("true"), "ssh true");
        figures[`${suite}LoginMs`] = Math.round((performance.now() - t0) / 3);
      });

      // The question behind docs/vm.md's "When the vsock transport loads": on a stock boot, is the transport
      // there when the generators run? The kernel logs each module's init call (initcall_debug), systemd
      // its generators' start and finish; both are CLOCK_MONOTONIC.
      test("the stock boot: when the vsock transport loaded, against the generators' run", async () => {
        const r = await ssh(
          "systemctl show -p GeneratorsStartTimestampMonotonic -p GeneratorsFinishTimestampMonotonic -p UserspaceTimestampMonotonic; echo ---; " +
            "journalctl -b -k -o short-monotonic --no-pager | grep -E 'initcall (virtio_vsock_init|vsock_init)\\b'; echo ---; " +
            `journalctl -b -o short-monotonic --no-pager -u ${LATE_UNIT} -u sshd-vsock.socket; echo ---; ` +
            "systemd-analyze 2>&1; echo ---; lsinitramfs /boot/initrd.img-$(uname -r) | grep -c vmw_vsock_virtio_transport; true",
        );
        expectOk(r, "evidence");
        console.log(`--- ${suite}: evidence of the stock boot ---\n${r.out}`);
        const [props, kmsg, late, analyze, inInitrd] = r.out.split("---\n");
        const prop = (name: string) => Number(new RegExp(`^${name}=(\\d+)$`, "m").exec(props!)?.[1] ?? NaN) / 1e6;
        const genEnd = prop("GeneratorsFinishTimestampMonotonic");
        figures[`${suite}GeneratorsStartS`] = prop("GeneratorsStartTimestampMonotonic");
        figures[`${suite}GeneratorsFinishS`] = genEnd;
        // "[   12.345678] vm-bookworm kernel: initcall virtio_vsock_init+0x0/0x1000 [vmw_vsock_virtio_transport] returned 0 after 123 usecs"
        const transport = /^\[\s*([\d.]+)\].*initcall virtio_vsock_init\b.*returned 0/m.exec(kmsg!);
        expect(transport).not.toBeNull();
        const transportAt = Number(transport![1]);
        figures[`${suite}TransportLoadedS`] = transportAt;
        expect(genEnd).toBeGreaterThan(0);
        expect(analyze).toContain("Startup finished");
        // Neither initramfs carries the transport (MODULES=most: bookworm's has vsock.ko, only as vsockmon's dependency).
        expect(Number(inInitrd!.trim())).toBe(0);
        // The transport's driver registered, so the late service ran (coldplug replays the event when the
        // driver came earlier): it found the socket the first generator run wrote, and refreshed the hint.
        expect(late).toContain(`Finished ${LATE_UNIT} - SSH over AF_VSOCK for a vsock transport that loaded late`);
        expect(late).toMatch(/Listening on sshd-vsock\.socket/);
        if (suite === "bookworm") {
          // systemd 252's PID 1 loads no transport: udev's coldplug does, after the generators finished.
          expect(transportAt).toBeGreaterThan(genEnd);
        }
        // trixie: systemd 257's PID 1 can load vmw_vsock_virtio_transport itself before the generators (its
        // kmod table matches the virtio vsock device); docs/vm.md has boots where it did and where it did not.
      });

      test.if(suite === "trixie")("trixie: the units from our generator (in /etc) are byte for byte systemd 257's own", async () => {
        const r = await ssh(
          "mkdir -p /tmp/a /tmp/b /tmp/c && /usr/lib/systemd/system-generators/systemd-ssh-generator /tmp/a /tmp/b /tmp/c && " +
            "cd /tmp/a && for f in sshd-*; do cmp $f /run/systemd/generator/$f && echo same $f; done",
        );
        expectOk(r, "compare generators");
        expect(r.out).toContain("same sshd-vsock.socket\n");
        expect(r.out).toContain("same sshd-extra.socket\n");
        expect(r.out).not.toContain("differ");
      });

      test("our generator ran at boot, found the VM and its CID, and systemd listens on vsock::22", async () => {
        const r = await ssh(
          "cat /run/systemd/generator/sshd-vsock.socket; echo ---; systemctl is-active sshd-vsock.socket; " +
            "echo ---; systemd-detect-virt; echo ---; " +
            "for g in /etc/systemd/system-generators/systemd-ssh-generator /usr/lib/systemd/system-generators/systemd-ssh-generator; do " +
            "readlink -f $g || echo none; done; echo ---; /usr/lib/systemd/systemd-ssh explain 2>&1; true",
        );
        expectOk(r, "inspect");
        const [unit, active, virt, gens, explain] = r.out.split("---\n");
        expect(unit).toContain("ListenStream=vsock::22\n");
        expect(active).toBe("active\n");
        expect(virt).toBe("qemu\n");
        // Which generator systemd ran: ours is a link to /usr/lib/systemd/systemd-ssh (bookworm: in /usr/lib,
        // where systemd 252 has none; trixie with install --root: in /etc, overriding systemd 257's own binary
        // in /usr/lib). Our .deb on trixie leaves systemd's generator in charge (it touches nothing of
        // systemd's there); its rule and late service work with either generator.
        const [etcGen, usrGen] = gens!.trim().split("\n");
        if (suite === "bookworm") {
          expect(etcGen).toBe("none");
          expect(usrGen).toBe("/usr/lib/systemd/systemd-ssh");
        } else {
          expect(etcGen).toBe(build.via === "install" ? "/usr/lib/systemd/systemd-ssh" : "none");
          expect(usrGen).toBe("/usr/lib/systemd/system-generators/systemd-ssh-generator");
        }
        // What our generator sees in the guest: the VM, the CID the host gave the device, the systemd version.
        expect(explain).toMatch(/VM: +qemu/);
        expect(explain).toContain(`local CID ${CID}`);
        expect(explain).toContain(`systemd version:     ${suite === "bookworm" ? "252" : "257"}`);
        expect(explain).toContain(`vsock/${CID}`);
      });

      test("systemd.ssh_listen=vsock::2222 adds a second working socket", async () => {
        const r = await ssh("echo via-2222; grep ListenStream /run/systemd/generator/sshd-extra.socket", { port: 2222 });
        expectOk(r, "login on port 2222");
        expect(r.out).toStartWith("via-2222\n");
        expect(r.out).toContain("vsock::2222");
      });

      test("the issue hint names the guest's real CID (systemd-ssh-issue, run by the socket unit)", async () => {
        const r = await ssh("cat /run/issue.d/50-ssh-vsock.issue 2>&1; true");
        expectOk(r, "read issue file");
        if (suite === "trixie") {
          // systemd 257's units, which ours reproduce byte for byte there, have no issue hook (258+).
          expect(r.out).toContain("No such file or directory");
        } else {
          expect(r.out).toBe(`Try contacting this VM's SSH server via 'ssh vsock%${CID}' from host.\n\n`);
        }
      });

      test("nothing failed during boot", async () => {
        const r = await ssh("systemctl is-system-running --wait; systemctl --failed --no-legend --plain");
        expect(r.out).toBe("running\n");
      });

      afterAll(async () => {
        await vm?.stop();
        vm = undefined;
      });
    });

    // A transport that arrives after boot whatever PID 1 does: the vsock device is hot-plugged once the
    // guest is up (its getty on the console). The generators saw no transport at all: the socket they wrote
    // listens on VMADDR_CID_ANY and its hint had no CID. When the device comes, udev loads the transport,
    // the driver's uevent starts the late service, and the hint names the CID (bookworm; 257's units write
    // none). Without our rule and service the hint keeps saying "available over AF_VSOCK" and this fails.
    describe(`boot 3 (${BOOT1_VIA === "deb" ? "our .deb" : "install --root"}): the vsock device is hot-plugged after boot`, () => {
      beforeAll(async () => {
        build = builds[BOOT1_VIA];
        const cred = Buffer.from(readFileSync(`${key}.pub`, "utf8")).toString("base64");
        vm = await bootVm({ build, cid: CID, memMb: MEM_MB, readyPort: null, append: [], qemuArgs: credentials(cred), vsockLater: true });
        figures[`${suite}HotplugConsoleMs`] = await vm.waitForConsole(BOOTED, BOOT_TIMEOUT_MS);
        const t0 = performance.now();
        await vm.plugVsock();
        const r = await ssh("cat /proc/sys/kernel/hostname", {
          env: { SYSTEMD_SSH_PROXY_WAIT: String(BOOT_TIMEOUT_MS / 1000) },
          timeoutMs: BOOT_TIMEOUT_MS + 30_000,
        });
        expectOk(r, "first login on port 22 after the hotplug");
        figures[`${suite}HotplugToSshMs`] = Math.round(performance.now() - t0);
      });

      test("port 22 answers; the late service ran; the hint names the CID", async () => {
        const r = await ssh(
          `systemctl is-active sshd-vsock.socket; echo ---; journalctl -b -o short-monotonic --no-pager -u ${LATE_UNIT}; echo ---; ` +
            "cat /run/issue.d/50-ssh-vsock.issue 2>&1; true",
        );
        expectOk(r, "inspect after hotplug");
        const [active, late, issue] = r.out.split("---\n");
        expect(active).toBe("active\n");
        // What a user sees first: the hint on the console. Then what wrote it.
        if (suite === "bookworm") expect(issue).toBe(`Try contacting this VM's SSH server via 'ssh vsock%${CID}' from host.\n\n`);
        else expect(issue).toContain("No such file or directory");
        expect(late).toContain(`Finished ${LATE_UNIT}`);
      });

      afterAll(async () => {
        await vm?.stop();
        vm = undefined;
      });
    });

    describe("boot 2 (install --root): systemd.ssh_auto=0 systemd.ssh_listen=vsock::2222", () => {
      beforeAll(async () => {
        build = builds.install;
        const { ms } = await bootAndLogin(["systemd.ssh_auto=0", "systemd.ssh_listen=vsock::2222"], 2222);
        figures[`${suite}Boot2ToFirstSshMs`] = ms;
      });

      test("port 22 is not open, 2222 is", async () => {
        const r = await runFdpass([PROXY, `vsock-mux/${vm!.hybridSock}`, "22"], { timeoutMs: 30_000 });
        expect(r.stderr).toBe(`Port 22 on ${vm!.hybridSock} is not open\n`);
        expect(r.code).toBe(1);
        const s = await ssh(
          "cd /run/systemd/generator && for u in sshd-vsock.socket sshd-unix-local.socket sshd-extra.socket; do " +
            "test -e $u && echo \"$u $(systemctl is-active $u)\" || echo \"$u absent\"; done",
          { port: 2222 },
        );
        expectOk(s, "login on 2222");
        // The automatic sockets (vsock::22, the local AF_UNIX one) are gone; the explicit one is listening.
        expect(s.out).toBe("sshd-vsock.socket absent\nsshd-unix-local.socket absent\nsshd-extra.socket active\n");
      });

      afterAll(async () => {
        await vm?.stop();
        vm = undefined;
      });
    });
  });
}

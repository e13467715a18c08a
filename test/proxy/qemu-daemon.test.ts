// qemu/ against libvirt as installed, beyond the test driver: a real session daemon (libvirtd started by
// virsh, as an unprivileged user, for a domain that is defined and never started), libvirt missing (its
// library hidden in a private mount namespace), and the dynamic loader's word that the other host forms
// never load libvirt.

import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { close } from "../../ffi/socket.ts";
import { listenUnix } from "../../ffi/test-sockets.ts";
import { SESSION_URI_ENV, SYSTEM_URI_ENV } from "../../src/proxy/qemu.ts";
import { runFdpass } from "../helpers/fdpass.ts";
import { HAVE_LIBVIRT, HAVE_SESSION_DAEMON, requireOrSkip, writeNode } from "../helpers/libvirt.ts";
import { runSync } from "../helpers/spawn.ts";
import { BINARY, PROXY, removeDir, tempDir } from "../helpers/tmp.ts";

// Each test starts processes that load libvirt (a dlopen of 50-150 ms on a busy machine) or a daemon.
setDefaultTimeout(30_000);

const isRoot = process.geteuid?.() === 0;

/** `id -u NAME` / `id -g NAME`, or null. */
function idOf(flag: "-u" | "-g", name: string): number | null {
  const r = Bun.spawnSync(["id", flag, name], { stderr: "ignore" });
  return r.exitCode === 0 ? Number(r.stdout.toString().trim()) : null;
}

const domainXml = (name: string, cid: string) => `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>64</memory>
  <os><type arch='x86_64'>hvm</type></os>
  <devices><vsock model='virtio'>${cid}</vsock></devices>
</domain>
`;

describe.skipIf(!requireOrSkip(HAVE_SESSION_DAEMON, "libvirt's session daemon (libvirt-daemon, libvirt-daemon-driver-qemu, qemu-system-x86)"))(
  "a real session daemon (qemu:///session, as an unprivileged user)",
  () => {
    let dir: string;
    let run: (cmd: string[]) => { code: number; out: string; err: string };
    let binary: string;
    let emptySystem: string;

    beforeAll(() => {
      dir = tempDir("libvirt-session");
      // As root, become nobody; otherwise we are an unprivileged user already.
      const uid = isRoot ? idOf("-u", "nobody") : null;
      const gid = isRoot ? idOf("-g", "nobody") : null;
      if (isRoot && (uid === null || gid === null)) throw new Error("no user nobody to run the session daemon as");
      chmodSync(dir, 0o755);
      for (const sub of ["run", "config", "cache"]) mkdirSync(join(dir, sub), { mode: 0o700 });
      // The binary where that user can surely reach it (a checkout under /root is not).
      binary = join(dir, "systemd-ssh");
      copyFileSync(BINARY, binary);
      chmodSync(binary, 0o755);
      emptySystem = writeNode(dir, "empty.xml", []);
      writeFileSync(join(dir, "vm.xml"), domainXml("sessvm", "<cid auto='no' address='4242'/>"));
      writeFileSync(join(dir, "auto.xml"), domainXml("sessauto", "<cid auto='yes'/>"));
      for (const f of ["empty.xml", "vm.xml", "auto.xml"]) chmodSync(join(dir, f), 0o644);
      if (uid !== null && gid !== null) for (const p of [dir, ...["run", "config", "cache"].map((s) => join(dir, s))]) chownSync(p, uid, gid);
      const env = {
        PATH: "/usr/bin:/bin:/usr/sbin:/sbin",
        HOME: dir,
        XDG_RUNTIME_DIR: join(dir, "run"),
        XDG_CONFIG_HOME: join(dir, "config"),
        XDG_CACHE_HOME: join(dir, "cache"),
        // The system URI is tried first by qemu/NAME: an empty test-driver node, so that no system daemon
        // this machine may have can change the answer. The session URI is the real qemu:///session.
        [SYSTEM_URI_ENV]: emptySystem,
      };
      const prefix = uid !== null ? ["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups"] : [];
      run = (cmd) => {
        const r = runSync([...prefix, ...cmd], { env });
        return { code: r.status, out: r.stdout, err: r.stderr };
      };
      // define only: these domains are never started.
      for (const f of ["vm.xml", "auto.xml"]) {
        const r = run(["virsh", "-c", "qemu:///session", "define", join(dir, f)]);
        if (r.code !== 0) throw new Error(`virsh define ${f}: ${r.err}`);
      }
    }, 60_000);

    afterAll(async () => {
      // End the session daemon virsh started (libvirtd, or virtqemud on modular builds), by its PID, and
      // wait for it to be gone before its directory goes.
      const piddir = join(dir, "run", "libvirt");
      const files = existsSync(piddir) ? readdirSync(piddir).filter((f) => f.endsWith(".pid")) : [];
      const pids = files.map((f) => Number(readFileSync(join(piddir, f), "utf8").trim())).filter((p) => p > 1);
      // Gone, or a zombie (a daemon's parent is PID 1, which may not reap it in a container).
      const alive = (pid: number) => {
        try {
          const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
          return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
        } catch {
          return false;
        }
      };
      for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGTERM");
      for (let i = 0; i < 100 && pids.some(alive); i++) await Bun.sleep(50);
      removeDir(dir);
    });

    test("the domain is defined and not running", () => {
      expect(run(["virsh", "-c", "qemu:///session", "domstate", "sessvm"]).out.trim()).toBe("shut off");
    });

    test("qemu:session/NAME and qemu/NAME find its CID", () => {
      expect(run([binary, "resolve", "qemu:session/sessvm", "22"])).toEqual({ code: 0, out: "vsock CID 4242 port 22\n", err: "" });
      expect(run([binary, "resolve", "qemu/sessvm", "22"])).toEqual({ code: 0, out: "vsock CID 4242 port 22\n", err: "" });
      // And by UUID, as libvirt reports it.
      const uuid = run(["virsh", "-c", "qemu:///session", "domuuid", "sessvm"]).out.trim();
      expect(run([binary, "resolve", `qemu%${uuid}`, "22"]).out).toBe("vsock CID 4242 port 22\n");
    });

    test("a never-started domain with an automatic CID has none, and the line names both URIs", () => {
      expect(run([binary, "resolve", "qemu/sessauto", "22"])).toEqual({
        code: 1,
        out: "",
        err:
          `No usable vsock found for libvirt domain sessauto: ${emptySystem}: no such domain (by name, UUID or ID); ` +
          "qemu:///session: its vsock device has no CID assigned (is the domain running?).\n",
      });
    });

    test("systemd-ssh machines lists the domain with its ssh command", () => {
      const r = run([binary, "machines"]);
      expect(r.out).toContain("sessvm");
      expect(r.out).toMatch(/sessvm +vm +libvirt +session +(ssh .*qemu\/sessvm|unreachable: .*AF_VSOCK)/);
      expect(r.out).not.toContain("sessauto");
    });
  },
);

/** libvirt.so.0's file, as the dynamic loader would find it. */
function libvirtFile(): string | null {
  for (const d of ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"]) {
    const p = join(d, "libvirt.so.0");
    if (existsSync(p)) return realpathSync(p);
  }
  return null;
}

const CAN_UNSHARE =
  isRoot && Bun.spawnSync(["unshare", "--mount", "--propagation", "private", "true"], { stderr: "ignore" }).exitCode === 0;

describe.skipIf(!requireOrSkip(HAVE_LIBVIRT, "libvirt (libvirt0)") || !CAN_UNSHARE)("libvirt not installed", () => {
  test("one line, naming the domain and the URIs, exit status 1", () => {
    const lib = libvirtFile();
    expect(lib).not.toBeNull();
    // libvirt.so.0 replaced by an empty file in a private mount namespace: dlopen() fails as if absent.
    const r = runSync(
      ["unshare", "--mount", "--propagation", "private", "sh", "-c", 'mount --bind /dev/null "$0" && exec "$@"', lib!, PROXY, "qemu/vm1", "22"],
      { env: { ...(process.env as Record<string, string>), [SYSTEM_URI_ENV]: "", [SESSION_URI_ENV]: "" } },
    );
    expect({ code: r.status, err: r.stderr }).toEqual({
      code: 1,
      err: "Cannot look up libvirt domain vm1 at qemu:///system: libvirt is not installed (libvirt.so.0 cannot be loaded).\n",
    });
  });
});

describe.skipIf(!requireOrSkip(HAVE_LIBVIRT, "libvirt (libvirt0)"))("only qemu/ loads libvirt", () => {
  let dir: string;
  beforeAll(() => void (dir = tempDir("libvirt-load")));
  afterAll(() => removeDir(dir));

  /** The shared objects the dynamic loader opened for the proxy (LD_DEBUG=files). */
  async function loaded(args: string[], env: Record<string, string> = {}): Promise<string[]> {
    const r = await runFdpass([PROXY, ...args], { env: { ...process.env, ...env, LD_DEBUG: "files" } });
    if (r.fd !== null) close(r.fd);
    return r.stderr.split("\n").filter((l) => l.includes("file=")).map((l) => l.trim().split(/\s+/)[1]!);
  }

  test("unix/ does not; qemu/ does (the check can tell)", async () => {
    const sock = join(dir, "s.sock");
    const l = listenUnix(sock);
    try {
      const unix = await loaded([`unix${sock}`, "22"]);
      expect(unix.length).toBeGreaterThan(0);
      expect(unix.filter((f) => f.includes("libvirt") || f.includes("libxml2"))).toEqual([]);
    } finally {
      close(l);
    }
    const uri = writeNode(dir, "node.xml", []);
    const qemu = await loaded(["qemu:system/x", "22"], { [SYSTEM_URI_ENV]: uri });
    expect(qemu).toContain("file=libvirt.so.0");
  });
});

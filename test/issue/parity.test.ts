// systemd-ssh-issue against systemd 262's own binary: same arguments, same directory state before, then
// the same stdout, stderr, exit status and directory state after.
//
// Whatever this machine is (a container, a VM, bare metal), both programs see the same one, so make-vsock
// is compared as it runs here. As root we can also take Docker's marker away: a private mount namespace with
// a chroot made of bind mounts (everything but /.dockerenv) shows both programs what the machine is under
// its container, and on a VM with AF_VSOCK make-vsock runs for real (creating an AF_VSOCK socket and
// reading our CID; nothing connects).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { vsockSupport } from "../../ffi/vsock.ts";
import { snapshotModes as snapshot } from "../helpers/byte-tree.ts";
import { ensureBuilt } from "../helpers/build.ts";
import { requireReference } from "../helpers/reference.ts";
import { runSync } from "../helpers/spawn.ts";
import { DIST, removeDir, tempDir } from "../helpers/tmp.ts";
import { canFakeVm as canFakeVmHere, cleanEnv, inVmChroot, runBothInVm, type VmCase } from "../helpers/vm-chroot.ts";

const ref = requireReference("262");
const OURS = join(DIST, "systemd-ssh-issue");


type Setup = (dir: string) => void;

/** Run both programs on identical fresh state in the same directory; expect identical results. */
function compare(args: (dir: string) => string[], setup: Setup = () => {}, opts: { cwdSub?: string } = {}) {
  const dir = tempDir("issue-diff");
  try {
    const results = [ref!.tool("systemd-ssh-issue"), OURS].map((bin) => {
      for (const n of readdirSync(dir)) removeDir(join(dir, n));
      setup(dir);
      const cwd = opts.cwdSub ? join(dir, opts.cwdSub) : dir;
      const r = runSync([bin, ...args(dir)], { cwd, env: cleanEnv(), timeoutMs: 10000 });
      return { ...r, files: snapshot(dir) };
    });
    expect(results[1]).toEqual(results[0]!);
    return results[0]!;
  } finally {
    removeDir(dir);
  }
}

describe.skipIf(!ref)("systemd-ssh-issue like systemd 262", () => {
  beforeAll(async () => {
    await ensureBuilt();
  });

  const parsing: string[][] = [
    [],
    ["--help"],
    ["-h"],
    ["--he"],
    ["-hx"],
    ["-xh"],
    ["-h", "--bogus"],
    ["--bogus", "-h"],
    ["--help=x"],
    ["-h=x"],
    ["foo", "--help"],
    ["foo"],
    ["help"],
    [""],
    ["", "rm-vsock"],
    ["rm"],
    ["m"],
    ["RM-VSOCK"],
    ["Rm-vsock"],
    ["make-vsockx"],
    ["mk-vsock"],
    ["abcdefgh"],
    ["rm-vsockaaaa"],
    ["vsock"],
    ["-"],
    ["--"],
    ["--", "--bogus"],
    ["---bogus"],
    ["--=x"],
    ["--bogus=1"],
    ["-v"],
    ["--i=x"],
    ["--i"],
    ["--version=1"],
    ["--make-vsock=1"],
    ["--rm-vsock="],
    ["--issue-path"],
    ["rm-vsock", "--issue-path"],
    ["make-vsock", "extra"],
    ["rm-vsock", "rm-vsock"],
    ["rm-vsock", "--", "--bogus"],
    ["rm-vsock", ""],
    ["--make-vsock", "rm-vsock"],
    ["--make-vsock", "extra"],
    ["--issue-path=", "rm-vsock"],
    ["--issue-path=-", "rm-vsock"],
    ["--issue-path", "-", "--rm-vsock"],
    ["--issue-path=-", "make-vsock"],
    ["--issue-path=", "--make-vsock"],
    // Messages cut at LINE_MAX and split at runs of CR/LF, as systemd's log functions do.
    ["bad\rverb"],
    ["\r\na\n\n\rb\r"],
    ["x".repeat(3000)],
    ["--bogus\n=1"],
  ];
  for (const args of parsing) {
    test(`arguments: ${JSON.stringify(args)}`, () => {
      compare(() => args);
    });
  }

  test("rm-vsock removes the file", () => {
    const r = compare((d) => ["rm-vsock", `--issue-path=${d}/50-ssh-vsock.issue`], (d) => writeFileSync(join(d, "50-ssh-vsock.issue"), "x"));
    expect(r.files).toEqual({});
  });
  test("rm-vsock: a missing file is fine", () => {
    compare((d) => ["rm-vsock", "--issue-path", `${d}/missing`]);
  });
  test("rm-vsock: missing parent directory is fine", () => {
    compare((d) => ["rm-vsock", `--issue-path=${d}/no/such/dir/f`]);
  });
  test("rm-vsock: a directory is an error", () => {
    const r = compare((d) => ["rm-vsock", `--issue-path=${d}/dir`], (d) => mkdirSync(join(d, "dir")));
    expect(r.status).toBe(1);
  });
  test("rm-vsock: a file as parent is an error", () => {
    const r = compare((d) => ["rm-vsock", `--issue-path=${d}/file/x`], (d) => writeFileSync(join(d, "file"), ""));
    expect(r.status).toBe(1);
  });
  test("rm-vsock removes a symlink, not what it points to", () => {
    const r = compare(
      (d) => ["rm-vsock", `--issue-path=${d}/link`],
      (d) => {
        writeFileSync(join(d, "target"), "keep");
        symlinkSync("target", join(d, "link"));
      },
    );
    expect(Object.keys(r.files)).toEqual(["target"]);
  });
  test("rm-vsock: path is simplified (// . trailing slash)", () => {
    compare((d) => ["rm-vsock", `--issue-path=${d}//./sub/../sub/./f/`], (d) => {
      mkdirSync(join(d, "sub"));
      writeFileSync(join(d, "sub", "f"), "");
    });
  });
  test("rm-vsock: path made absolute against the working directory", () => {
    compare(() => ["rm-vsock", "--issue-path", "./f//"], (d) => {
      mkdirSync(join(d, "cwd"));
      writeFileSync(join(d, "cwd", "f"), "");
    }, { cwdSub: "cwd" });
  });
  test("rm-vsock: relative path in an error message", () => {
    compare(() => ["rm-vsock", "--issue-path=dir/"], (d) => mkdirSync(join(d, "dir")));
  });
  test("--rm-vsock (compat option) with --issue-path", () => {
    compare((d) => ["--issue-path", `${d}/f`, "--rm-vsock"], (d) => writeFileSync(join(d, "f"), ""));
  });
  test("the last --issue-path wins", () => {
    compare((d) => [`--issue-path=${d}/a`, "--issue-path=", `--issue-path=${d}/b`, "rm-vsock"], (d) => {
      writeFileSync(join(d, "a"), "");
      writeFileSync(join(d, "b"), "");
    });
  });
  test.skipIf(process.getuid?.() !== 0 || !Bun.which("unshare"))("default path /run/issue.d/50-ssh-vsock.issue (private /run)", () => {
    // A tmpfs over /run in a private mount namespace: the system's /run is never touched.
    const results = [ref!.tool("systemd-ssh-issue"), OURS].map((bin) => {
      const script = [
        "mount -t tmpfs tmpfs /run && mkdir /run/issue.d && echo x >/run/issue.d/50-ssh-vsock.issue || exit 99",
        `'${bin}' rm-vsock; echo "rc=$?"; ls -A /run/issue.d; '${bin}' rm-vsock; echo "rc=$?"`,
      ].join("\n");
      const p = Bun.spawnSync(["unshare", "--mount", "--propagation", "private", "sh", "-c", script], { env: cleanEnv(), timeout: 10000 });
      return { out: p.stdout.toString(), err: p.stderr.toString() };
    });
    expect(results[0]!.out).toBe("rc=0\nrc=0\n");
    expect(results[1]).toEqual(results[0]!);
  });
  test("make-vsock on this machine, whatever it is", () => {
    const r = compare((d) => ["make-vsock", `--issue-path=${d}/sub/f`]);
    // The hint is for VMs only, not for containers (in a VM or not) and not for bare metal.
    const virt = (flag: string) => Bun.spawnSync([ref!.tool("systemd-detect-virt"), flag]).stdout.toString().trim();
    const writes = virt("--container") === "none" && virt("--vm") !== "none" && vsockSupport().ok;
    expect(Object.keys(r.files).length > 0).toBe(writes);
  });
});

// A private mount namespace and a chroot that hides /.dockerenv: both programs see what is under the
// container (a VM of some hypervisor on the machines CI gets; bare metal would do as well for the parity).
// Not for the arm64 reference (scripts/test-arm64): aarch64 has no CPUID stage, so the chroot does not look
// like a VM to either program, and qemu-user does not implement IOCTL_VM_SOCKETS_GET_LOCAL_CID (ENOSYS).
const canFakeVm = ref !== null && canFakeVmHere && process.env.SYSTEMD_SSH_REFERENCE_ARCH !== "arm64";

describe.skipIf(!canFakeVm)("systemd-ssh-issue make-vsock in a VM, like systemd 262", () => {
  let scratch: string;
  /** What systemd-detect-virt says in the chroot. */
  let chrootVirt = "";
  beforeAll(async () => {
    await ensureBuilt();
    scratch = tempDir("issue-vm");
    const dir = tempDir("issue-vm-sanity");
    try {
      chrootVirt = inVmChroot([[ref!.tool("systemd-detect-virt")]], dir)[0]!.stdout.trim();
    } finally {
      removeDir(dir);
    }
  });
  afterAll(() => removeDir(scratch));

  test("the reference no longer sees Docker in the chroot (sanity)", () => {
    expect(chrootVirt).not.toBe("");
    expect(chrootVirt).not.toBe("docker");
  });

  const cases: VmCase[] = [
    { name: "to stdout", args: () => ["make-vsock", "--issue-path=-"] },
    { name: "to stdout, compat option", args: () => ["--make-vsock", "--issue-path="] },
    { name: "file with missing parents", args: (d) => ["make-vsock", `--issue-path=${d}/run/issue.d/50-ssh-vsock.issue`] },
    {
      name: "replaces an existing file",
      args: (d) => ["make-vsock", `--issue-path=${d}/f`],
      setup: (d) => writeFileSync(join(d, "f"), "old\n", { mode: 0o600 }),
    },
    {
      name: "replaces a symlink, does not follow it",
      args: (d) => ["make-vsock", `--issue-path=${d}/f`],
      setup: (d) => {
        writeFileSync(join(d, "target"), "keep\n");
        symlinkSync("target", join(d, "f"));
      },
    },
    { name: "a directory in the way", args: (d) => ["make-vsock", `--issue-path=${d}/f`], setup: (d) => mkdirSync(join(d, "f")) },
    { name: "a file as parent", args: (d) => ["make-vsock", `--issue-path=${d}/p/f`], setup: (d) => writeFileSync(join(d, "p"), "") },
    // 262's missing parents are 0755 whatever the umask.
    { name: "missing parents under umask 077", args: (d) => ["make-vsock", `--issue-path=${d}/a/b/f`], umask: "077" },
    { name: "missing parents under umask 777", args: (d) => ["make-vsock", `--issue-path=${d}/a/b/f`], umask: "777" },
    // A message is cut and split into lines as systemd's log functions do it.
    { name: "a file as parent, CR and LF in the path", args: (d) => ["make-vsock", `--issue-path=${d}/p/a\rb\n\n\r\nc`], setup: (d) => writeFileSync(join(d, "p"), "") },
    { name: "a file as parent, a 3000-byte path", args: (d) => ["make-vsock", `--issue-path=${d}/p/${"x".repeat(3000)}`], setup: (d) => writeFileSync(join(d, "p"), "") },
  ];

  test("make-vsock: same output, status and files as systemd 262", () => {
    const runs = runBothInVm(cases, [ref!.tool("systemd-ssh-issue"), OURS], scratch);
    cases.forEach((c, i) => {
      const [theirs, ours] = runs[i]!;
      expect({ name: c.name, ...ours }).toEqual({ name: c.name, ...theirs });
    });
    // And on a VM with AF_VSOCK it did write the hint somewhere: the case with missing parents.
    const made = runs[2]![1].files;
    if (chrootVirt === "none" || !vsockSupport().ok) {
      expect(made["run/issue.d/50-ssh-vsock.issue"]).toBeUndefined();
      return;
    }
    expect(made["run/issue.d/50-ssh-vsock.issue"]).toMatch(/^file 644 "Try contacting this VM's SSH server via 'ssh vsock%\d+' from host\.\\n\\n"$/);
    expect(made["run"]).toBe("dir 755");
    expect(runs[7]![1].files["a"]).toBe("dir 755");
  }, 60000);
});

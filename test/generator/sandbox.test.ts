// The VM and container branches against the reference, for real: both generators run in a throw-away root
// (test/generator/sandbox.sh, in a private mount namespace) where this machine no longer looks like a Docker
// container: "vm" shows systemd whatever this machine is under its container (a VM of any hypervisor, or bare
// metal: systemd-detect-virt says which; AF_VSOCK and the local CID are real; nothing connects), "nspawn*" a
// systemd-nspawn container with or without a writable /run/host/unix-export/.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { snapshot, OUR_EXTRA_DEBUG } from "./harness.ts";
import { REPO } from "../helpers/tmp.ts";
import { requireReference } from "../helpers/reference.ts";
import { canUnshare, inSandbox, requireUnshareOnCi } from "./sandbox.ts";
import { vsockSupport } from "../../ffi/vsock.ts";

const BUN = join(REPO, "node_modules/.bin/bun");
const base = mkdtempSync(join(tmpdir(), "gen-sandbox-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));

requireUnshareOnCi();

function run(mode: string, cmd: string[], cmdline: string | null): { tree: string[]; status: number; stderr: string } {
  const out = join(base, "out");
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out);
  const root = join(base, "root");
  const env: Record<string, string> = {
    PATH: "/usr/sbin:/usr/bin", SYSTEMD_LOG_LEVEL: "debug", SYSTEMD_LOG_TARGET: "console",
    SYSTEMD_UNIT_PATH: join(base, "units"),
  };
  // null: no $SYSTEMD_PROC_CMDLINE, so the real /proc/cmdline (or PID 1's argv, in a container) is read.
  if (cmdline !== null) env.SYSTEMD_PROC_CMDLINE = cmdline;
  mkdirSync(join(base, "units"), { recursive: true });
  const r = inSandbox(root, mode, env, [...cmd, out, join(base, "e"), join(base, "l")]);
  return { tree: snapshot(out), status: r.status, stderr: r.stderr.replace(OUR_EXTRA_DEBUG, "") };
}

/** What the "vm" sandbox is to systemd 262: its `systemd-detect-virt --vm`, and whether AF_VSOCK works here. */
const ref262 = requireReference("262");
const sandboxVm = ref262 && canUnshare
  ? inSandbox(join(base, "root"), "vm", {}, [ref262.tool("systemd-detect-virt"), "--vm"]).stdout.trim()
  : null;
const vmWithVsock = sandboxVm !== null && sandboxVm !== "none" && vsockSupport().ok;

for (const version of ["262", "257"] as const) {
  const ref = requireReference(version);
  describe.skipIf(!ref || !canUnshare)(`generator in a sandbox vs systemd ${version}`, () => {
    const ours = (mode: string, cmdline: string | null) =>
      run(mode, ["SYSTEMD_SSH_TARGET_VERSION=" + version, BUN, join(REPO, "src/main.ts"), "generator"], cmdline);
    const theirs = (mode: string, cmdline: string | null) => run(mode, [ref!.tool("systemd-ssh-generator")], cmdline);
    for (const mode of ["vm", "nspawn", "nspawn-ro", "nspawn-none"]) {
      for (const cmdline of [null, "", "systemd.ssh_listen=22 systemd.ssh_listen=vsock::2222", "systemd.ssh_auto=0"]) {
        test(`${mode} [${cmdline ?? "real command line"}]`, () => {
          const a = theirs(mode, cmdline);
          const b = ours(mode, cmdline);
          expect(b).toEqual(a);
          // The VM branch is only there to be taken on a VM with AF_VSOCK; elsewhere the parity above is all.
          if (mode === "vm" && cmdline === "") expect(a.tree.some((l) => l.startsWith("F sshd-vsock.socket"))).toBe(vmWithVsock);
          if (mode === "nspawn" && cmdline === "") expect(a.tree.some((l) => l.startsWith("F sshd-unix-export.socket"))).toBe(true);
        });
      }
    }
  });
}

describe.skipIf(!canUnshare || !ref262)("explain in the sandbox", () => {
  const explain = (mode: string) => {
    const env = { PATH: "/usr/sbin:/usr/bin", SYSTEMD_PROC_CMDLINE: "", SYSTEMD_SSH_TARGET_VERSION: "262" };
    return inSandbox(join(base, "root"), mode, env, [BUN, join(REPO, "src/main.ts"), "explain"]).stdout;
  };
  test("a VM: systemd's hypervisor, the vsock unit and `ssh vsock%CID`", () => {
    const t = explain("vm");
    expect(t).toMatch(new RegExp(`VM:\\s+${sandboxVm}\\n`));
    if (!vmWithVsock) {
      expect(t).not.toContain("  --- sshd-vsock.socket\n");
      return;
    }
    expect(t).toContain("  --- sshd-vsock.socket\n");
    const cid = /local CID (\d+)/.exec(t)?.[1];
    expect(cid).toBeDefined();
    expect(t).toContain(`from the VM's host:        ssh vsock%${cid}`);
  });
  test("a container with /run/host/unix-export/: the export unit and its ssh command", () => {
    const t = explain("nspawn");
    expect(t).toMatch(/container:\s+systemd-nspawn\n/);
    expect(t).toContain("  --- sshd-unix-export.socket\n");
    expect(t).toContain("ssh unix/run/systemd/nspawn/unix-export/MACHINE/ssh");
  });
});

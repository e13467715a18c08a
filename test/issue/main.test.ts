// systemd-ssh-issue's wiring, driven with injected effects: every branch of a VM, a container, a failing
// probe or disk runs on any machine. The comparison with systemd's own binary is in parity.test.ts.

import { afterEach, describe, expect, test } from "bun:test";
import { Errno } from "../../ffi/errno.ts";
import { SysError } from "../../ffi/errors.ts";
import type { IssueEffects } from "../../src/issue/effects.ts";
import { main } from "../../src/issue/main.ts";
import { log, LOG_DEBUG, type LogSink } from "../../src/shared/log.ts";

/** Injected effects for a machine described by the arguments; records what was written. */
function fakeMachine(m: Partial<{ vm: boolean; container: boolean; virtError: number; vsockErrno: number; cid: number; cidErrno: number; writeError: SysError }>) {
  const written: { path: string; content: string }[] = [];
  let stdout = "";
  const fx: IssueEffects = {
    detectVirtualization() {
      if (m.virtError) throw new SysError("detect_virtualization", m.virtError);
      return { vm: m.vm ?? false, container: m.container ?? false };
    },
    probeVsock() {
      if (m.vsockErrno) throw new SysError("socket", m.vsockErrno);
    },
    localCid() {
      if (m.cidErrno) throw new SysError("ioctl", m.cidErrno);
      return m.cid ?? 3;
    },
    writeIssueFile(path, content) {
      if (m.writeError) throw m.writeError;
      written.push({ path, content });
    },
    removeFile: () => true,
    stdout(t) {
      stdout += t;
    },
    stdoutIsTerminal: () => false,
  };
  return { fx, written, stdout: () => stdout };
}

describe("make-vsock with injected facts", () => {
  const lines: string[] = [];
  const sink: LogSink = { write: (level, line) => lines.push(`<${level}>${line}`) };
  const saved = { sink: log.sink, max: log.maxLevel };
  const runWith = async (m: Parameters<typeof fakeMachine>[0], args = ["make-vsock", "--issue-path=/x/issue"]) => {
    lines.length = 0;
    log.sink = sink;
    const f = fakeMachine(m);
    const code = await main(args, { effects: f.fx });
    log.maxLevel = LOG_DEBUG; // main() re-reads $SYSTEMD_LOG_LEVEL; keep debug lines visible to the next run
    return { code, written: f.written, stdout: f.stdout(), log: [...lines] };
  };
  afterEach(() => {
    log.sink = saved.sink;
    log.maxLevel = saved.max;
  });

  test("VM with a CID: the file, atomically through the effect", async () => {
    const r = await runWith({ vm: true, cid: 42 });
    expect(r.code).toBe(0);
    expect(r.written).toEqual([{ path: "/x/issue", content: "Try contacting this VM's SSH server via 'ssh vsock%42' from host.\n\n" }]);
  });
  test("VM, --issue-path=-: standard output", async () => {
    const r = await runWith({ vm: true, cid: 7 }, ["make-vsock", "--issue-path=-"]);
    expect(r.stdout).toBe("Try contacting this VM's SSH server via 'ssh vsock%7' from host.\n\n");
    expect(r.written).toEqual([]);
  });
  test("container inside a VM: nothing", async () => {
    const r = await runWith({ vm: true, container: true });
    expect(r).toMatchObject({ code: 0, written: [], stdout: "" });
  });
  test("no AF_VSOCK (EAFNOSUPPORT): nothing, exit 0", async () => {
    const r = await runWith({ vm: true, vsockErrno: Errno.EAFNOSUPPORT });
    expect(r).toMatchObject({ code: 0, written: [] });
  });
  test("AF_VSOCK probe fails otherwise: error", async () => {
    const r = await runWith({ vm: true, vsockErrno: Errno.EACCES });
    expect(r.code).toBe(1);
    expect(r.log).toContain("<3>Unable to test if AF_VSOCK is available: Permission denied");
  });
  test("no /dev/vsock (ENOENT) or no CID (EADDRNOTAVAIL): nothing", async () => {
    for (const cidErrno of [Errno.ENOENT, Errno.ENODEV, Errno.ENXIO, Errno.EADDRNOTAVAIL]) expect(await runWith({ vm: true, cidErrno })).toMatchObject({ code: 0, written: [] });
  });
  test("reading the CID fails otherwise: error", async () => {
    const r = await runWith({ vm: true, cidErrno: Errno.EIO });
    expect(r.code).toBe(1);
    expect(r.log).toContain("<3>Failed to query host's AF_VSOCK CID: Input/output error");
  });
  test("detection fails: error", async () => {
    const r = await runWith({ virtError: Errno.EACCES });
    expect(r.code).toBe(1);
    expect(r.log).toContain("<3>Failed to detect if we run in a VM: Permission denied");
  });
  test("write failures carry systemd's messages", async () => {
    const cases = [
      ["mkdir", "Failed to create parent directories of '/x/issue': Permission denied"],
      ["open", "Failed to create '/x/issue': Permission denied"],
      ["write", "Failed to create '/x/issue': Permission denied"],
      ["fchmod", "Failed to adjust access mode of '/x/issue': Permission denied"],
      ["rename", "Failed to move '/x/issue' into place: Permission denied"],
    ] as const;
    for (const [step, message] of cases) {
      const r = await runWith({ vm: true, writeError: new SysError(step, Errno.EACCES) });
      expect(r.code).toBe(1);
      expect(r.log).toContain(`<3>${message}`);
    }
  });
});

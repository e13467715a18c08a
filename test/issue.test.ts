// systemd-ssh-issue's core and its VM branch through injected facts (the reference comparison is in
// issue-reference.test.ts), plus the pieces of systemd's machinery it rests on.

import { afterEach, describe, expect, test } from "bun:test";
import { lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { issueText, planMakeVsock } from "../src/issue/core.ts";
import { EffectError, IssueWriteError, writeFileAtomic, type IssueEffects } from "../src/issue/effects.ts";
import { main } from "../src/issue/main.ts";
import { log, LOG_DEBUG, type LogSink } from "../src/shared/log.ts";
import { pathSimplify } from "../src/shared/path.ts";
import { findClosest, levenshtein } from "../src/shared/verbs.ts";
import { strerror } from "../ffi/errors.ts";
import { requireReference } from "./helpers/reference.ts";
import { ensureBuilt } from "./helpers/build.ts";
import { shQuote } from "./helpers/shell.ts";
import { DIST, removeDir, tempDir } from "./helpers/tmp.ts";

const ref = requireReference("262");

describe("planMakeVsock", () => {
  const vm = { inVm: true, inContainer: false, vsock: true, cid: 1234 };
  test("writes the hint in a VM with AF_VSOCK and a CID", () => {
    expect(planMakeVsock(vm)).toEqual({ kind: "write", content: "Try contacting this VM's SSH server via 'ssh vsock%1234' from host.\n\n" });
  });
  test("nothing outside a VM, in a container, without AF_VSOCK or without a CID", () => {
    for (const f of [{ inVm: false }, { inContainer: true }, { vsock: false, cid: null }, { cid: null }]) {
      expect(planMakeVsock({ ...vm, ...f }).kind).toBe("skip");
    }
  });
  test("reserved CIDs get the short sentence, as in 262", () => {
    for (const cid of [0, 1, 2, 0xffffffff]) expect(issueText(cid)).toBe("This VM's SSH server is available over AF_VSOCK.\n\n");
    expect(issueText(3)).toBe("Try contacting this VM's SSH server via 'ssh vsock%3' from host.\n\n");
    expect(issueText(0xfffffffe)).toContain("vsock%4294967294'");
  });
});

/** Injected effects for a machine described by the arguments; records what was written. */
function fakeMachine(m: Partial<{ vm: boolean; container: boolean; virtError: number; vsockErrno: number; cid: number; cidErrno: number; writeError: IssueWriteError }>) {
  const written: { path: string; content: string }[] = [];
  let stdout = "";
  const fx: IssueEffects = {
    detectVirtualization() {
      if (m.virtError) throw new EffectError(m.virtError, strerror(m.virtError));
      return { vm: m.vm ?? false, container: m.container ?? false };
    },
    probeVsock: () => m.vsockErrno ?? 0,
    localCid: () => (m.cidErrno ? { errno: m.cidErrno, strerror: strerror(m.cidErrno) } : { cid: m.cid ?? 3 }),
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
    const r = await runWith({ vm: true, vsockErrno: 97 });
    expect(r).toMatchObject({ code: 0, written: [] });
  });
  test("AF_VSOCK probe fails otherwise: error", async () => {
    const r = await runWith({ vm: true, vsockErrno: 13 });
    expect(r.code).toBe(1);
    expect(r.log).toContain("<3>Unable to test if AF_VSOCK is available: Permission denied");
  });
  test("no /dev/vsock (ENOENT) or no CID (EADDRNOTAVAIL): nothing", async () => {
    for (const cidErrno of [2, 19, 6, 99]) expect(await runWith({ vm: true, cidErrno })).toMatchObject({ code: 0, written: [] });
  });
  test("reading the CID fails otherwise: error", async () => {
    const r = await runWith({ vm: true, cidErrno: 5 });
    expect(r.code).toBe(1);
    expect(r.log).toContain("<3>Failed to query host's AF_VSOCK CID: Input/output error");
  });
  test("detection fails: error", async () => {
    const r = await runWith({ virtError: 13 });
    expect(r.code).toBe(1);
    expect(r.log).toContain("<3>Failed to detect if we run in a VM: Permission denied");
  });
  test("write failures carry systemd's messages", async () => {
    const cases = [
      ["mkdir", "Failed to create parent directories of '/x/issue': Permission denied"],
      ["create", "Failed to create '/x/issue': Permission denied"],
      ["chmod", "Failed to adjust access mode of '/x/issue': Permission denied"],
      ["rename", "Failed to move '/x/issue' into place: Permission denied"],
    ] as const;
    for (const [step, message] of cases) {
      const r = await runWith({ vm: true, writeError: new IssueWriteError(step, new EffectError(13, strerror(13))) });
      expect(r.code).toBe(1);
      expect(r.log).toContain(`<3>${message}`);
    }
  });
});

describe("writeFileAtomic", () => {
  test("mode 0644 whatever the umask, parents 0755, symlink replaced, no temporary left", () => {
    const d = tempDir("issue-write");
    const old = process.umask(0o077);
    try {
      process.umask(0o022);
      writeFileSync(join(d, "target"), "keep");
      mkdirSync(join(d, "a"));
      symlinkSync("../target", join(d, "a", "f"));
      writeFileAtomic(join(d, "a", "f"), "hello\n");
      expect(lstatSync(join(d, "a", "f")).isFile()).toBe(true);
      expect(readFileSync(join(d, "target"), "utf8")).toBe("keep");
      process.umask(0o077);
      writeFileAtomic(join(d, "b", "c", "f"), "x");
      expect(lstatSync(join(d, "b", "c", "f")).mode & 0o7777).toBe(0o644);
      expect(readdirSync(join(d, "a"))).toEqual(["f"]);
      expect(() => writeFileAtomic(join(d, "target", "f"), "x")).toThrow(IssueWriteError);
      mkdirSync(join(d, "dir"));
      expect(() => writeFileAtomic(join(d, "dir"), "x")).toThrow("File exists");
      expect(readdirSync(d).sort()).toEqual(["a", "b", "dir", "target"]);
    } finally {
      process.umask(old);
      removeDir(d);
    }
  });
});

describe("systemd's helpers", () => {
  test("path_simplify", () => {
    const cases: [string, string][] = [
      ["", ""],
      ["/", "/"],
      ["//", "/"],
      ["///foo//./bar/.", "/foo/bar"],
      [".//./foo//./bar/.", "foo/bar"],
      ["/../foo/bar", "/foo/bar"],
      ["/../foo/bar/..", "/foo/bar/.."],
      ["./", "."],
      ["a/../b/", "a/../b"],
      ["/a/.b/", "/a/.b"],
    ];
    for (const [input, out] of cases) expect(pathSimplify(input)).toBe(out);
  });
  test("Damerau-Levenshtein and strv_find_closest", () => {
    expect(levenshtein("ab", "ba")).toBe(1);
    expect(levenshtein("", "abc")).toBe(3);
    expect(levenshtein("kitten", "sitting")).toBe(3);
    expect(findClosest(["make-vsock", "rm-vsock"], "")).toBe("rm-vsock");
    expect(findClosest(["make-vsock", "rm-vsock"], "xx")).toBeNull();
  });
});

describe.skipIf(!ref)("systemd-ssh-issue output compared on a terminal and for tooling", () => {
  const OURS = join(DIST, "systemd-ssh-issue");
  const hasScript = Bun.which("script") !== null;
  test.skipIf(!hasScript)("--help on a terminal (colours, hyperlink) is systemd 262's", async () => {
    await ensureBuilt();
    for (const env of [{ TERM: "xterm-256color" }, { TERM: "dumb" }, { TERM: "xterm", NO_COLOR: "1" }, { TERM: "xterm", SYSTEMD_COLORS: "0" }]) {
      const [a, b] = [ref!.tool("systemd-ssh-issue"), OURS].map((bin) => {
        const p = Bun.spawnSync(["script", "-qec", `${shQuote(bin)} --help`, "/dev/null"], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env } });
        return p.stdout.toString();
      });
      expect(b).toBe(a!);
      expect(a!.length).toBeGreaterThan(100);
    }
  });
  test("--introspect-cli describes the same command line (project and version are ours)", async () => {
    await ensureBuilt();
    const [a, b] = [ref!.tool("systemd-ssh-issue"), OURS].map((bin) => Bun.spawnSync([bin, "--introspect-cli"]).stdout.toString());
    expect(b!.endsWith("\n")).toBe(a!.endsWith("\n"));
    const strip = (s: string) => {
      const j = JSON.parse(s);
      for (const c of j.commands) {
        delete c.project;
        delete c.version;
        delete c.features;
      }
      return j;
    };
    expect(strip(b!)).toEqual(strip(a!));
  });
  test("--version names our version and the systemd we match", async () => {
    await ensureBuilt();
    const p = Bun.spawnSync([OURS, "--version"]);
    expect(p.exitCode).toBe(0);
    expect(p.stdout.toString()).toMatch(/^systemd-ssh \S+ \(systemd 262 compatible\)\n$/);
  });
});

// install's and uninstall's decisions from facts built here: every branch without touching a disk.

import { describe, expect, test } from "bun:test";
import { planInstall, planUninstall, sha256, type Manifest, type OnDisk } from "../../src/install/core.ts";
import { DEFAULT_LAYOUT, paths } from "../../src/install/layout.ts";

const p = paths(DEFAULT_LAYOUT);
type InstallFacts = Parameters<typeof planInstall>[0];

const binary = new TextEncoder().encode("ELF ours");

function facts(disk: Record<string, OnDisk>, more: Partial<InstallFacts> = {}): InstallFacts {
  return { root: "/r", layout: DEFAULT_LAYOUT, binary, onDisk: (path) => disk[path] ?? { kind: "absent" }, manifest: null, force: false, ...more };
}

const verbs = (f: InstallFacts) => Object.fromEntries(planInstall(f).steps.map((s) => [s.entry.path, s.state]));

describe("planInstall", () => {
  test("an empty target: every entry is written", () => {
    const plan = planInstall(facts({}));
    expect(new Set(plan.steps.map((s) => s.state))).toEqual(new Set(["absent"]));
    expect(plan.kept).toEqual([]);
    expect(plan.steps.find((s) => s.entry.path === p.binary)?.want).toMatchObject({ kind: "file", sha256: sha256(binary), mode: 0o755 });
  });

  test("what is already right is unchanged; what the manifest recorded is ours to update", () => {
    const manifest: Manifest = { format: "systemd-ssh-manifest/1", version: "0", entries: [{ kind: "file", path: p.binary, sha256: "old", mode: 0o755 }] };
    const f = facts({ [p.proxy]: { kind: "link", target: "systemd-ssh" }, [p.binary]: { kind: "file", sha256: "old", mode: 0o755 } }, { manifest });
    expect(verbs(f)[p.proxy]).toBe("same");
    expect(verbs(f)[p.binary]).toBe("ours");
  });

  test("someone else's file is refused, all of them named, unless forced", () => {
    const disk: Record<string, OnDisk> = { [p.target]: { kind: "file", sha256: "theirs", mode: 0o644 }, [p.proxy]: { kind: "link", target: "elsewhere" } };
    expect(() => planInstall(facts(disk))).toThrow(`Refusing to overwrite files systemd-ssh did not install (use --force to replace them):\n  /r${p.proxy}\n  /r${p.target}`);
    expect(verbs(facts(disk, { force: true }))[p.target]).toBe("foreign");
  });

  test("a directory in the way is refused even when forced", () => {
    expect(() => planInstall(facts({ [p.dropin]: { kind: "dir" } }, { force: true }))).toThrow(`/r${p.dropin} is a directory; refusing to replace it.`);
  });

  test("systemd's own generator there: ours overrides it from /etc, and systemd's files are kept", () => {
    const disk: Record<string, OnDisk> = { [p.generator]: { kind: "file", sha256: "systemd", mode: 0o755 }, [p.target]: { kind: "file", sha256: "systemd", mode: 0o644 } };
    const plan = planInstall(facts(disk));
    const written = plan.steps.map((s) => s.entry.path);
    expect(written).toContain(p.generatorOverride);
    expect(written).not.toContain(p.generator);
    expect(written).not.toContain(p.target);
    expect(written).toContain(p.issue);
    expect(plan.kept).toEqual([`kept /r${p.generator} (systemd's own generator; ours in /etc overrides it)`, `kept /r${p.target} (systemd's own unit)`]);
  });

  test("our own generator link from before is not systemd's", () => {
    expect(verbs(facts({ [p.generator]: { kind: "link", target: "../systemd-ssh" } }))[p.generator]).toBe("same");
  });

  test("package mode: systemd's paths only, and none that a package owns", () => {
    const plan = planInstall(facts({}, { binary: new Uint8Array(0), packaged: new Set([p.target]) }));
    const written = plan.steps.map((s) => s.entry.path);
    expect(written).not.toContain(p.binary);
    expect(written).not.toContain(p.target);
    expect(written).toContain(p.proxy);
    expect(plan.kept).toEqual([`kept /r${p.target} (not ours: unit)`]);
  });
});

describe("planUninstall", () => {
  test("removes what is still as installed, keeps what changed or a package owns, dirs innermost first", () => {
    const manifest: Manifest = {
      format: "systemd-ssh-manifest/1",
      version: "0",
      entries: [
        { kind: "dir", path: "/a" },
        { kind: "dir", path: "/a/b" },
        { kind: "file", path: "/a/b/same", sha256: "h", mode: 0o644 },
        { kind: "file", path: "/a/b/edited", sha256: "h", mode: 0o644 },
        { kind: "link", path: "/a/link", target: "t" },
        { kind: "file", path: "/a/gone", sha256: "h", mode: 0o644 },
        { kind: "file", path: "/a/pkg", sha256: "h", mode: 0o644 },
      ],
    };
    const disk: Record<string, OnDisk> = {
      "/a/b/same": { kind: "file", sha256: "h", mode: 0o600 },
      "/a/b/edited": { kind: "file", sha256: "x", mode: 0o644 },
      "/a/link": { kind: "link", target: "t" },
      "/a/pkg": { kind: "file", sha256: "h", mode: 0o644 },
    };
    const { removals, dirs } = planUninstall(manifest, (path) => disk[path] ?? { kind: "absent" }, new Set(["/a/pkg"]));
    expect(removals).toEqual([
      { path: "/a/pkg", action: "packaged" },
      { path: "/a/gone", action: "gone" },
      { path: "/a/link", action: "remove" },
      { path: "/a/b/edited", action: "changed" },
      { path: "/a/b/same", action: "remove" },
    ]);
    expect(dirs).toEqual(["/a/b", "/a"]);
  });
});

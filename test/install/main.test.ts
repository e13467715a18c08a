// install() and uninstall() in package mode (the Debian package's maintainer scripts) into temporary trees,
// with dpkg's answers injected.

import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { realEffects } from "../../src/install/effects.ts";
import { DEFAULT_LAYOUT, plan } from "../../src/install/layout.ts";
import { install, uninstall } from "../../src/install/main.ts";
import { hashedTree as snapshot } from "../helpers/byte-tree.ts";
import { removeDir, tempDir } from "../helpers/tmp.ts";

/** The real effects, except that dpkg's database says what `owned` says. */
const dpkgSays = (owned: (root: string, paths: string[]) => Set<string>) => ({ ...realEffects, dpkgOwned: owned });

describe("install --package (the Debian package's maintainer scripts), dpkg's answers injected", () => {
  // Which paths a package owns is a fact injected here, as dpkg-query would say.
  const lines: string[] = [];
  const say = (l: string) => void lines.push(l);
  const systemdPaths = plan(DEFAULT_LAYOUT).filter((e) => e.systemdOwn).map((e) => e.path);

  test("systemd < 256: every entry at systemd's paths and nothing else (dpkg has the rest)", () => {
        const root = tempDir("install-pkg");
    try {
      install({ root, binary: "", package: true, effects: dpkgSays(() => new Set()), say });
      const s = snapshot(root);
      const files = Object.keys(s).filter((k) => !s[k]!.startsWith("dir")).sort();
      expect(files).toEqual([...systemdPaths, "/usr/lib/systemd/systemd-ssh.manifest"].sort());
      expect(s["/usr/lib/systemd/system-generators/systemd-ssh-generator"]).toBe("-> ../systemd-ssh");
      uninstall({ root, package: true, effects: dpkgSays(() => new Set()), say });
      expect(snapshot(root)).toEqual({});
    } finally {
      removeDir(root);
    }
  });

  test("systemd 256+: nothing is added at its paths, not even what 257 lacks; no generator in /etc", () => {
        const root = tempDir("install-pkg257");
    try {
      const gen = "/usr/lib/systemd/system-generators/systemd-ssh-generator";
      mkdirSync(join(root, gen, ".."), { recursive: true });
      writeFileSync(join(root, gen), "ELF systemd's generator\n");
      const before = snapshot(root);
      install({ root, binary: "", package: true, effects: dpkgSays((_, ps) => new Set(ps.filter((p) => p !== "/usr/lib/systemd/systemd-ssh-issue" && !p.includes("issue.1")))), say });
      const s = snapshot(root);
      delete s["/usr/lib/systemd/systemd-ssh.manifest"];
      expect(s).toEqual(before);
    } finally {
      removeDir(root);
    }
  });

  test("after a 12 -> 13 upgrade: a file a package owns now is kept by uninstall, even with our very bytes", () => {
        const root = tempDir("install-pkgup");
    try {
      install({ root, binary: "", package: true, effects: dpkgSays(() => new Set()), say });
      const target = "/usr/lib/systemd/system/ssh-access.target";
      const bytes = readFileSync(join(root, target));
      // systemd 257 unpacks the same bytes over ours: the manifest alone would call it ours.
      uninstall({ root, package: true, effects: dpkgSays((_, ps) => new Set(ps.filter((p) => p === target))), say });
      expect(readFileSync(join(root, target))).toEqual(bytes);
      expect(lines).toContain(`kept ${root}${target} (a package's now)`);
      expect(existsSync(join(root, "usr/lib/systemd/systemd-ssh.manifest"))).toBe(false);
    } finally {
      removeDir(root);
    }
  });

  test("uninstall --package with no manifest: nothing to do, no error (a prerm must not fail)", () => {
        const root = tempDir("install-pkgnone");
    try {
      expect(uninstall({ root, package: true, effects: dpkgSays(() => new Set()), say })).toBe(0);
    } finally {
      removeDir(root);
    }
  });
});

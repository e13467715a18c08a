// A unit file is never linked into place half-written. On a nearly full file system write(2) writes what
// fits and returns that count without an error; a single fs.writeSync() once took that for success and
// linked the truncated file. Run on a 64 KiB tmpfs in a private mount namespace.

import { afterAll, describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO, tempDir } from "../helpers/tmp.ts";

const BUN = join(REPO, "node_modules/.bin/bun");
const base = tempDir("gen-short-write");
afterAll(() => rmSync(base, { recursive: true, force: true }));

const canUnshare = Bun.spawnSync(["unshare", "-m", "true"]).exitCode === 0;
// As in sandbox.test.ts: with CI=true, no mount namespace is a failure, not a silent skip.
if (!canUnshare && process.env.CI === "true" && process.env.SYSTEMD_SSH_NO_UNSHARE !== "1") {
  test("unshare -m works (needed for the short-write test)", () => expect(canUnshare as boolean).toBe(true));
}

describe.skipIf(!canUnshare)("the generator's output directory on a full file system", () => {
  test("a unit that does not fit is an ENOSPC error, and no file (nor temporary file) is left", () => {
    const probe = join(base, "probe.ts");
    writeFileSync(probe, `
      import { readdirSync } from "node:fs";
      import { realTree } from ${JSON.stringify(join(REPO, "src/generator/effects.ts"))};
      const dir = process.argv[2];
      const result = realTree(dir).createFile("big.service", "x".repeat(300_000));
      const small = realTree(dir).createFile("small.service", "[Unit]\\n");
      console.log(JSON.stringify({ result, small, entries: readdirSync(dir).sort() }));
    `);
    const mnt = join(base, "mnt");
    const r = Bun.spawnSync(["unshare", "-m", "sh", "-c", 'mkdir -p "$1" && mount -t tmpfs -o size=64k tmpfs "$1" && exec "$2" "$3" "$1"', "sh", mnt, BUN, probe], {
      stdout: "pipe", stderr: "pipe",
    });
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
    // The small unit still fits once the failed one's temporary file is gone.
    expect(JSON.parse(r.stdout.toString())).toEqual({ result: "ENOSPC", small: null, entries: ["small.service"] });
  });
});

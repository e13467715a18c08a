// The generator's real output directory (src/generator/effects.ts's realTree). A unit file is never linked
// into place half-written: on a nearly full file system write(2) writes what fits and returns that count
// without an error; a single fs.writeSync() once took that for success and linked the truncated file. Run on
// a 64 KiB tmpfs in a private mount namespace. And an existing name is refused, as systemd's O_EXCL does.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { realTree } from "../../src/generator/effects.ts";
import { runSync } from "../helpers/spawn.ts";
import { REPO, tempDir } from "../helpers/tmp.ts";
import { canUnshare, requireUnshareOnCi } from "./sandbox.ts";

const BUN = join(REPO, "node_modules/.bin/bun");
const base = tempDir("gen-short-write");
afterAll(() => rmSync(base, { recursive: true, force: true }));

requireUnshareOnCi();

test("an existing name: EEXIST, and the file is left as it was", () => {
  const dir = join(base, "exists");
  mkdirSync(dir);
  writeFileSync(join(dir, "a.service"), "old");
  expect(realTree(dir).createFile("a.service", "new")).toBe("EEXIST");
  expect(readFileSync(join(dir, "a.service"), "latin1")).toBe("old");
  expect(readdirSync(dir)).toEqual(["a.service"]);
});

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
    const r = runSync(["unshare", "-m", "sh", "-c", 'mkdir -p "$1" && mount -t tmpfs -o size=64k tmpfs "$1" && exec "$2" "$3" "$1"', "sh", mnt, BUN, probe], {
      env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin" },
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    // The small unit still fits once the failed one's temporary file is gone.
    expect(JSON.parse(r.stdout)).toEqual({ result: "ENOSPC", small: null, entries: ["small.service"] });
  });
});

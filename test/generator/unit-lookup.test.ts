// unit_file_exists_full()'s alias checks (src/generator/unit-lookup.ts): a symlink inside the search path
// is an alias, accepted only between names of the same kind (unit_name_is_valid(), unit_name_to_instance())
// and suffix. An accepted alias to a missing unit is ENOLINK; a refused one is EXDEV, with systemd's notice.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { findUnitFile } from "../../src/generator/unit-lookup.ts";
import { removeDir, tempDir } from "../helpers/tmp.ts";

const base = tempDir("gen-unit-lookup");
afterAll(() => removeDir(base));
let n = 0;

/** `src` linked to `dst` (which need not exist) in a fresh unit directory: the lookup's result and log. */
function alias(src: string, dst: string): { result: unknown; log: string[] } {
  const units = join(base, `u${n++}`);
  mkdirSync(units);
  symlinkSync(Buffer.from(dst, "latin1"), join(units, src));
  const log: string[] = [];
  const result = findUnitFile([units], src, (m) => log.push(m));
  return { result, log };
}

const refused = (src: string, dst: string) => {
  const r = alias(src, dst);
  expect(r.result).toEqual({ errno: "EXDEV" });
  return r.log.at(-1);
};

describe("unit names, through the aliases they may be", () => {
  test("same kind and suffix: accepted (here to a missing unit, so ENOLINK)", () => {
    for (const [src, dst] of [["sshd@.service", "ssh@.service"], ["p.service", "a:b-c_d.e\\f.service"], ["a@x.service", "b@.service"], ["a@x.service", "b@x.service"]]) {
      expect(alias(src!, dst!).result).toEqual({ errno: "ENOLINK" });
    }
  });
  test("kinds that differ: a template is neither a plain unit nor an instance (a@b@.service is one)", () => {
    for (const dst of ["sshd.service", "a@b.service", "a@b@.service"]) {
      expect(refused("sshd@.service", dst)).toBe(`sshd@.service: symlink target name type "${dst}" does not match source, rejecting.`);
    }
    expect(refused("a@x.service", "a@y.service")).toBe('a@x.service: unit symlink target "a@y.service" instance name doesn\'t match, rejecting.');
    expect(refused("p.service", "p.socket")).toBe('p.service: symlink target "p.socket" has incompatible suffix, rejecting.');
  });
  test("not unit names: no known type, an empty or @-led prefix, a byte outside the set, 256 bytes or more", () => {
    for (const dst of [".service", "@.service", "a@", "a.bogus", "a b.service", "ssh\xc3\xa9@.service", `${"a".repeat(248)}.service`]) {
      expect(refused("sshd@.service", dst)).toBe(`sshd@.service points to "${dst}" which is not a valid unit name: Invalid cross-device link`);
    }
    expect(alias("p.service", `${"a".repeat(247)}.service`).result).toEqual({ errno: "ENOLINK" });
  });
});

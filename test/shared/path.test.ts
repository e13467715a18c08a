// path_simplify(), as systemd's.

import { describe, expect, test } from "bun:test";
import { pathSimplify } from "../../src/shared/path.ts";

describe("pathSimplify", () => {
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
});

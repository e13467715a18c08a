// The verb lookup's distance and closest match, as systemd's.

import { describe, expect, test } from "bun:test";
import { findClosest, levenshtein } from "../../src/shared/verbs.ts";

describe("verbs", () => {
  test("Damerau-Levenshtein and strv_find_closest", () => {
    expect(levenshtein("ab", "ba")).toBe(1);
    expect(levenshtein("", "abc")).toBe(3);
    expect(levenshtein("kitten", "sitting")).toBe(3);
    expect(findClosest(["make-vsock", "rm-vsock"], "")).toBe("rm-vsock");
    expect(findClosest(["make-vsock", "rm-vsock"], "xx")).toBeNull();
  });
});

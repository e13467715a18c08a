// The generator's command line (src/generator/args.ts): one or three directories, --explain, or systemd's
// usage error.

import { expect, test } from "bun:test";
import { parseArgs } from "../../src/generator/args.ts";

test("one or three directories: the first is where the units go", () => {
  expect(parseArgs(["/n"])).toEqual({ kind: "generate", dest: "/n" });
  expect(parseArgs(["/n", "/e", "/l"])).toEqual({ kind: "generate", dest: "/n" });
});

test("--explain takes the rest", () => {
  expect(parseArgs(["--explain", "/d"])).toEqual({ kind: "explain", args: ["/d"] });
});

test("any other count: systemd's message and -EINVAL's exit status", () => {
  for (const args of [[], ["a", "b"], ["a", "b", "c", "d"]]) {
    expect(parseArgs(args)).toEqual({ kind: "usage", message: "This program takes one or three arguments.", status: 234 });
  }
});

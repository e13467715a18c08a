// Compile a small C program for x86-64 or aarch64 and run it, for tests that check ffi/'s numbers and
// layouts against the C headers of each architecture. x86-64 uses the machine's gcc and runs natively;
// aarch64 uses Debian's gcc-aarch64-linux-gnu, linked statically so that qemu-aarch64-static needs no
// root. Both come from scripts/ensure-deps.

import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Arch } from "./abi-table.ts";
import { removeDir, tempDir } from "./tmp.ts";

const TOOLS: Record<Arch, { cc: string; flags: string[]; run: string[] }> = {
  x64: { cc: "x86_64-linux-gnu-gcc", flags: [], run: [] },
  arm64: { cc: "aarch64-linux-gnu-gcc", flags: ["-static"], run: ["qemu-aarch64-static"] },
};

const onPath = (name: string) => (process.env.PATH ?? "/usr/bin").split(":").some((d) => d && existsSync(join(d, name)));

/** Whether this machine can compile and run C for `arch`. */
export function canCompileFor(arch: Arch): boolean {
  const t = TOOLS[arch];
  return onPath(t.cc) && t.run.every(onPath);
}

/** In CI a missing cross toolchain is a failure, elsewhere a reason to skip: returns whether to run. */
export function requireCompilerFor(arch: Arch): boolean {
  if (canCompileFor(arch)) return true;
  if (process.env.CI === "true") throw new Error(`no C toolchain for ${arch} (${TOOLS[arch].cc}): run scripts/ensure-deps as root`);
  return false;
}

/** Compile `source` for `arch`, run it, return its stdout. Throws on a compile error or a failed run. */
export function compileAndRun(source: string, arch: Arch): string {
  const t = TOOLS[arch];
  const dir = tempDir(`cc-${arch}`);
  try {
    writeFileSync(join(dir, "probe.c"), source);
    const cc = Bun.spawnSync([t.cc, "-Wall", "-Werror", ...t.flags, "-o", join(dir, "probe"), join(dir, "probe.c")]);
    if (cc.exitCode !== 0) throw new Error(`${t.cc} failed: ${cc.stderr.toString()}`);
    const run = Bun.spawnSync([...t.run, join(dir, "probe")]);
    if (run.exitCode !== 0) throw new Error(`the ${arch} probe failed (${run.exitCode}): ${run.stderr.toString()}`);
    return run.stdout.toString();
  } finally {
    removeDir(dir);
  }
}

/** "name value" lines into a record of numbers. */
export function parseFacts(out: string): Record<string, number> {
  return Object.fromEntries(out.trim().split("\n").filter((l) => l.includes(" ")).map((l) => {
    const [k, v] = l.split(" ");
    return [k!, Number(v)];
  }));
}

// The CPUID instruction through ffi/cpuid.ts, checked against what the kernel read from the same instruction
// (/proc/cpuinfo's vendor_id and its "hypervisor" flag), on whatever x86-64 machine this is.

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { cpuid } from "../../ffi/cpuid.ts";

const text = (...words: number[]) => Buffer.from(new Uint32Array(words).buffer).toString("latin1");
const cpuinfo = process.arch === "x64" ? readFileSync("/proc/cpuinfo", "latin1") : "";
const field = (name: string) => new RegExp(`^${name}\\s*: (.*)$`, "m").exec(cpuinfo)?.[1] ?? null;

describe.skipIf(process.arch !== "x64")("cpuid on x86-64", () => {
  test("leaf 0: the vendor string the kernel shows as vendor_id", () => {
    const r = cpuid(0);
    expect(r.eax).toBeGreaterThanOrEqual(1);
    expect(text(r.ebx, r.edx, r.ecx)).toBe(field("vendor_id")!);
  });
  test("leaf 1: the hypervisor bit is the kernel's \"hypervisor\" flag", () => {
    const flags = field("flags")!.split(" ");
    expect((cpuid(1).ecx & 0x80000000) !== 0).toBe(flags.includes("hypervisor"));
  });
  test("the same answer every time, and rbx survives the call", () => {
    // A clobbered callee-saved register would crash or corrupt the caller long before this line.
    const a = cpuid(0), b = cpuid(0);
    expect(b).toEqual(a);
  });
});

test.skipIf(process.arch === "x64")("cpuid elsewhere: an error, never a call", () => {
  expect(() => cpuid(0)).toThrow(/x86-64/);
});

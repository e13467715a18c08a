// The CPUID instruction, which systemd's detect_vm_cpuid() executes (leaf 1's hypervisor bit, leaf
// 0x40000000's vendor signature). Bun cannot emit it, so we map one page, write a few bytes of x86-64 code
// into it, make it read+execute (never writable and executable at once) and call it through bun:ffi.
//
// x86-64 only: callers check process.arch first, as systemd compiles the stage out elsewhere. A kernel that
// refuses executable anonymous memory (SELinux execmem, PaX/grsecurity) makes cpuid() throw a SysError
// from mprotect; the caller then falls back to what the kernel tells it.

import { CFunction, FFIType, type Pointer } from "bun:ffi";
import { abi } from "./arch.ts";
import { fail } from "./errors.ts";
import { libc } from "./libc.ts";

// void cpuid(uint32_t leaf /* edi */, uint32_t subleaf /* esi */, uint32_t out[4] /* rdx */), SysV ABI.
// CPUID clobbers rbx, which the ABI says we must preserve, and rdx, hence the copy of `out` into r8.
const CODE = new Uint8Array([
  0x53, //                 push rbx
  0x49, 0x89, 0xd0, //     mov  r8, rdx
  0x89, 0xf8, //           mov  eax, edi
  0x89, 0xf1, //           mov  ecx, esi
  0x0f, 0xa2, //           cpuid
  0x41, 0x89, 0x00, //     mov  [r8], eax
  0x41, 0x89, 0x58, 0x04, // mov [r8+4], ebx
  0x41, 0x89, 0x48, 0x08, // mov [r8+8], ecx
  0x41, 0x89, 0x50, 0x0c, // mov [r8+12], edx
  0x5b, //                 pop  rbx
  0xc3, //                 ret
]);

const PAGE = 4096;
const { PROT_READ, PROT_WRITE, PROT_EXEC, MAP_PRIVATE, MAP_ANONYMOUS } = abi;

export interface CpuidRegisters {
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

type Call = (leaf: number, subleaf: number, out: Uint32Array) => void;

// Built once per process; the page of code stays mapped.
let call: Call | undefined;

function build(): Call {
  const page = libc.mmap(null, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) as Pointer | null;
  // MAP_FAILED is (void *)-1, which Bun hands back as a number no mapping can have.
  if (page === null || !(Number(page) > 0 && Number(page) < 2 ** 63)) fail("mmap");
  libc.memcpy(page, CODE, CODE.length);
  if (libc.mprotect(page, PAGE, PROT_READ | PROT_EXEC) !== 0) fail("mprotect");
  const fn = CFunction({ ptr: page, args: [FFIType.u32, FFIType.u32, FFIType.ptr], returns: FFIType.void });
  return (leaf, subleaf, out) => void fn(leaf, subleaf, out);
}

/** CPUID for `leaf` (and `subleaf`, ecx): its four output registers. Throws a SysError when it cannot run. */
export function cpuid(leaf: number, subleaf = 0): CpuidRegisters {
  if (process.arch !== "x64") throw new Error(`CPUID is an x86-64 instruction, not available on ${process.arch}`);
  call ??= build();
  const out = new Uint32Array(4);
  call(leaf >>> 0, subleaf >>> 0, out);
  return { eax: out[0]!, ebx: out[1]!, ecx: out[2]!, edx: out[3]! };
}

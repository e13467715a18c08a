// The CPUID instruction, which systemd's detect_vm_cpuid() executes (leaf 1's hypervisor bit, leaf
// 0x40000000's vendor signature). Bun cannot emit it, so we map two pages, write a few bytes of x86-64 code
// into the first, make that one read+execute (never writable and executable at once) and call it through
// bun:ffi; the second carries the leaf in and the registers out.
//
// x86-64 only: callers check process.arch first, as systemd compiles the stage out elsewhere. A kernel that
// refuses executable anonymous memory (SELinux execmem, PaX/grsecurity) makes cpuid() throw a SysError
// from mprotect; the caller then falls back to what the kernel tells it.

import { FFIType, linkSymbols, type Pointer } from "bun:ffi";
import { PROT_READ, PROT_WRITE, PROT_EXEC, MAP_PRIVATE, MAP_ANONYMOUS } from "./arch.ts";
import { fail } from "./errors.ts";
import { getU32, setU32 } from "./le-fields.ts";
import { libc } from "./libc.ts";

// void cpuid(void), SysV ABI, on the first of two pages; the second, which stays read-write, holds its
// input and output: leaf and subleaf at +0 and +4, eax, ebx, ecx and edx at +8 to +20. With no arguments,
// bun:ffi binds the code without the JavaScript wrapper it writes and compiles for a function that takes
// some (see ffi/libc.ts), and linkSymbols() without CFunction()'s FinalizationRegistry. CPUID clobbers rbx,
// which the ABI says we must preserve.
const CODE = new Uint8Array([
  0x53, //                                   push rbx
  0x4c, 0x8d, 0x05, 0xf8, 0x0f, 0x00, 0x00, // lea  r8, [rip + 0xff8]: the second page (this ends at 8)
  0x41, 0x8b, 0x00, //                       mov  eax, [r8]
  0x41, 0x8b, 0x48, 0x04, //                 mov  ecx, [r8+4]
  0x0f, 0xa2, //                             cpuid
  0x41, 0x89, 0x40, 0x08, //                 mov  [r8+8], eax
  0x41, 0x89, 0x58, 0x0c, //                 mov  [r8+12], ebx
  0x41, 0x89, 0x48, 0x10, //                 mov  [r8+16], ecx
  0x41, 0x89, 0x50, 0x14, //                 mov  [r8+20], edx
  0x5b, //                                   pop  rbx
  0xc3, //                                   ret
]);

const PAGE = 4096;

export interface CpuidRegisters {
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

interface Code {
  run: () => void;
  /** The data page. */
  data: Pointer;
}

// Built once per process; the pages stay mapped.
let code: Code | undefined;

function build(): Code {
  const page = libc.mmap(null, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) as Pointer | null;
  // MAP_FAILED is (void *)-1, which Bun hands back as a number no mapping can have.
  if (page === null || !(Number(page) > 0 && Number(page) < 2 ** 63)) fail("mmap");
  libc.memcpy(page, CODE, CODE.length);
  if (libc.mprotect(page, PAGE, PROT_READ | PROT_EXEC) !== 0) fail("mprotect");
  const { symbols } = linkSymbols({ cpuid: { ptr: page, args: [], returns: FFIType.void } });
  return { run: symbols.cpuid, data: (Number(page) + PAGE) as Pointer };
}

/** CPUID for `leaf` (and `subleaf`, ecx): its four output registers. Throws a SysError when it cannot run. */
export function cpuid(leaf: number, subleaf = 0): CpuidRegisters {
  if (process.arch !== "x64") throw new Error(`CPUID is an x86-64 instruction, not available on ${process.arch}`);
  code ??= build();
  const io = new Uint8Array(new ArrayBuffer(24));
  setU32(io, 0, leaf);
  setU32(io, 4, subleaf);
  libc.memcpy(code.data, io, 8);
  code.run();
  libc.memcpy(io, code.data, 24);
  return { eax: getU32(io, 8), ebx: getU32(io, 12), ecx: getU32(io, 16), edx: getU32(io, 20) };
}

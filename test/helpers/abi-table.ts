// ffi/arch.ts's values put together as one Abi table per architecture, for the tests that check each
// architecture against its C headers: the shared exports as they are, DIFFERENT's column for the other.

import * as arch from "../../ffi/arch.ts";
import type { Abi } from "../../ffi/arch.ts";

/** The architectures ffi/arch.ts knows, in process.arch's spelling and in DIFFERENT's column order. */
export type Arch = "x64" | "arm64";

export const ARCHES: readonly Arch[] = ["x64", "arm64"];

/** The table of `a`: every value ffi/arch.ts exports, DIFFERENT's fields taken from a's column. */
export function abiTable(a: Arch): Abi {
  const column = a === "x64" ? 0 : 1;
  const table: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(arch)) if (name !== "DIFFERENT") table[name] = value;
  for (const [name, pair] of Object.entries(arch.DIFFERENT)) table[name] = pair[column];
  return table as unknown as Abi;
}

/** The running architecture's table, as the binary sees it. */
export const runningAbi = (): Abi => abiTable(process.arch as Arch);

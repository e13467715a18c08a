// The libc symbols we call, bound through bun:ffi on first use, a few at a time.
//
// This file and its siblings in ffi/ are the only places that deal in pointers, struct layouts and errno.
// Everything exported from ffi/ takes and returns plain numbers, strings and Uint8Arrays.
//
// Pointer discipline: every buffer handed to libc is either passed directly as a call
// argument (Bun keeps it alive and pinned for the call) or lives inside such an argument's ArrayBuffer, so a
// pointer stored inside a struct can never outlive, or be moved away from, the memory it points to.

import * as ffi from "bun:ffi";
import { dlopen, read, type Pointer } from "bun:ffi";
// glibc's soname, then musl's: musl keeps everything in libc.so too, under a name that says the architecture.
import { libcNames as LIBC_CANDIDATES } from "./arch.ts";
import { GROUPS, type GroupName } from "./libc-symbols.ts";
// Which group binds which name, written into the bundle when it is built.
import { groupMembers } from "./libc-symbols.ts" with { type: "macro" };

type Groups = { [G in GroupName]: ReturnType<(typeof GROUPS)[G]> };
type Bound<G extends GroupName> = ReturnType<typeof dlopen<Groups[G]>>["symbols"];
type Lib = Bound<"core"> & Bound<"handOff"> & Bound<"files"> & Bound<"replace"> & Bound<"rest"> & Bound<"exec">;

// bun:ffi's dlopen() wraps every symbol that takes arguments in a JavaScript function that it writes and
// compiles at run time (new Function), to coerce each argument. The engine's own binding, which bun:ffi
// exports as native.dlopen, hands back the compiled trampolines themselves: measured, 2.7 ms less for the
// 26 symbols of scripts/bench's floor. The trampolines convert numbers themselves (test/ffi/libc.test.ts
// checks a fractional one), and every pointer we pass is a Uint8Array, a number or null, which they take as
// they are. Where a Bun has no native.dlopen, the wrapped one binds the same symbols.
const bindLibrary: typeof dlopen = (ffi as { native?: { dlopen?: typeof dlopen } }).native?.dlopen ?? dlopen;

let libcName: string | undefined;

function bind<G extends GroupName>(group: G): Bound<G> {
  const table = GROUPS[group]() as Groups[G];
  if (libcName !== undefined) return bindLibrary(libcName, table).symbols;
  let lastError: unknown;
  for (const name of LIBC_CANDIDATES) {
    try {
      const symbols = bindLibrary(name, table).symbols;
      libcName = name;
      return symbols;
    } catch (e) {
      lastError = e;
    }
  }
  throw new Error(`Failed to load libc: ${String(lastError)}`);
}

const MEMBERS: readonly (readonly [GroupName, string])[] = groupMembers();

/** The group that binds `name`, if any ("toString" and the like are no symbol's). */
function groupOf(name: string): GroupName | undefined {
  const word = ` ${name} `;
  for (let i = 0; i < MEMBERS.length; i++) if (MEMBERS[i]![1].includes(word)) return MEMBERS[i]![0];
  return undefined;
}

/**
 * The libc functions, bound a group at a time on first use. A bound function is an own property of this
 * object, so a call is a plain property read; a name not bound yet falls through to the prototype, a Proxy
 * whose get() binds that name's group onto the object. Nothing is done per symbol before its group is
 * needed: a getter per symbol, defined up front, cost the proxy and the generator about 0.1 ms at start.
 */
const lib: Lib = Object.create(
  new Proxy(
    {},
    {
      get(_, name) {
        const group = typeof name === "string" ? groupOf(name) : undefined;
        if (group === undefined) return undefined;
        const bound = bind(group) as Record<string, unknown>;
        for (const n in bound) Object.defineProperty(lib, n, { value: bound[n], enumerable: true });
        return bound[name as string];
      },
    },
  ),
);

/** The libc functions. A plain object, not a getter: a function called before every libc call is the first
 * one the engine would compile (see scripts/bench on why the generator's typical run must compile none). */
export const libc: Lib = lib;

/** errno of the calling thread; read it right after the failing call, before anything else can clobber it. */
export function errno(): number {
  const p = libc.__errno_location() as Pointer | null;
  return p === null ? 0 : read.i32(p, 0);
}

// Path arguments as the bytes libc gets. Paths are byte strings (src/shared/raw-bytes.ts): one character
// per byte, so a name in any encoding reaches the kernel exactly as it was given. A string with a character
// past U+00FF cannot be one: it is text, and goes as its UTF-8. A Uint8Array is the bytes themselves.

export type PathArg = string | Uint8Array;

/** The one TextEncoder of ffi/ and the tools (each instance is a cell the engine allocates at load). */
export const encoder = new TextEncoder();

/** The bytes of a path, not NUL-terminated. */
export function pathBytes(p: PathArg): Uint8Array {
  if (typeof p !== "string") return p;
  const utf8 = encoder.encode(p);
  // Every character past U+007F takes more than one byte in UTF-8: equal lengths mean ASCII.
  if (utf8.length === p.length) return utf8;
  for (let i = 0; i < p.length; i++) if (p.charCodeAt(i) > 0xff) return utf8;
  const out = new Uint8Array(new ArrayBuffer(p.length));
  for (let i = 0; i < p.length; i++) out[i] = p.charCodeAt(i);
  return out;
}

/** A NUL-terminated copy of a path, for passing (directly, as the call argument) as a `const char *`. */
export function cPath(p: PathArg): Uint8Array<ArrayBuffer> {
  const bytes = pathBytes(p);
  const c = new Uint8Array(new ArrayBuffer(bytes.length + 1));
  c.set(bytes);
  return c;
}

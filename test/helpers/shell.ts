// Shell words for tests that must pass bytes Bun cannot put in argv (Bun encodes argv strings as UTF-8).

/** The bytes of a byte string as printf(1) octal escapes: `"$(printf '...')"` gives them back exactly. */
export function printfArg(s: string): string {
  let o = "";
  for (let i = 0; i < s.length; i++) o += `\\${s.charCodeAt(i).toString(8).padStart(3, "0")}`;
  return o;
}

/** A single-quoted shell word. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

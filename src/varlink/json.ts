// JSON as systemd's sd-json reads it, for varlink replies. JSON.parse() is not enough to answer like
// systemd does: sd-json keeps integers apart from reals (a CID of 3.5 is refused, 3.0 is accepted),
// keeps 64-bit integers exact, keeps duplicate keys (its dispatcher refuses a duplicated field with
// ENOTUNIQ), refuses raw control characters and DEL in strings, \u0000, lone surrogates and invalid UTF-8,
// and nests at most 2048 containers deep (ELNRNG beyond). Syntax errors are EINVAL, an empty message
// ENODATA, as with sd_json_parse().

import { Errno } from "../../ffi/errno.ts";

/** A number with the type sd-json gives it: "unsigned" (0..2^64-1), "integer" (negative, >= -2^63), else "real". */
export class JsonNumber {
  constructor(
    readonly kind: "unsigned" | "integer" | "real",
    /** Exact for unsigned and integer; a double for real. */
    readonly value: bigint | number,
  ) {}

  /**
   * The value as an unsigned 64-bit integer when sd_json_variant_has_type(v, SD_JSON_VARIANT_UNSIGNED)
   * holds: unsigned numbers, and reals that are whole and in range (3.0, 1e2, -0.0). Else null.
   */
  asUnsigned(): bigint | null {
    if (this.kind === "unsigned") return this.value as bigint;
    if (this.kind === "integer") return null;
    const r = this.value as number;
    if (Object.is(r, -0)) return 0n;
    return Number.isInteger(r) && r >= 0 && r < 2 ** 64 ? BigInt(r) : null;
  }

  /** The value as a signed 64-bit integer when sd-json counts it as an integer (reals only when whole and in range). */
  asInteger(): bigint | null {
    if (this.kind === "integer") return this.value as bigint;
    if (this.kind === "unsigned") return (this.value as bigint) <= 2n ** 63n - 1n ? (this.value as bigint) : null;
    const r = this.value as number;
    if (Object.is(r, -0)) return 0n;
    return Number.isInteger(r) && r >= -(2 ** 63) && r < 2 ** 63 ? BigInt(r) : null;
  }
}

/** An object with its members in order, duplicates kept. */
export class JsonObject {
  constructor(readonly entries: [string, JsonValue][] = []) {}

  /** The first member named `key` (what sd_json_variant_by_key() returns), or undefined. */
  get(key: string): JsonValue | undefined {
    for (const [k, v] of this.entries) if (k === key) return v;
    return undefined;
  }

  has(key: string): boolean {
    return this.entries.some(([k]) => k === key);
  }
}

type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | JsonObject;

/** A parse failure, with the errno sd_json_parse() returns for it. */
export class JsonParseError extends Error {
  override readonly name = "JsonParseError";
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(message);
  }
}

const JSON_DEPTH_MAX = 2048;

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;
const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;

class Parser {
  pos = 0;
  constructor(readonly s: string) {}

  fail(what: string): never {
    throw new JsonParseError(Errno.EINVAL, `${what} at offset ${this.pos}`);
  }

  ws(): void {
    const s = this.s;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      this.pos++;
    }
  }

  value(depth: number): JsonValue {
    this.ws();
    const c = this.s[this.pos];
    switch (c) {
      case "{":
        return this.object(depth + 1);
      case "[":
        return this.array(depth + 1);
      case '"':
        return this.string();
      case "t":
        return this.literal("true", true);
      case "f":
        return this.literal("false", false);
      case "n":
        return this.literal("null", null);
      default:
        if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) return this.number();
        return this.fail("unexpected character");
    }
  }

  enter(depth: number): void {
    if (depth > JSON_DEPTH_MAX) throw new JsonParseError(Errno.ELNRNG, `nested deeper than ${JSON_DEPTH_MAX}`);
  }

  object(depth: number): JsonObject {
    this.enter(depth);
    this.pos++;
    const obj = new JsonObject();
    this.ws();
    if (this.s[this.pos] === "}") {
      this.pos++;
      return obj;
    }
    for (;;) {
      this.ws();
      if (this.s[this.pos] !== '"') this.fail("expected a string key");
      const key = this.string();
      this.ws();
      if (this.s[this.pos] !== ":") this.fail("expected ':'");
      this.pos++;
      obj.entries.push([key, this.value(depth)]);
      this.ws();
      const c = this.s[this.pos++];
      if (c === "}") return obj;
      if (c !== ",") this.fail("expected ',' or '}'");
    }
  }

  array(depth: number): JsonValue[] {
    this.enter(depth);
    this.pos++;
    const arr: JsonValue[] = [];
    this.ws();
    if (this.s[this.pos] === "]") {
      this.pos++;
      return arr;
    }
    for (;;) {
      arr.push(this.value(depth));
      this.ws();
      const c = this.s[this.pos++];
      if (c === "]") return arr;
      if (c !== ",") this.fail("expected ',' or ']'");
    }
  }

  literal<T>(word: string, v: T): T {
    if (!this.s.startsWith(word, this.pos)) this.fail("invalid literal");
    this.pos += word.length;
    return v;
  }

  number(): JsonNumber {
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.s);
    if (!m) return this.fail("invalid number");
    const text = m[0];
    this.pos += text.length;
    // "01" and "1.": the regex stops early; what follows must end the number.
    const next = this.s[this.pos];
    if (next !== undefined && /[0-9.eE+-]/.test(next)) this.fail("invalid number");
    if (m[1] === undefined && m[2] === undefined) {
      const n = BigInt(text);
      if (n < 0n) return n >= INT64_MIN ? new JsonNumber("integer", n) : new JsonNumber("real", Number(text));
      return n <= UINT64_MAX ? new JsonNumber("unsigned", n) : new JsonNumber("real", Number(text));
    }
    return new JsonNumber("real", Number(text));
  }

  string(): string {
    const s = this.s;
    this.pos++; // opening quote
    let out = "";
    let start = this.pos;
    for (;;) {
      if (this.pos >= s.length) this.fail("unterminated string");
      const c = s.charCodeAt(this.pos);
      if (c === 0x22) {
        out += s.slice(start, this.pos);
        this.pos++;
        return out;
      }
      if (c < 0x20 || c === 0x7f) this.fail("control character in string");
      if (c >= 0xd800 && c <= 0xdfff) {
        // Only a well-formed pair can get here (the bytes were valid UTF-8); keep it.
        this.pos++;
        continue;
      }
      if (c !== 0x5c) {
        this.pos++;
        continue;
      }
      out += s.slice(start, this.pos);
      const e = s[this.pos + 1];
      this.pos += 2;
      switch (e) {
        case '"':
          out += '"';
          break;
        case "\\":
          out += "\\";
          break;
        case "/":
          out += "/";
          break;
        case "b":
          out += "\b";
          break;
        case "f":
          out += "\f";
          break;
        case "n":
          out += "\n";
          break;
        case "r":
          out += "\r";
          break;
        case "t":
          out += "\t";
          break;
        case "u": {
          const hi = this.hex4();
          if (hi === 0) this.fail("\\u0000 in string");
          if (hi >= 0xdc00 && hi <= 0xdfff) this.fail("lone low surrogate");
          if (hi >= 0xd800 && hi <= 0xdbff) {
            if (s[this.pos] !== "\\" || s[this.pos + 1] !== "u") this.fail("lone high surrogate");
            this.pos += 2;
            const lo = this.hex4();
            if (lo < 0xdc00 || lo > 0xdfff) this.fail("invalid surrogate pair");
            out += String.fromCharCode(hi, lo);
          } else {
            out += String.fromCharCode(hi);
          }
          break;
        }
        default:
          this.fail("invalid escape");
      }
      start = this.pos;
    }
  }

  hex4(): number {
    const h = this.s.slice(this.pos, this.pos + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) this.fail("invalid \\u escape");
    this.pos += 4;
    return parseInt(h, 16);
  }
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Parse one JSON document (a varlink message without its NUL). Throws JsonParseError. */
export function parseJson(bytes: Uint8Array | string): JsonValue {
  let text: string;
  if (typeof bytes === "string") text = bytes;
  else {
    try {
      text = strictUtf8.decode(bytes);
    } catch {
      throw new JsonParseError(Errno.EINVAL, "invalid UTF-8");
    }
  }
  const p = new Parser(text);
  p.ws();
  if (p.pos >= text.length) throw new JsonParseError(Errno.ENODATA, "empty message");
  const v = p.value(0);
  p.ws();
  if (p.pos !== text.length) p.fail("trailing data");
  return v;
}

/** A plain JavaScript rendering (numbers become numbers, or bigint strings beyond 2^53), for display and tests. */
export function toPlain(v: JsonValue): unknown {
  if (v instanceof JsonNumber) {
    if (typeof v.value === "number") return v.value;
    return v.value >= -(2n ** 53n) && v.value <= 2n ** 53n ? Number(v.value) : v.value.toString();
  }
  if (v instanceof JsonObject) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of v.entries) if (!Object.hasOwn(o, k)) o[k] = toPlain(x);
    return o;
  }
  if (Array.isArray(v)) return v.map(toPlain);
  return v;
}

// Unsigned integer parsing with the exact rules of systemd's safe_atou() family (src/basic/parse-util.c),
// because the tools must accept and refuse the same inputs as systemd: leading whitespace is skipped,
// base 0 means C's prefixes (0x hex, 0 octal) plus Python's 0b/0o, a sign is allowed but a negative
// non-zero value is out of range, and nothing may trail the number.

import { WHITESPACE } from "./c-limits.ts";

// strtoul() additionally skips \v and \f (isspace() in the C locale).
const C_SPACE = " \t\n\v\f\r";

export type ParseResult = { ok: true; value: number } | { ok: false; error: "EINVAL" | "ERANGE" };

const EINVAL: ParseResult = { ok: false, error: "EINVAL" };
const ERANGE: ParseResult = { ok: false, error: "ERANGE" };

function digitValue(c: string): number {
  const code = c.charCodeAt(0);
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 122) return code - 87;
  if (code >= 65 && code <= 90) return code - 55;
  return 99;
}

/**
 * C's strtoul(s, &end, base) over unsigned long (64 bit): returns the value (as a BigInt, modulo 2^64 for
 * negative input, saturated on overflow), where parsing stopped, and whether it overflowed.
 */
function strtoul(s: string, base: number): { value: bigint; end: number; overflow: boolean } {
  let i = 0;
  while (i < s.length && C_SPACE.includes(s[i]!)) i++;
  let negative = false;
  if (s[i] === "+" || s[i] === "-") {
    negative = s[i] === "-";
    i++;
  }
  // A "0x" prefix counts only when a hex digit follows; otherwise strtoul parses the "0" alone.
  if ((base === 0 || base === 16) && s[i] === "0" && (s[i + 1] === "x" || s[i + 1] === "X") && digitValue(s[i + 2] ?? "") < 16) {
    i += 2;
    base = 16;
  } else if (base === 0) {
    base = s[i] === "0" ? 8 : 10;
  }
  const start = i;
  let value = 0n;
  let overflow = false;
  const max = (1n << 64n) - 1n;
  const b = BigInt(base);
  while (i < s.length) {
    const d = digitValue(s[i]!);
    if (d >= base) break;
    value = value * b + BigInt(d);
    if (value > max) overflow = true;
    i++;
  }
  if (i === start) return { value: 0n, end: 0, overflow: false }; // no digits: end points at the start
  if (overflow) value = max;
  else if (negative) value = (max + 1n - value) & max;
  return { value, end: i, overflow };
}

export interface AtouOptions {
  /** An explicit base (2..16); 0, the default, means "detect from the prefix" as safe_atou() does. */
  base?: number;
  /** Bits of the result type: 32 for unsigned, 16 for uint16_t, 64 for uint64_t. */
  bits?: 8 | 16 | 32 | 64;
}

/**
 * Whether `s` is a plain decimal number of at most 15 digits without a leading zero (which base 0 reads as
 * octal): every port and CID the tools usually see, parsed exactly by Number() without strtoul()'s 64-bit
 * walk, whose BigInt arithmetic costs more to start than the parse.
 */
function isPlainDecimal(s: string): boolean {
  return s.length <= 15 && isDigits(s) && (s.length === 1 || s[0] !== "0");
}

/** /^[0-9]+$/: one or more ASCII digits, and nothing else. */
export function isDigits(s: string): boolean {
  if (s === "") return false;
  for (let i = 0; i < s.length; i++) if (s[i]! < "0" || s[i]! > "9") return false;
  return true;
}

/** safe_atou()/safe_atou16()/safe_atou64() semantics, returning a number (exact for up to 53 bits). */
export function safeAtou(input: string, opts: AtouOptions = {}): ParseResult {
  const bits = opts.bits ?? 32;
  let base = opts.base ?? 0;
  if ((base === 0 || base === 10) && isPlainDecimal(input)) {
    const value = Number(input);
    return bits < 64 && value >= 2 ** bits ? ERANGE : { ok: true, value };
  }
  let s = input;
  let i = 0;
  while (i < s.length && WHITESPACE.includes(s[i]!)) i++;
  s = s.slice(i);
  if (base === 0) {
    // mangle_base(): Python-style 0b and 0o prefixes.
    const p = s.slice(0, 2);
    if (p === "0b" || p === "0B") {
      base = 2;
      s = s.slice(2);
    } else if (p === "0o" || p === "0O") {
      base = 8;
      s = s.slice(2);
    }
  }
  // What cannot start a number (socket_address_parse() tries "[::1]:22" and the like as a port first)
  // fails here, without strtoul()'s BigInt arithmetic: strtoul() would read no digit either. It skips
  // C's white space (" \t\n\v\f\r", all below "!") and takes a sign; letters are digits only above base 10.
  const c = s.charCodeAt(0);
  if (c > 0x20 && !(c >= 0x30 && c <= 0x39) && c !== 0x2b && c !== 0x2d && base <= 10) return EINVAL;
  const r = strtoul(s, base);
  if (r.overflow) return ERANGE;
  if (r.end === 0 || r.end !== s.length) return EINVAL;
  if (r.value !== 0n && s[0] === "-") return ERANGE;
  if (bits < 64 && r.value >= 1n << BigInt(bits)) return ERANGE;
  return { ok: true, value: Number(r.value) };
}

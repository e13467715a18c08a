import { describe, expect, test } from "bun:test";
import { JsonNumber, JsonObject, JsonParseError, parseJson, toPlain } from "../../src/varlink/json.ts";

const errnoOf = (text: string | Uint8Array): number | "ok" => {
  try {
    parseJson(text);
    return "ok";
  } catch (e) {
    if (e instanceof JsonParseError) return e.errno;
    throw e;
  }
};
const EINVAL = 22;

describe("parseJson (sd-json's rules)", () => {
  test("values and member order", () => {
    const v = parseJson(' {"a":1,"b":[true,false,null,"x"],"c":{"d":-2.5}} ');
    expect(v).toBeInstanceOf(JsonObject);
    expect(toPlain(v)).toEqual({ a: 1, b: [true, false, null, "x"], c: { d: -2.5 } });
    expect((v as JsonObject).entries.map(([k]) => k)).toEqual(["a", "b", "c"]);
  });

  test("numbers keep sd-json's kinds and exact 64-bit values", () => {
    const num = (s: string) => parseJson(s) as JsonNumber;
    expect(num("18446744073709551615")).toEqual(new JsonNumber("unsigned", 18446744073709551615n));
    expect(num("18446744073709551616").kind).toBe("real");
    expect(num("-9223372036854775808")).toEqual(new JsonNumber("integer", -9223372036854775808n));
    expect(num("-9223372036854775809").kind).toBe("real");
    expect(num("3.0").kind).toBe("real");
    // Whole reals count as unsigned (sd_json_variant_has_type), others do not.
    expect(num("3.0").asUnsigned()).toBe(3n);
    expect(num("1e2").asUnsigned()).toBe(100n);
    expect(num("-0.0").asUnsigned()).toBe(0n);
    expect(num("3.5").asUnsigned()).toBeNull();
    expect(num("-3").asUnsigned()).toBeNull();
    expect(num("1e400").asUnsigned()).toBeNull();
    expect(num("13.0").asInteger()).toBe(13n);
    expect(num("9223372036854775808").asInteger()).toBeNull();
  });

  test("duplicate keys are kept; get() returns the first", () => {
    const o = parseJson('{"a":1,"a":2}') as JsonObject;
    expect(o.entries.length).toBe(2);
    expect(toPlain(o.get("a")!)).toBe(1);
  });

  test("strings: escapes and surrogate pairs", () => {
    expect(parseJson('"a\\/b\\n\\u00e9\\ud83d\\ude00"')).toBe("a/b\né😀");
  });

  test.each([
    ["01"], ["-01"], ["1."], [".5"], ["1e"], ["+1"], ["NaN"], ["tru"], ["{'a':1}"], ['{"a":1,}'], ["[1,]"],
    ['{"a":1} {}'], ['{"a":1} // c'], ['{1:2}'], ['"\\u0000"'], ['"\\ud83d"'], ['"\\ude00"'], ['"\\q"'],
    ['"a\tb"'], ['"a\x7fb"'], ['"abc'],
  ])("refuses %j with EINVAL", (text) => {
    expect(errnoOf(text)).toBe(EINVAL);
  });

  test("invalid UTF-8 is EINVAL", () => {
    expect(errnoOf(new Uint8Array([0x22, 0xff, 0x22]))).toBe(EINVAL);
  });

  test("an empty message is ENODATA", () => {
    expect(errnoOf("")).toBe(61);
    expect(errnoOf("  ")).toBe(61);
  });

  test("nesting: 2048 containers are fine, 2049 are ELNRNG", () => {
    expect(errnoOf(`${"[".repeat(2048)}${"]".repeat(2048)}`)).toBe("ok");
    expect(errnoOf(`${"[".repeat(2049)}${"]".repeat(2049)}`)).toBe(48);
    expect(errnoOf(`${'{"a":'.repeat(2049)}1${"}".repeat(2049)}`)).toBe(48);
  });
});

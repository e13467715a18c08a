// XPath over an XML document, through libxml2: how the libvirt lookup reads a domain's vsock CID.
//
// Why libxml2 and not an npm parser: libvirt.so.0 links libxml2 itself, so on every host where the qemu/
// lookup can run at all, libxml2 is already installed and (once libvirt is loaded) already mapped; it
// is the parser libvirt writes its XML for and the one libvirt-ssh-proxy reads the CID with, and it
// adds nothing to our bundle or our dependency list. Loaded only by that lookup.
//
// Only two kinds of XPath result are read, both through libxml2's own string/number conversions: a
// count() (a number) and a string(); so the only layout we touch is xmlXPathObject's first fields.

import { CString, dlopen, FFIType, read, type Pointer } from "bun:ffi";

const { i32, ptr, f64, void: none } = FFIType;

// libxml2 2.14 changed its soname; libvirt links whichever the distribution ships.
const CANDIDATES = ["libxml2.so.2", "libxml2.so.16"];

const symbols = {
  xmlReadMemory: { args: [ptr, i32, ptr, ptr, i32], returns: ptr },
  xmlFreeDoc: { args: [ptr], returns: none },
  xmlXPathNewContext: { args: [ptr], returns: ptr },
  xmlXPathFreeContext: { args: [ptr], returns: none },
  xmlXPathEvalExpression: { args: [ptr, ptr], returns: ptr },
  xmlXPathFreeObject: { args: [ptr], returns: none },
} as const;

type Lib = ReturnType<typeof dlopen<typeof symbols>>["symbols"];
let lib: Lib | undefined;

function libxml2(): Lib {
  if (lib) return lib;
  let last: unknown;
  for (const name of CANDIDATES) {
    try {
      return (lib = dlopen(name, symbols).symbols);
    } catch (e) {
      last = e;
    }
  }
  throw new Error(`Failed to load libxml2: ${String(last)}`);
}

// XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NONET: no messages on stderr, no network.
const PARSE_OPTIONS = (1 << 5) | (1 << 6) | (1 << 11);

// struct _xmlXPathObject on LP64 (x86-64, aarch64): int type; xmlNodeSetPtr nodesetval; int boolval;
// double floatval; xmlChar *stringval; ...
const XPATH_NUMBER = 3;
const XPATH_STRING = 4;
const OFF_TYPE = 0;
const OFF_FLOATVAL = 24;
const OFF_STRINGVAL = 32;

const cstr = (s: string) => Buffer.from(`${s}\0`, "utf8");

/** Evaluate `expr` in `ctx`; the value as a number or string, per the result's type; null for another type. */
function evaluate(ctx: Pointer, expr: string): number | string | null {
  const x = libxml2();
  const obj = x.xmlXPathEvalExpression(cstr(expr), ctx) as Pointer | null;
  if (obj === null) throw new Error(`XPath expression failed: ${expr}`);
  try {
    const type = read.i32(obj, OFF_TYPE);
    if (type === XPATH_NUMBER) return read.f64(obj, OFF_FLOATVAL);
    if (type === XPATH_STRING) {
      const s = read.ptr(obj, OFF_STRINGVAL) as Pointer | 0;
      return s ? String(new CString(s)) : "";
    }
    return null;
  } finally {
    x.xmlXPathFreeObject(obj);
  }
}

/**
 * The string values of the nodes `path` selects (an XPath location path), in document order; null when
 * `xml` is not a well-formed document.
 */
export function xpathStrings(xml: string, path: string): string[] | null {
  const x = libxml2();
  const bytes = Buffer.from(xml, "utf8");
  const doc = x.xmlReadMemory(bytes, bytes.length, null, cstr("UTF-8"), PARSE_OPTIONS) as Pointer | null;
  if (doc === null) return null;
  try {
    const ctx = x.xmlXPathNewContext(doc) as Pointer | null;
    if (ctx === null) throw new Error("xmlXPathNewContext failed");
    try {
      const n = evaluate(ctx, `count(${path})`);
      const out: string[] = [];
      for (let i = 1; typeof n === "number" && i <= n; i++) {
        const v = evaluate(ctx, `string((${path})[${i}])`);
        out.push(typeof v === "string" ? v : "");
      }
      return out;
    } finally {
      x.xmlXPathFreeContext(ctx);
    }
  } finally {
    x.xmlFreeDoc(doc);
  }
}

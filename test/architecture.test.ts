// docs/architecture.md's rules, checked on the code: every import, require() and import() of every .ts
// under src/ and ffi/ (type-only ones too) goes down the floors, never up, never into another tool, never
// in a circle; and every export is used by another module of src/ or ffi/ (tests do not count).
// The checks run on the real tree, and once each on planted trees, to show that they can fail.

import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { REPO } from "./helpers/tmp.ts";

/** Module path (relative to the repository, "/"-separated) → its source. */
type Sources = Map<string, string>;

interface Import {
  /** The module imported (a key of Sources), or null for a package or a file that is not a module here. */
  target: string | null;
  specifier: string;
  /** The names taken; null when the whole module is (`import * as`, `import()`, `require()`, `export *`). */
  names: string[] | null;
}

interface Module {
  imports: Import[];
  exports: string[];
  /** The exported types (interfaces and aliases), each with the identifiers of every export that names it. */
  typeUsers: Map<string, Set<string>>;
  /** Every identifier in the file, for the names a whole-module import may use. */
  identifiers: Set<string>;
  /** How often each identifier appears in the module (an export's own declaration counts once). */
  counts: Map<string, number>;
}

function sourcesUnder(...dirs: string[]): Sources {
  const out: Sources = new Map();
  const walk = (dir: string) => {
    for (const e of readdirSync(join(REPO, dir), { withFileTypes: true })) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(path);
      else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) out.set(path, readFileSync(join(REPO, path), "utf8"));
    }
  };
  for (const d of dirs) walk(d);
  return out;
}

function resolveSpecifier(from: string, specifier: string, sources: Sources): string | null {
  if (!specifier.startsWith(".")) return null;
  const base = relative(REPO, resolve(REPO, dirname(from), specifier));
  for (const candidate of [base, `${base}.ts`, `${base}/index.ts`]) if (sources.has(candidate)) return candidate;
  return null;
}

const exported = (node: ts.Node): boolean =>
  ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);

function parseModule(path: string, text: string, sources: Sources): Module {
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const imports: Import[] = [];
  const exports: string[] = [];
  const identifiers = new Set<string>();
  const counts = new Map<string, number>();
  const declared = new Map<string, Set<string>>(); // export → the identifiers its declaration names
  const types = new Set<string>();
  const namesIn = (node: ts.Node): Set<string> => {
    const names = new Set<string>();
    const walk = (n: ts.Node): void => {
      if (ts.isIdentifier(n)) names.add(n.text);
      ts.forEachChild(n, walk);
    };
    walk(node);
    return names;
  };
  const add = (specifier: string, names: string[] | null) =>
    imports.push({ target: resolveSpecifier(path, specifier, sources), specifier, names });
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node)) identifiers.add(node.text), counts.set(node.text, (counts.get(node.text) ?? 0) + 1);
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const bindings = clause?.namedBindings;
      if (bindings && ts.isNamespaceImport(bindings)) add(node.moduleSpecifier.text, null);
      else {
        const names = bindings ? bindings.elements.map((e) => (e.propertyName ?? e.name).text) : [];
        if (clause?.name) names.push("default");
        add(node.moduleSpecifier.text, names);
      }
    } else if (ts.isExportDeclaration(node)) {
      const clause = node.exportClause;
      const names = clause && ts.isNamedExports(clause) ? clause.elements : null;
      if (node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
        add(node.moduleSpecifier.text, names ? names.map((e) => (e.propertyName ?? e.name).text) : null);
      }
      for (const e of names ?? []) exports.push(e.name.text);
    } else if (ts.isCallExpression(node) && node.arguments.length === 1 && ts.isStringLiteralLike(node.arguments[0]!)) {
      const callee = node.expression;
      if (callee.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(callee) && callee.text === "require")) {
        add((node.arguments[0] as ts.StringLiteralLike).text, null);
      }
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      add(node.argument.literal.text, null);
    } else if (ts.isExportAssignment(node)) {
      exports.push("default");
    }
    if (node.parent === file && exported(node)) {
      if (ts.isVariableStatement(node)) {
        for (const d of node.declarationList.declarations) {
          if (ts.isIdentifier(d.name)) exports.push(d.name.text), declared.set(d.name.text, namesIn(d));
        }
      } else if ((ts.isFunctionDeclaration(node) || ts.isClassDeclaration(node) || ts.isInterfaceDeclaration(node) ||
        ts.isTypeAliasDeclaration(node) || ts.isEnumDeclaration(node) || ts.isModuleDeclaration(node)) && node.name) {
        exports.push(node.name.text);
        declared.set(node.name.text, namesIn(node));
        if (ts.isInterfaceDeclaration(node) || ts.isTypeAliasDeclaration(node)) types.add(node.name.text);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  const typeUsers = new Map([...types].map((t) => [t, new Set([...declared].filter(([e, names]) => e !== t && names.has(t)).map(([e]) => e))]));
  return { imports, exports, identifiers, counts, typeUsers };
}

function parseAll(sources: Sources): Map<string, Module> {
  return new Map([...sources].map(([path, text]) => [path, parseModule(path, text, sources)]));
}

/** Every import cycle, each as a path ("a -> b -> a") that starts and ends at the same module. */
function cycles(modules: Map<string, Module>): string[] {
  const found = new Set<string>();
  const seen = new Set<string>();
  const onPath: string[] = [];
  const visit = (m: string) => {
    const at = onPath.indexOf(m);
    if (at >= 0) return void found.add([...onPath.slice(at), m].join(" -> "));
    if (seen.has(m)) return;
    seen.add(m);
    onPath.push(m);
    for (const i of modules.get(m)!.imports) if (i.target) visit(i.target);
    onPath.pop();
  };
  for (const m of [...modules.keys()].sort()) visit(m);
  return [...found];
}

const TOOLS = ["proxy", "generator", "issue", "install"];

/** A module's floor (docs/architecture.md) and, for a tool, which one. */
function floorOf(path: string): { floor: number; folder: string } {
  if (path.startsWith("ffi/")) return { floor: 0, folder: "ffi" };
  const parts = path.split("/");
  if (parts.length === 2) {
    // src/main.ts and src/tools.ts are the entry point; src/version.ts is a fact about the build, below every tool.
    return parts[1] === "main.ts" || parts[1] === "tools.ts" ? { floor: 4, folder: "entry" } : { floor: 1, folder: "shared" };
  }
  const folder = parts[1]!;
  if (folder === "cli") return { floor: 3, folder };
  if (TOOLS.includes(folder)) return { floor: 2, folder };
  return { floor: 1, folder: "shared" };
}

/** Imports that break the floors: each as "from -> to". */
function floorViolations(modules: Map<string, Module>): string[] {
  const bad: string[] = [];
  for (const [from, m] of modules) {
    const f = floorOf(from);
    for (const i of m.imports) {
      if (i.target === null) {
        if (i.specifier.startsWith(".") && from.startsWith("ffi/") && resolve(REPO, dirname(from), i.specifier).startsWith(join(REPO, "src"))) {
          bad.push(`${from} -> ${i.specifier}`);
        }
        continue;
      }
      const t = floorOf(i.target);
      if (t.floor > f.floor || (t.floor === f.floor && t.folder !== f.folder && f.floor === 2)) bad.push(`${from} -> ${i.target}`);
    }
  }
  return bad.sort();
}

/** "module: name" for every export of `modules` that a module of `users` other than its own takes. */
function usedExports(modules: Map<string, Module>, users: Map<string, Module>): Set<string> {
  const used = new Set<string>();
  for (const [from, m] of users) {
    for (const i of m.imports) {
      const target = i.target === null ? undefined : modules.get(i.target);
      if (!target || i.target === from) continue;
      const names = i.names ?? target.exports.filter((n) => m.identifiers.has(n));
      for (const n of names) used.add(`${i.target}: ${n}`);
    }
  }
  return used;
}

/** `used`, with every exported type that a used export of its module names (its parameters, its fields). */
function withSignatureTypes(modules: Map<string, Module>, used: Set<string>): Set<string> {
  const all = new Set(used);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [path, m] of modules) {
      for (const [t, users] of m.typeUsers) {
        if (all.has(`${path}: ${t}`) || ![...users].some((u) => all.has(`${path}: ${u}`))) continue;
        all.add(`${path}: ${t}`);
        grew = true;
      }
    }
  }
  return all;
}

/**
 * Exports that no other module of src/ or ffi/ uses, each as "module: name", marked when tests use them.
 * A module imported whole (`import * as`, `import()`, `require()`) uses the names that appear in its text.
 * An exported type that a used export of its module names is used: callers (and tests building effects)
 * name it. A module of ffi/ named for tests (ffi/test-*.ts) may serve tests only.
 */
function deadExports(modules: Map<string, Module>, tests: Map<string, Module> = new Map()): string[] {
  const byTests = usedExports(modules, tests);
  const forTests = [...byTests].filter((key) => /^ffi\/test-[^/:]*\.ts:/.test(key));
  const used = withSignatureTypes(modules, new Set([...usedExports(modules, modules), ...ALLOWED_UNUSED, ...forTests]));
  const dead: string[] = [];
  for (const [path, m] of modules) {
    for (const n of m.exports) {
      const key = `${path}: ${n}`;
      if (used.has(key) || ALLOWED_UNUSED.has(key)) continue;
      // A module's own working part, exported so that its tests can reach it directly, runs in the binary:
      // not dead. What only tests run is.
      const runsInModule = (m.counts.get(n) ?? 0) > 1;
      if (byTests.has(key) && runsInModule) continue;
      dead.push(byTests.has(key) ? `${key} (tests only)` : key);
    }
  }
  return dead.sort();
}

/** Exports with no importer in src/ or ffi/, each for a reason. */
const ALLOWED_UNUSED = new Set([
  // The entry point: the build compiles it, nothing imports it.
  "src/main.ts: main",
]);

const modules = parseAll(sourcesUnder("src", "ffi"));
const tests = (() => {
  const all = sourcesUnder("src", "ffi", "test");
  return new Map([...all].filter(([p]) => p.startsWith("test/")).map(([p, text]) => [p, parseModule(p, text, all)]));
})();

describe("docs/architecture.md's floors", () => {
  test("no import cycles", () => {
    expect(cycles(modules)).toEqual([]);
  });
  test("imports go down the floors only; a tool imports no other tool; ffi/ nothing from src/", () => {
    expect(floorViolations(modules)).toEqual([]);
  });
  test("every export is used by another module of src/ or ffi/", () => {
    expect(deadExports(modules, tests)).toEqual([]);
  });
});

/**
 * The entry point's static imports of a tool's main.ts (src/tools.ts and src/main.ts must import each
 * lazily): a static one would put that tool into every other tool's start (scripts/bundle.ts).
 */
function eagerTools(path: string, text: string): string[] {
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  for (const node of file.statements) {
    if (!ts.isImportDeclaration(node) || !ts.isStringLiteral(node.moduleSpecifier) || node.importClause?.isTypeOnly) continue;
    if (/^\.\/(proxy|generator|issue|cli)\/main\.ts$/.test(node.moduleSpecifier.text)) found.push(`${path}: ${node.moduleSpecifier.text}`);
  }
  return found;
}

test("the entry point loads every tool lazily (and the check sees a static import)", () => {
  for (const path of ["src/main.ts", "src/tools.ts"]) expect(eagerTools(path, readFileSync(join(REPO, path), "utf8"))).toEqual([]);
  const planted = 'import type { X } from "./issue/main.ts";\nimport { main } from "./proxy/main.ts";\nconst g = () => import("./generator/main.ts");';
  expect(eagerTools("src/tools.ts", planted)).toEqual(["src/tools.ts: ./proxy/main.ts"]);
});

describe("the checks find what they look for (planted trees)", () => {
  /** The modules of `files`, their imports resolved among `files` and `others`. */
  const planted = (files: Record<string, string>, others: Record<string, string> = {}) => {
    const all: Sources = new Map(Object.entries({ ...others, ...files }));
    return new Map(Object.entries(files).map(([p, text]) => [p, parseModule(p, text, all)]));
  };
  test("a cycle, with its path, through import(), require() and type-only imports too", () => {
    const m = planted({
      "src/proxy/a.ts": 'import { b } from "./b.ts";\nexport const a = b;',
      "src/proxy/b.ts": 'export const b = async () => (await import("./c.ts")).c;',
      "src/proxy/c.ts": 'import type { a } from "./a";\nexport const c = 1 as unknown as typeof a;',
      "src/proxy/d.ts": 'export const d = (require("./d.ts") as typeof import("./d.ts")).d;',
    });
    expect(cycles(m)).toEqual([
      "src/proxy/a.ts -> src/proxy/b.ts -> src/proxy/c.ts -> src/proxy/a.ts",
      "src/proxy/d.ts -> src/proxy/d.ts",
    ]);
  });
  test("imports up a floor, across tools, and from ffi/ into src/", () => {
    const m = planted({
      "ffi/x.ts": 'import { s } from "../src/shared/s.ts";\nexport const x = s;',
      "src/shared/s.ts": 'import { p } from "../proxy/p.ts";\nexport const s = p;',
      "src/proxy/p.ts": 'import { g } from "../generator/g.ts";\nimport { x } from "../../ffi/x.ts";\nexport const p = g + x;',
      "src/generator/g.ts": 'import { c } from "../cli/c.ts";\nexport const g = c;',
      "src/cli/c.ts": 'import { p } from "../proxy/p.ts";\nimport { g } from "../generator/g.ts";\nexport const c = p + g;',
    });
    expect(floorViolations(m)).toEqual([
      "ffi/x.ts -> src/shared/s.ts",
      "src/generator/g.ts -> src/cli/c.ts",
      "src/proxy/p.ts -> src/generator/g.ts",
      "src/shared/s.ts -> src/proxy/p.ts",
    ]);
  });
  // inner() is exported for its tests and runs inside its module (outer calls it): not dead.
  test("an export nobody imports, or that only its own module uses", () => {
    const src = {
      "src/shared/s.ts": "export const used = 1;\nexport function unused() {}\nexport interface Shape {}\nconst local = 2;\nexport { local as renamed };\nexport interface Loose {}\nexport type Arg = number;\nexport function take(a: Arg): void {}\nexport function keep(l: Loose): void {}\nexport function inner() {}\nexport const outer = () => inner();",
      "src/shared/t.ts": 'import { used, type Shape, take } from "./s.ts";\nexport const t: Shape = used;\nexport const self = t;\nexport const whole = 0;',
      "src/proxy/u.ts": 'import { t } from "../shared/t.ts";\nconst m = require("../shared/t.ts") as typeof import("../shared/t.ts");\nm.whole;\nvoid t;',
      "ffi/test-peer.ts": "export const peer = 1;",
      "ffi/peer.ts": "export const peer = 1;",
    };
    const m = planted(src);
    const tests = planted({ "test/x.test.ts": 'import { unused, inner } from "../src/shared/s.ts";\nimport { peer } from "../ffi/test-peer.ts";\nimport { peer as p } from "../ffi/peer.ts";' }, src);
    // Arg is in take()'s signature, which t.ts uses; Loose only in keep()'s, which nobody uses.
    expect(deadExports(m, tests)).toEqual([
      "ffi/peer.ts: peer (tests only)",
      "src/shared/s.ts: Loose",
      "src/shared/s.ts: keep",
      "src/shared/s.ts: outer",
      "src/shared/s.ts: renamed",
      "src/shared/s.ts: unused (tests only)",
      "src/shared/t.ts: self",
    ]);
  });
});

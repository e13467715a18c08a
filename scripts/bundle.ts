// The compile step of scripts/build: `bun scripts/bundle.ts TARGET OUTFILE [ENTRY]`.
//
// Without ENTRY it makes the systemd-ssh binary in two stages, so that each tool runs as one module:
//   1. each tool (src/tools.ts's three and the umbrella's CLI) is bundled on its own, from its main.ts,
//      with everything it imports (its own lazily loaded parts stay chunks of their own);
//   2. src/main.ts, the dispatcher, is compiled with those bundles in place of the tools' sources.
// A single bundle of everything splits the modules the tools share into a chunk per set of tools that
// use them: the generator's typical run loaded thirteen, the proxy's five. The engine allocates about a
// block of its heap per module, and once a process has allocated 64 blocks it starts a helper thread
// that pre-faults more (JavaScriptCore's warmUpMarkedBlockStartAfterBlocks); on the bench's machine that
// thread cost the generator about 5 ms of its 31 (scripts/bench shows the count). The price is that the
// shared modules are in the binary once per tool: some 100 KiB of a 107 MiB file.
//
// With ENTRY (scripts/bench's floors), ENTRY is compiled in one stage with the same options.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const REPO = join(import.meta.dir, "..");

// Each tool's main.ts, as src/main.ts and src/tools.ts import it.
const TOOLS = ["proxy", "generator", "issue", "cli"] as const;

function fail(message: string): never {
  console.error(`build: ${message}`);
  process.exit(1);
}

function check(what: string, r: Bun.BuildOutput): void {
  if (!r.success) fail(`${what}: ${r.logs.map(String).join("\n")}`);
}

/** Stage 1: one tool, bundled on its own into dir; returns the path of its entry. */
async function bundleTool(tool: (typeof TOOLS)[number], dir: string): Promise<string> {
  const r = await Bun.build({
    entrypoints: [join(REPO, "src", tool, "main.ts")],
    outdir: join(dir, tool),
    target: "bun",
    format: "esm",
    splitting: true,
    // A require() of one of our modules stays in the tool's own bundle: as a chunk of its own it would be
    // an import.meta.require() by a relative name, which the second stage does not bundle.
    splitRequire: false,
    naming: { entry: "[name].[ext]" },
  });
  check(tool, r);
  return join(dir, tool, "main.js");
}

const [target, outfile, entry] = process.argv.slice(2);
if (!target || !outfile) fail("usage: bun scripts/bundle.ts TARGET OUTFILE [ENTRY]");

const work = entry ? null : mkdtempSync(join(tmpdir(), "systemd-ssh-bundle-"));
try {
  const bundles = new Map<string, string>();
  if (work) for (const tool of TOOLS) bundles.set(join(REPO, "src", tool, "main.ts"), await bundleTool(tool, work));
  const r = await Bun.build({
    entrypoints: [entry ?? join(REPO, "src/main.ts")],
    target: "bun",
    format: "esm",
    minify: true,
    bytecode: true,
    splitting: true,
    compile: {
      // "bun": this machine's platform (scripts/build on an architecture it has no name for).
      target: target === "bun" ? undefined : (target as Bun.Build.CompileTarget),
      outfile,
      // See scripts/build for why these three.
      execArgv: ["--no-install"],
      autoloadDotenv: false,
      autoloadBunfig: false,
    },
    plugins: [
      {
        name: "tool-bundles",
        setup(build) {
          // src/main.ts and src/tools.ts import each tool by its main.ts: the tool's bundle instead.
          build.onResolve({ filter: /\/main\.ts$/ }, (args) => {
            const bundle = bundles.get(join(args.resolveDir, args.path));
            return bundle ? { path: bundle } : undefined;
          });
        },
      },
    ],
  });
  check(entry ?? "systemd-ssh", r);
} finally {
  if (work) rmSync(work, { recursive: true, force: true });
}

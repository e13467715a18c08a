// Entry point of the single executable. Invoked through a symlink named after a systemd tool, it is that
// tool, with that tool's exact command line; invoked as systemd-ssh, it dispatches on a subcommand.

import { toolNamed, toolOfProgram } from "./shared/tool-names.ts";
import { loadTool } from "./tools.ts";

function programName(argv0: string): string {
  const slash = argv0.lastIndexOf("/");
  return slash >= 0 ? argv0.slice(slash + 1) : argv0;
}

export async function main(argv0: string, args: readonly string[]): Promise<number> {
  const asTool = toolOfProgram(programName(argv0));
  if (asTool) return (await loadTool(asTool))(args);

  // `systemd-ssh proxy|generator|issue ...` passes the rest through untouched, so the subcommand behaves
  // exactly like the symlink; everything else goes to the citty CLI.
  const sub = toolNamed(args[0]);
  if (sub) return (await loadTool(sub))(args.slice(1));
  return (await import("./cli/main.ts")).runCli(args);
}

// process.argv is ["bun", script, ...args] both under `bun src/main.ts` and in the compiled binary;
// process.argv0 is what the caller put in argv[0], i.e. the symlink's name.
if (import.meta.main) {
  main(process.argv0, process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`systemd-ssh: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}

// The three systemd tools this binary stands in for (src/shared/tool-names.ts names them). The generator and
// the issue tool are loaded only when they run; the proxy, which runs on every ssh connection, is part of
// the entry chunk: with --splitting its modules would otherwise be nine chunks to find and load one after
// the other (measured: 0.6 ms of its 7 ms hand-off). The others pay for evaluating its few top-level
// constants, well under that.

import { main as proxyMain } from "./proxy/main.ts";
import type { ToolName } from "./shared/tool-names.ts";

/** A tool's entry point: raw arguments in (argv without the program name), exit status out. */
type ToolMain = (args: readonly string[]) => Promise<number>;

export async function loadTool(tool: ToolName): Promise<ToolMain> {
  switch (tool) {
    case "proxy":
      return proxyMain;
    case "generator":
      return (await import("./generator/main.ts")).main;
    case "issue":
      return (await import("./issue/main.ts")).main;
  }
}

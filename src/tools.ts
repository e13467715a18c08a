// The three systemd tools this binary stands in for (src/shared/tool-names.ts names them), each loaded only
// when it runs. scripts/bundle.ts builds each tool as one bundle of its own, so that loading a tool is
// loading one module (and its lazily loaded parts only when they run).

import type { ToolName } from "./shared/tool-names.ts";

/** A tool's entry point: raw arguments in (argv without the program name), exit status out. */
type ToolMain = (args: readonly string[]) => Promise<number>;

export async function loadTool(tool: ToolName): Promise<ToolMain> {
  switch (tool) {
    case "proxy":
      return (await import("./proxy/main.ts")).main;
    case "generator":
      return (await import("./generator/main.ts")).main;
    case "issue":
      return (await import("./issue/main.ts")).main;
  }
}

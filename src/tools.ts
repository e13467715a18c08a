// The three systemd tools this binary stands in for, each loaded only when it runs.

export type ToolName = "proxy" | "generator" | "issue";

/** A tool's entry point: raw arguments in (argv without the program name), exit status out. */
export type ToolMain = (args: readonly string[]) => Promise<number>;

/** argv[0] basenames (the install's symlinks) and the tool each one runs. */
export const TOOL_BY_PROGRAM_NAME: Readonly<Record<string, ToolName>> = {
  "systemd-ssh-proxy": "proxy",
  "systemd-ssh-generator": "generator",
  "systemd-ssh-issue": "issue",
};

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

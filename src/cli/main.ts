// The systemd-ssh umbrella command, built on citty: one defineCommand per subcommand, each loaded only
// when it runs. The tool subcommands (proxy, generator, issue) are dispatched in src/main.ts before we get
// here; they appear below so that --help lists them.

import { defineCommand, renderUsage, runCommand, type CommandDef } from "citty";
import { COMMAND, TOOLS, type ToolName } from "../shared/tool-names.ts";
import { SYSTEMD_PARITY, VERSION, VERSION_LINE } from "../version.ts";

const passthrough = (name: ToolName) => defineCommand({ meta: { name, description: TOOLS[name].description }, run() {} });

const rootCommand = defineCommand({
  meta: {
    name: COMMAND.program,
    version: VERSION,
    description: `systemd's SSH tools (proxy, generator, issue) in one binary, at parity with systemd ${SYSTEMD_PARITY}`,
  },
  subCommands: {
    proxy: () => passthrough("proxy"),
    generator: () => passthrough("generator"),
    issue: () => passthrough("issue"),
    explain: () => import("./explain.ts").then((m) => m.default),
    install: () => import("./install.ts").then((m) => m.installCommand),
    uninstall: () => import("./install.ts").then((m) => m.uninstallCommand),
    machines: () => import("./machines.ts").then((m) => m.default),
    resolve: () => import("./resolve.ts").then((m) => m.default),
  },
});

// citty colours its output unconditionally; keep escapes off pipes and files.
const ANSI = /\x1b\[[0-9;]*m/g;
function forFd(fd: number, text: string): string {
  return require("node:tty").isatty(fd) ? text : text.replace(ANSI, "");
}

/**
 * The reader of our output went away (`systemd-ssh explain | head -1`). systemd's tools die of SIGPIPE
 * there, silently; we end as quietly, with the status a shell shows for that (128 + SIGPIPE).
 */
const EXIT_BROKEN_PIPE = 141;
function isBrokenPipe(e: unknown): boolean {
  return typeof e === "object" && e !== null && (e as { code?: unknown }).code === "EPIPE";
}

function isUsageError(e: unknown): e is Error {
  return e instanceof Error && e.name === "CLIError";
}

export async function runCli(args: readonly string[]): Promise<number> {
  const rawArgs = [...args];
  if (rawArgs.length === 0 || rawArgs.includes("--help") || rawArgs.includes("-h")) {
    const fd = rawArgs.length === 0 ? 2 : 1;
    const { writeAll } = await import("../shared/write-all.ts");
    try {
      writeAll(fd, `${forFd(fd, await usage(rawArgs))}\n`);
    } catch (e) {
      if (isBrokenPipe(e)) return EXIT_BROKEN_PIPE;
      throw e;
    }
    return rawArgs.length === 0 ? 1 : 0;
  }
  if (rawArgs.length === 1 && (rawArgs[0] === "--version" || rawArgs[0] === "-v")) {
    process.stdout.write(VERSION_LINE);
    return 0;
  }
  try {
    await runCommand(rootCommand, { rawArgs });
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (e) {
    if (isBrokenPipe(e)) return EXIT_BROKEN_PIPE;
    if (isUsageError(e)) {
      process.stderr.write(forFd(2, `systemd-ssh: ${e.message}\nTry 'systemd-ssh --help'.\n`));
      return 1;
    }
    process.stderr.write(`systemd-ssh: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

/** Usage of the command the arguments name (root, or a subcommand). */
async function usage(rawArgs: string[]): Promise<string> {
  const subs = (rootCommand.subCommands ?? {}) as Record<string, () => Promise<CommandDef> | CommandDef>;
  const name = rawArgs.find((a) => !a.startsWith("-"));
  const load = name ? subs[name] : undefined;
  if (load) return renderUsage(await load(), rootCommand);
  return renderUsage(rootCommand);
}

// systemd-ssh-generator: invoked by systemd as `systemd-ssh-generator NORMAL EARLY LATE` (or with one
// directory), writes into NORMAL. `--explain` prints what it would do instead (see explain.ts).

import { cmdlineItems, splitCmdline } from "../shared/proc-cmdline.ts";
import { generate } from "./core.ts";
import { consoleSink, Logger, logSettings, type LogSink, type LogTarget, nullSink } from "../shared/log.ts";
import { kmsgSink } from "../shared/log-kmsg.ts";
import { TOOLS } from "../shared/tool-names.ts";
import { fromBytes, rawArgs, rawEnviron } from "../shared/raw-bytes.ts";
import { readFile } from "../../ffi/io.ts";
import { inInitrd, realFacts, realTree } from "./system.ts";

const realSink = (target: LogTarget): LogSink =>
  target === "kmsg" ? kmsgSink(TOOLS.generator.program) : target === "null" ? nullSink : consoleSink;

/**
 * The generator proper, with the environment, the logger and the sink for each log target given (tests run
 * it in-process and collect the records).
 */
export function runGenerator(args: readonly string[], env: Map<string, string>, log: Logger, sinks = realSink): number {
  const kernelCommandLine = () => {
    try {
      const words = splitCmdline(env.get("SYSTEMD_PROC_CMDLINE") ?? fromBytes(readFile("/proc/cmdline")));
      return cmdlineItems(words, inInitrd(env), { stripRdPrefix: true });
    } catch {
      return [];
    }
  };
  const settings = logSettings(Object.fromEntries(env), undefined, { kernelCommandLine });
  log.maxLevel = settings.maxLevel;
  log.sink = sinks(settings.target);
  if (args.length !== 1 && args.length !== 3) {
    log.logBytes(3, "This program takes one or three arguments.");
    return 234;
  }
  const facts = realFacts(env, log.logBytes);
  log.logBytes(7, `Generating units in the form of systemd ${facts.form.form} (target systemd version ${facts.form.version ?? "unknown"}).`);
  return generate(facts, realTree(args[0]!), log.logBytes, { recordListen: false }).exitStatus;
}

export async function main(args: readonly string[]): Promise<number> {
  if (args[0] === "--explain") return (await import("./explain.ts")).explainMain(args.slice(1));
  // Directory names are bytes, as for systemd: printed and used exactly as given, whatever their encoding.
  const status = runGenerator(rawArgs(args), rawEnviron(), new Logger());
  // systemd runs every generator at boot and waits for each; all our writes (files, log) are synchronous,
  // so skip the runtime's teardown.
  const { exitNow } = await import("../../ffi/process.ts");
  return exitNow(status);
}

// systemd-ssh-generator: invoked by systemd as `systemd-ssh-generator NORMAL EARLY LATE` (or with one
// directory), writes into NORMAL. `--explain` prints what it would do instead (see explain.ts).

import { cmdlineItems, splitCmdline } from "../shared/proc-cmdline.ts";
import { LOG_DEBUG, Logger, logSettings, type LogSink, type LogTarget, nullSink, generatorConsoleSink } from "../shared/log.ts";
import { kmsgSink } from "../shared/log-kmsg.ts";
import { TOOLS } from "../shared/tool-names.ts";
import { fromBytes, rawArgs, rawEnviron } from "../shared/raw-bytes.ts";
import { readFile } from "../../ffi/io.ts";
import { exitNow } from "../../ffi/process.ts";
import { parseArgs, type GeneratorRequest } from "./args.ts";
import { run } from "./core.ts";
import { explainMain } from "./explain.ts";
import { inInitrd, realFacts, realTree } from "./effects.ts";

const realSink = (target: LogTarget): LogSink =>
  target === "kmsg" ? kmsgSink(TOOLS.generator.program) : target === "null" ? nullSink : generatorConsoleSink;

/**
 * The generator proper, with the request, the environment, the logger and the sink for each log target given
 * (tests run it in-process and collect the records).
 */
export function runGenerator(request: Exclude<GeneratorRequest, { kind: "explain" }>, env: Map<string, string>, log: Logger, sinks = realSink): number {
  const kernelCommandLine = () => {
    try {
      const words = splitCmdline(env.get("SYSTEMD_PROC_CMDLINE") ?? fromBytes(readFile("/proc/cmdline")));
      return cmdlineItems(words, inInitrd(env), { stripRdPrefix: true });
    } catch {
      return [];
    }
  };
  const settings = logSettings(env, undefined, { kernelCommandLine });
  log.maxLevel = settings.maxLevel;
  log.sink = sinks(settings.target);
  if (request.kind === "usage") {
    log.logBytes(3, request.message);
    return request.status;
  }
  const facts = realFacts(env, log.logBytes, log.maxLevel >= LOG_DEBUG);
  log.logBytes(7, `Generating units in the form of systemd ${facts.form.form} (target systemd version ${facts.form.version ?? "unknown"}).`);
  return run(facts, realTree(request.dest), log.logBytes, { recordListen: false }).exitStatus;
}

export async function main(args: readonly string[]): Promise<number> {
  // Directory names are bytes, as for systemd: printed and used exactly as given, whatever their encoding.
  const request = parseArgs(rawArgs(args));
  if (request.kind === "explain") return explainMain(args.slice(1));
  const status = runGenerator(request, rawEnviron(), new Logger());
  // systemd runs every generator at boot and waits for each; all our writes (files, log) are synchronous,
  // so skip the runtime's teardown. (ffi/process.ts is a static import: as an import() here it was one more
  // module to load, and a module costs the engine about a block of its heap; see scripts/bench.)
  return exitNow(status);
}

// `systemd-ssh-issue make-vsock|rm-vsock [--issue-path=PATH]` (and `systemd-ssh issue ...`): write or
// remove the /run/issue.d/ drop-in that tells the console how to reach this VM over AF_VSOCK. The
// generator's AF_VSOCK socket unit runs it on start and stop. Behaviour, messages and exit status are
// systemd 262's; cli.ts parses, core.ts decides, effects.ts touches the system.
//
// Arguments, the working directory, paths and the messages naming them are byte strings (see
// src/shared/raw-bytes.ts), as for systemd: a path named in bytes that are not UTF-8 is the one the kernel
// sees, and the one the log names.

import { log, LOG_DEBUG, LOG_ERR, LOG_NOTICE, LOG_WARNING } from "../shared/log.ts";
import { rawArgs, rawCwd } from "../shared/raw-bytes.ts";
import { SYSTEMD_PARITY, VERSION } from "../version.ts";
import { helpText, introspectJson, parseIssueArgs, PROGRAM } from "./cli.ts";
import { cidFailure, planMakeVsock, vsockUnsupported, type IssueFacts } from "./core.ts";
import { EffectError, IssueWriteError, libcStrerror, realEffects, type IssueEffects } from "./effects.ts";

class Failure extends Error {}

export interface IssueOptions {
  effects?: IssueEffects;
  /** program_invocation_short_name: what --help and option errors call us. */
  program?: string;
  /** The working directory (as process.cwd() gives it); our real one, as bytes, by default. */
  cwd?: () => string;
}

/** Our messages are byte strings: they name arguments and paths exactly as given. */
const say = (level: number, message: string): void => log.logBytes(level, message);

export async function main(args: readonly string[], opts: IssueOptions = {}): Promise<number> {
  log.parseEnvironment();
  const fx = opts.effects ?? realEffects;
  const program = opts.program ?? PROGRAM;
  const cmd = parseIssueArgs(rawArgs(args), { program, cwd: () => rawCwd(opts.cwd) });
  switch (cmd.kind) {
    case "help":
      fx.stdout(helpText(program, { colour: fx.stdoutIsTerminal() && coloursWanted() }));
      return 0;
    case "version":
      fx.stdout(`systemd-ssh ${VERSION} (systemd ${SYSTEMD_PARITY} compatible)\n`);
      return 0;
    case "introspect":
      fx.stdout(`${introspectJson(program, VERSION)}\n`);
      return 0;
    case "error":
      say(LOG_ERR, cmd.message);
      return 1;
    case "run":
      break;
  }
  for (const w of cmd.warnings) say(LOG_WARNING, w);
  try {
    if (cmd.verb === "make-vsock") makeVsock(fx, cmd.path);
    else rmVsock(fx, cmd.path);
    return 0;
  } catch (e) {
    if (e instanceof Failure) {
      say(LOG_ERR, e.message);
      return 1;
    }
    throw e;
  }
}

/** systemd's colors_enabled() for stdout, in the parts that matter here. */
function coloursWanted(env = process.env): boolean {
  const sc = env.SYSTEMD_COLORS;
  if (sc !== undefined && /^(0|no|false|off|n|f)$/i.test(sc)) return false;
  if ("NO_COLOR" in env) return false;
  return env.TERM !== "dumb";
}

/** acquire_cid(): the facts, gathered in systemd's order and logged as systemd logs them. */
export function gatherFacts(fx: IssueEffects): IssueFacts {
  let virt;
  try {
    virt = fx.detectVirtualization();
  } catch (e) {
    throw new Failure(`Failed to detect if we run in a VM: ${e instanceof EffectError ? e.strerror : String(e)}`);
  }
  const facts: IssueFacts = { inVm: virt.vm && !virt.container, inContainer: virt.container, vsock: false, cid: null };
  if (!facts.inVm) return facts;
  const errno = fx.probeVsock();
  if (errno !== 0) {
    const text = libcStrerror(errno);
    if (!vsockUnsupported(errno)) throw new Failure(`Unable to test if AF_VSOCK is available: ${text}`);
    log.debug(`AF_VSOCK is not available, ignoring: ${text}`);
    return facts;
  }
  facts.vsock = true;
  const r = fx.localCid();
  if ("cid" in r) {
    log.debug(`Local AF_VSOCK CID: ${r.cid}`);
    facts.cid = r.cid;
    return facts;
  }
  switch (cidFailure(r.errno)) {
    case "absent":
      log.debug(`/dev/vsock is not available (even though AF_VSOCK is), ignoring: ${r.strerror}`);
      return facts;
    case "unassigned":
      return facts;
    case "error":
      throw new Failure(`Failed to query host's AF_VSOCK CID: ${r.strerror}`);
  }
}

function makeVsock(fx: IssueEffects, path: string | null): void {
  const plan = planMakeVsock(gatherFacts(fx));
  if (plan.kind === "skip") {
    for (const l of plan.log) say(l.level, l.text);
    return;
  }
  if (path === null) {
    fx.stdout(plan.content);
    return;
  }
  try {
    fx.writeIssueFile(path, plan.content);
  } catch (e) {
    if (!(e instanceof IssueWriteError)) throw e;
    const what = {
      mkdir: `Failed to create parent directories of '${path}'`,
      create: `Failed to create '${path}'`,
      chmod: `Failed to adjust access mode of '${path}'`,
      rename: `Failed to move '${path}' into place`,
    }[e.step];
    throw new Failure(`${what}: ${e.strerror}`);
  }
}

function rmVsock(fx: IssueEffects, path: string | null): void {
  if (path === null) {
    say(LOG_NOTICE, "STDOUT selected for issue file, not removing.");
    return;
  }
  let removed: boolean;
  try {
    removed = fx.removeFile(path);
  } catch (e) {
    if (e instanceof EffectError) throw new Failure(`Failed to remove '${path}': ${e.strerror}`);
    throw e;
  }
  if (removed) say(LOG_DEBUG, `Successfully removed '${path}'.`);
  else say(LOG_DEBUG, `File '${path}' does not exist, no operation executed.`);
}

// `systemd-ssh-issue make-vsock|rm-vsock [--issue-path=PATH]` (and `systemd-ssh issue ...`): write or
// remove the /run/issue.d/ drop-in that tells the console how to reach this VM over AF_VSOCK. The
// generator's AF_VSOCK socket unit runs it on start and stop. Behaviour, messages and exit status are
// systemd 262's; args.ts parses, core.ts decides, effects.ts touches the system, help.ts has the texts.
//
// Arguments, the working directory, paths and the messages naming them are byte strings (see
// src/shared/raw-bytes.ts), as for systemd: a path named in bytes that are not UTF-8 is the one the kernel
// sees, and the one the log names.

import { SysError } from "../../ffi/errors.ts";
import { Failure, withCause } from "../shared/failure.ts";
import { log, LOG_DEBUG, LOG_ERR, LOG_NOTICE, LOG_WARNING } from "../shared/log.ts";
import { rawArgs, rawCwd } from "../shared/raw-bytes.ts";
import { TOOLS } from "../shared/tool-names.ts";
import { VERSION, VERSION_LINE } from "../version.ts";
import { parseIssueArgs } from "./args.ts";
import { cidFailure, planMakeVsock, vsockUnsupported, writeFailure, type IssueFacts } from "./core.ts";
import { realEffects, type IssueEffects } from "./effects.ts";
import { helpText, introspectJson } from "./help.ts";

interface IssueOptions {
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
  const program = opts.program ?? TOOLS.issue.program;
  const request = parseIssueArgs(rawArgs(args), { program, cwd: () => rawCwd(opts.cwd) });
  switch (request.kind) {
    case "help":
      fx.stdout(helpText(program, { colour: fx.stdoutIsTerminal() && coloursWanted() }));
      return 0;
    case "version":
      fx.stdout(VERSION_LINE);
      return 0;
    case "introspect":
      fx.stdout(`${introspectJson(program, VERSION)}\n`);
      return 0;
    case "error":
      say(LOG_ERR, request.message);
      return 1;
    case "run":
      break;
  }
  for (const w of request.warnings) say(LOG_WARNING, w);
  try {
    if (request.verb === "make-vsock") makeVsock(fx, request.path);
    else rmVsock(fx, request.path);
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
function gatherFacts(fx: IssueEffects): IssueFacts {
  let virt;
  try {
    virt = fx.detectVirtualization();
  } catch (e) {
    throw withCause(e, "Failed to detect if we run in a VM");
  }
  const facts: IssueFacts = { inVm: virt.vm && !virt.container, inContainer: virt.container, vsock: false, cid: null };
  if (!facts.inVm) return facts;
  try {
    fx.probeVsock();
  } catch (e) {
    if (!(e instanceof SysError) || !vsockUnsupported(e.code)) throw withCause(e, "Unable to test if AF_VSOCK is available");
    log.debug(`AF_VSOCK is not available, ignoring: ${e.strerror}`);
    return facts;
  }
  facts.vsock = true;
  let cid: number;
  try {
    cid = fx.localCid();
  } catch (e) {
    if (!(e instanceof SysError)) throw e;
    switch (cidFailure(e.code)) {
      case "absent":
        log.debug(`/dev/vsock is not available (even though AF_VSOCK is), ignoring: ${e.strerror}`);
        return facts;
      case "unassigned":
        return facts;
      case "error":
        throw withCause(e, "Failed to query host's AF_VSOCK CID");
    }
  }
  log.debug(`Local AF_VSOCK CID: ${cid}`);
  facts.cid = cid;
  return facts;
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
    throw e instanceof SysError ? withCause(e, writeFailure(path, e.syscall)) : e;
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
    throw withCause(e, `Failed to remove '${path}'`);
  }
  if (removed) say(LOG_DEBUG, `Successfully removed '${path}'.`);
  else say(LOG_DEBUG, `File '${path}' does not exist, no operation executed.`);
}

// systemd-ssh-issue's command line, as systemd 262 parses it: verbs make-vsock and rm-vsock, the older
// options --make-vsock/--rm-vsock (with a warning), --issue-path=PATH ("-" or "" meaning standard output).
// Pure: arguments in, a command (or systemd's error message) out. Arguments, the path and the messages are
// byte strings (src/shared/raw-bytes.ts), as systemd sees them.

import { OptionError, OptionParser, type OptionSpec } from "../shared/options.ts";
import { absolutePathArgument } from "../shared/path.ts";
import { rawCwd } from "../shared/raw-bytes.ts";
import { TOOLS } from "../shared/tool-names.ts";
import { findVerb, type VerbSpec } from "../shared/verbs.ts";

/** Where make-vsock writes and rm-vsock removes, unless --issue-path says otherwise. */
const DEFAULT_ISSUE_PATH = "/run/issue.d/50-ssh-vsock.issue";

// In systemd's order: it decides the --help layout and the "possibilities" of an ambiguous prefix.
export const OPTIONS: readonly OptionSpec[] = [
  { id: "help", short: "h", long: "help", help: "Show this help" },
  { id: "version", long: "version", help: "Show package version" },
  { id: "make-vsock", long: "make-vsock" },
  { id: "rm-vsock", long: "rm-vsock" },
  { id: "issue-path", long: "issue-path", metavar: "PATH", help: `Change path to ${DEFAULT_ISSUE_PATH}` },
  { id: "introspect-cli", long: "introspect-cli" },
];

type IssueVerb = "make-vsock" | "rm-vsock";

export const VERBS: readonly (VerbSpec & { name: IssueVerb })[] = [
  { name: "make-vsock", help: "Generate the issue file", minArgs: 1, maxArgs: 1 },
  { name: "rm-vsock", help: "Remove the issue file", minArgs: 1, maxArgs: 1 },
];

type IssueRequest =
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "introspect" }
  | { kind: "error"; message: string }
  /** `path` null: standard output. `warnings` are logged before the verb runs. */
  | { kind: "run"; verb: IssueVerb; path: string | null; warnings: string[] };

interface ParseContext {
  program?: string;
  /** The working directory as a byte string, for relative --issue-path; throws (with an errno code) if it is gone. */
  cwd?: () => string;
}

export function parseIssueArgs(args: readonly string[], ctx: ParseContext = {}): IssueRequest {
  const parser = new OptionParser(ctx.program ?? TOOLS.issue.program, OPTIONS, args);
  let path: string | null = null;
  let toStdout = false;
  let compatVerb: IssueVerb | null = null;
  try {
    for (let o = parser.next(); o; o = parser.next()) {
      switch (o.spec.id) {
        case "help":
          return { kind: "help" };
        case "version":
          return { kind: "version" };
        case "introspect-cli":
          return { kind: "introspect" };
        case "make-vsock":
        case "rm-vsock":
          compatVerb = o.spec.id;
          break;
        case "issue-path": {
          const arg = o.arg ?? "";
          if (arg === "" || arg === "-") {
            path = null;
            toStdout = true;
            break;
          }
          try {
            path = absolutePathArgument(arg, ctx.cwd ?? (() => rawCwd()), true);
          } catch (e) {
            return { kind: "error", message: `Failed to parse path "${arg}" and make it absolute: ${errnoText(e)}` };
          }
          toStdout = false;
          break;
        }
      }
    }
  } catch (e) {
    if (e instanceof OptionError) return { kind: "error", message: e.message };
    throw e;
  }
  if (path === null && !toStdout) path = DEFAULT_ISSUE_PATH;

  const warnings: string[] = [];
  let verbArgs = parser.rest();
  if (compatVerb) {
    if (verbArgs.length > 0) return { kind: "error", message: "Invalid use of compat option --make-vsock/--rm-vsock." };
    warnings.push("Options --make-vsock/--rm-vsock have been replaced by make-vsock/rm-vsock verbs.");
    verbArgs = [compatVerb];
  }
  const found = findVerb(VERBS, verbArgs);
  if (!found.ok) return { kind: "error", message: found.message };
  return { kind: "run", verb: found.verb.name, path, warnings };
}

function errnoText(e: unknown): string {
  const text = (e as { strerror?: string }).strerror;
  if (typeof text === "string") return text;
  return e instanceof Error ? e.message : String(e);
}

// The proxy's command line: `systemd-ssh-proxy [OPTION...] HOST PORT`.
//
// Hand-rolled on purpose: this runs on every ssh connection, and a CLI framework would cost more to load
// than the whole proxy. Options come before HOST PORT. An argument is an option only when it is exactly one
// of ours: `--flag`, or `--name=VALUE` for an option that takes a value. Anything else is positional, so
// every command line systemd's proxy accepts or rejects is parsed exactly as systemd does: anything but two
// positional arguments is systemd's "Expected two arguments: host and port.", and `--foo 22` is the host
// "--foo" (there is no `--` terminator either: systemd has none).
//
// To add an option, add a field to ProxyOptions and DEFAULTS and an entry to OPTIONS.

import { parseWaitSeconds } from "./boot-wait.ts";
import { Failure } from "../shared/failure.ts";

/** How the connected socket reaches our caller. */
export type Transport = "auto" | "fdpass" | "relay";

interface ProxyOptions {
  /** --fdpass / --relay force one; the default decides from what stdout is (see transport.ts). */
  transport: Transport;
  /** --wait=SECONDS, in ms: keep trying while the VM boots (boot-wait.ts). null: not given. */
  waitMs: number | null;
}

interface ProxyArgs extends ProxyOptions {
  host: string;
  port: string;
}

const DEFAULTS: ProxyOptions = { transport: "auto", waitMs: null };

/** A flag (`--name`), or an option with a value (`--name=VALUE`; apply throws Failure on a bad value). */
type OptionSpec =
  | { takesValue: false; apply(o: ProxyOptions): void }
  | { takesValue: true; apply(o: ProxyOptions, value: string): void };

const OPTIONS: Readonly<Record<string, OptionSpec>> = {
  // The last of --fdpass/--relay wins, as with repeated options elsewhere.
  "--fdpass": { takesValue: false, apply: (o) => void (o.transport = "fdpass") },
  "--relay": { takesValue: false, apply: (o) => void (o.transport = "relay") },
  "--wait": { takesValue: true, apply: (o, v) => void (o.waitMs = parseWaitSeconds(v, "--wait=")) },
};

/** Parse argv (without the program name). Throws Failure with the message to print. */
export function parseProxyArgs(args: readonly string[]): ProxyArgs {
  const opts: ProxyOptions = { ...DEFAULTS };
  let i = 0;
  for (; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith("--")) break;
    const eq = arg.indexOf("=");
    const spec = OPTIONS[eq < 0 ? arg : arg.slice(0, eq)];
    if (spec === undefined || spec.takesValue !== eq >= 0) break; // not one of ours: positional
    if (spec.takesValue) spec.apply(opts, arg.slice(eq + 1));
    else spec.apply(opts);
  }
  const rest = args.slice(i);
  if (rest.length !== 2) throw new Failure("Expected two arguments: host and port.", "EINVAL");
  return { ...opts, host: rest[0]!, port: rest[1]! };
}

// systemd-ssh-issue's --help and --introspect-cli texts, from the option and verb tables in args.ts, laid
// out as systemd 262 lays them out.

import { optionSynopsis } from "../shared/options.ts";
import { OPTIONS, VERBS } from "./args.ts";

const ABSTRACT = "Create or remove the /run/issue.d/ file announcing the SSH VSOCK address.";

interface HelpStyle {
  /** ANSI colours and hyperlinks, as systemd uses on a terminal. */
  colour: boolean;
}

/** The --help text, laid out as systemd 262 lays it out (both tables share one column width). */
export function helpText(program: string, style: HelpStyle = { colour: false }): string {
  const c = style.colour;
  const grey = c ? "\x1b[0;90m\x1b[0;38:5:245m" : "";
  const highlight = c ? "\x1b[0;1;39m\x1b[3m" : "";
  const underline = c ? "\x1b[0;4m" : "";
  const normal = c ? "\x1b[0m" : "";
  const verbRows = VERBS.filter((v) => v.help).map((v) => [`  ${v.name}`, v.help!] as const);
  const optionRows = OPTIONS.filter((o) => o.help).map((o) => [optionSynopsis(o), o.help!] as const);
  const width = Math.max(...[...verbRows, ...optionRows].map(([left]) => left.length));
  const row = ([left, right]: readonly [string, string]) => `${left.padEnd(width)} ${right}\n`;
  const man = `${program}(1)`;
  const link = c ? `\x1b]8;;man:${man}\x1b\\${man} man page\x1b]8;;\x1b\\` : `${man} man page`;
  return (
    `${grey}>${normal} ${program} [OPTION…] COMMAND …\n` +
    `\n${highlight}${ABSTRACT}${normal}\n` +
    `\n${underline}Commands:${normal}\n` +
    verbRows.map(row).join("") +
    `\n${underline}Options:${normal}\n` +
    optionRows.map(row).join("") +
    `\nSee the ${link} for details.\n`
  );
}

/** --introspect-cli: systemd's machine-readable description of the command line, for our binary. */
export function introspectJson(program: string, version: string): string {
  const options = OPTIONS.map((o) => ({
    names: [...(o.short ? [`-${o.short}`] : []), ...(o.long ? [`--${o.long}`] : [])],
    argument: o.metavar !== undefined ? "required_argument" : "no_argument",
    ...(o.metavar !== undefined ? { metavar: o.metavar } : {}),
    ...(o.help ? { help: o.help } : {}),
  }));
  const verbs = VERBS.map((v) => ({ names: [v.name], abstract: [v.help], maxArguments: v.maxArgs }));
  return JSON.stringify({
    mediaType: "application/vnd.io.systemd.cli-introspection-0",
    commands: [
      {
        names: [program],
        project: "systemd-ssh",
        version,
        features: [],
        abstract: [ABSTRACT],
        options,
        verbs,
      },
    ],
  });
}

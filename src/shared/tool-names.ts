// The programs this binary is, by name: the systemd-ssh command, and the three systemd tools it stands in
// for, each reached through an argv[0] link of its program name (or `systemd-ssh <name>`), each with a
// manual page of that name. Data only, so that every floor can read it.

export type ToolName = "proxy" | "generator" | "issue";

export interface Program {
  /** The executable's (or link's) name, and its man page's. */
  program: string;
  /** The man page's section. */
  manSection: 1 | 8;
}

interface Tool extends Program {
  /** One line for `systemd-ssh --help`. */
  description: string;
}

/** The umbrella command, `systemd-ssh`. */
export const COMMAND: Program = { program: "systemd-ssh", manSection: 1 };

export const TOOLS: Readonly<Record<ToolName, Tool>> = {
  proxy: {
    program: "systemd-ssh-proxy",
    manSection: 1,
    description: "HOST PORT: connect to unix/PATH, vsock/CID, vsock-mux/PATH, machine/NAME or qemu/NAME for ssh's ProxyCommand",
  },
  generator: {
    program: "systemd-ssh-generator",
    manSection: 8,
    description: "NORMAL [EARLY LATE]: the systemd generator for socket-activated sshd",
  },
  issue: {
    program: "systemd-ssh-issue",
    manSection: 1,
    description: "make-vsock|rm-vsock: write or remove the console hint for reaching this VM",
  },
};

/** The tool a word names (`systemd-ssh issue ...`), if any. */
export function toolNamed(word: string | undefined): ToolName | undefined {
  for (const t in TOOLS) if (t === word) return t as ToolName;
  return undefined;
}

/** The tool whose program name is `name` (an argv[0] link's basename), if any. */
export function toolOfProgram(name: string): ToolName | undefined {
  for (const t in TOOLS) if (TOOLS[t as ToolName].program === name) return t as ToolName;
  return undefined;
}

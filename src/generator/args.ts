// systemd-ssh-generator's command line: `NORMAL EARLY LATE` as systemd invokes every generator (or one
// directory), or `--explain [DIR]` for a person at a shell (explain.ts). Pure.

export type GeneratorRequest =
  | { kind: "generate"; /** The directory the units go to (the first; EARLY and LATE stay unused). */ dest: string }
  | { kind: "explain"; args: readonly string[] }
  /** The wrong number of directories: systemd's message, logged once the logger is set up, and its exit
   * status, -EINVAL as the byte the kernel keeps (256 - 22). */
  | { kind: "usage"; message: string; status: number };

export function parseArgs(args: readonly string[]): GeneratorRequest {
  if (args[0] === "--explain") return { kind: "explain", args: args.slice(1) };
  if (args.length !== 1 && args.length !== 3) return { kind: "usage", message: "This program takes one or three arguments.", status: 234 };
  return { kind: "generate", dest: args[0]! };
}

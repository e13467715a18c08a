// Command-line option parsing with the rules of systemd 262's own option parser (src/shared/options.c),
// which replaced getopt_long() in the tools we stand in for. The differences from getopt matter for parity:
// options and positional arguments may be mixed (positional ones keep their order), "--" ends the options,
// a long option may be abbreviated to any unambiguous prefix, "--name=value" and "--name value" both work,
// short options group ("-hx"), and every error names the program and the option as the user typed it.
//
// Options are returned one at a time, in command-line order, because callers act on them as they come:
// `--help --bogus` prints the help, `--bogus --help` fails.

export interface OptionSpec {
  /** What next() reports for this option. */
  readonly id: string;
  readonly short?: string;
  readonly long?: string;
  /** Shown in --help as `--long=METAVAR`; an option with a metavar requires an argument. */
  readonly metavar?: string;
  /** Shown in --help; options without help are accepted but not listed. */
  readonly help?: string;
}

export class OptionError extends Error {
  override readonly name = "OptionError";
}

export interface ParsedOption {
  spec: OptionSpec;
  /** The argument, for options that take one. */
  arg: string | null;
}

export class OptionParser {
  private readonly args: readonly string[];
  private readonly specs: readonly OptionSpec[];
  private readonly program: string;
  private index = 0;
  /** Within a group of short options ("-abc"): the offset of the next letter, or 0. */
  private shortOffset = 0;
  private readonly positional: string[] = [];
  private readonly afterDashDash: string[] = [];
  private done = false;

  constructor(program: string, specs: readonly OptionSpec[], args: readonly string[]) {
    this.program = program;
    this.specs = specs;
    this.args = args;
  }

  /** The next option, or null when there are no more. Throws OptionError with systemd's message. */
  next(): ParsedOption | null {
    if (this.done) return null;
    if (this.shortOffset === 0) {
      // Skip (and keep) positional arguments until the next option.
      for (;;) {
        if (this.index >= this.args.length) return this.finish();
        const a = this.args[this.index]!;
        if (a === "--") {
          this.afterDashDash.push(...this.args.slice(this.index + 1));
          this.index = this.args.length;
          return this.finish();
        }
        if (a.length > 1 && a[0] === "-") break;
        this.positional.push(a);
        this.index++;
      }
      const a = this.args[this.index]!;
      if (a[1] === "-") return this.nextLong(a);
      this.shortOffset = 1;
    }
    return this.nextShort();
  }

  /** Positional arguments, in order; valid once next() has returned null. */
  rest(): string[] {
    return [...this.positional, ...this.afterDashDash];
  }

  private finish(): null {
    this.done = true;
    return null;
  }

  private fail(message: string): never {
    this.done = true;
    throw new OptionError(`${this.program}: ${message}`);
  }

  private nextLong(a: string): ParsedOption {
    const eq = a.indexOf("=");
    const name = eq >= 0 ? a.slice(0, eq) : a;
    let value: string | null = eq >= 0 ? a.slice(eq + 1) : null;
    const bare = name.slice(2);
    // "--=x" would be a prefix of every option.
    if (bare === "") this.fail(`unrecognized option '${name}'`);
    let spec: OptionSpec | undefined;
    const partial: OptionSpec[] = [];
    for (const s of this.specs) {
      if (!s.long || !s.long.startsWith(bare)) continue;
      if (s.long === bare) {
        spec = s;
        break;
      }
      partial.push(s);
    }
    if (!spec) {
      if (partial.length === 0) this.fail(`unrecognized option '${name}'`);
      if (partial.length > 1) {
        this.fail(`option '${name}' is ambiguous; possibilities: ${partial.map((s) => `--${s.long}`).join(", ")}`);
      }
      spec = partial[0]!;
    }
    this.index++;
    return this.withArgument(spec, name, value);
  }

  private nextShort(): ParsedOption {
    const a = this.args[this.index]!;
    const c = a[this.shortOffset]!;
    const name = `-${c}`;
    const spec = this.specs.find((s) => s.short === c);
    if (!spec) this.fail(`unrecognized option '${name}'`);
    const rest = a.slice(this.shortOffset + 1);
    let value: string | null = null;
    if (spec.metavar !== undefined && rest !== "") {
      value = rest;
      this.shortOffset = 0;
    } else if (rest === "") {
      this.shortOffset = 0;
    } else {
      this.shortOffset++;
    }
    if (this.shortOffset === 0) this.index++;
    return this.withArgument(spec, name, value);
  }

  private withArgument(spec: OptionSpec, name: string, value: string | null): ParsedOption {
    const takesArg = spec.metavar !== undefined;
    if (value !== null && !takesArg) this.fail(`option '${name}' doesn't allow an argument`);
    if (value === null && takesArg) {
      // The option's argument is the next word, whatever it looks like ("--" and "-x" included).
      if (this.index >= this.args.length) this.fail(`option '${name}' requires an argument`);
      value = this.args[this.index]!;
      this.index++;
    }
    return { spec, arg: value };
  }
}

/** The option column of systemd's --help tables: "  -h --help", "     --issue-path=PATH". */
export function optionSynopsis(spec: OptionSpec): string {
  const short = spec.short ? `-${spec.short}` : "";
  const joiner = spec.short && spec.long ? " " : "";
  const long = spec.long ? `--${spec.long}` : "";
  const arg = spec.metavar === undefined ? "" : spec.long ? `=${spec.metavar}` : ` ${spec.metavar}`;
  return `${spec.short ? "  " : "     "}${short}${joiner}${long}${arg}`;
}

// `systemd-ssh install` and `systemd-ssh uninstall`: put the binary, its argv[0] links, the ssh_config
// drop-in, ssh-access.target and the tmpfiles.d entry where systemd keeps its own (or remove them again),
// on this system or, with --root, in an image tree. This is install's command line (its args.ts); the rest
// is in src/install/ (main.ts).

import { defineCommand } from "citty";

const rootArg = {
  type: "string",
  valueHint: "DIR",
  description: "Operate on the system tree under DIR (an image being built) instead of /",
} as const;
const prefixArg = {
  type: "string",
  valueHint: "PATH",
  description: "Installation prefix on the target system (default /usr: files go to PATH/lib/systemd/...)",
} as const;

const packageArg = {
  type: "boolean",
  description: "For the Debian package's maintainer scripts: only the files at systemd's own paths, where no package has them",
} as const;

/** What the running program is, if it is the compiled single binary. */
function runningBinary(): string | null {
  // Inside `bun build --compile` output the bundled entry lives on Bun's virtual file system.
  return Bun.main.startsWith("/$bunfs/") ? process.execPath : null;
}

async function report<T>(f: () => T): Promise<void> {
  const { Failure } = await import("../shared/failure.ts");
  try {
    f();
  } catch (e) {
    if (!(e instanceof Failure)) throw e;
    process.stderr.write(`systemd-ssh: ${e.message}\n`);
    process.exitCode = 1;
  }
}

const say = (line: string) => process.stdout.write(`${line}\n`);

export const installCommand = defineCommand({
  meta: { name: "install", description: "Install systemd-ssh where systemd keeps its ssh tools (binary, links, ssh_config drop-in, unit, tmpfiles.d)" },
  args: {
    root: rootArg,
    prefix: prefixArg,
    sysconfdir: { type: "string", valueHint: "PATH", description: "Configuration directory on the target system (default /etc)" },
    force: { type: "boolean", description: "Replace files that systemd-ssh did not install" },
    binary: { type: "string", valueHint: "PATH", description: "The executable to install (default: this one)" },
    package: packageArg,
  },
  async run({ args }) {
    const binary = args.binary ?? runningBinary() ?? (args.package ? "" : null);
    if (binary === null) {
      process.stderr.write("systemd-ssh: not running as the compiled binary; build it (scripts/build) or pass --binary PATH\n");
      process.exitCode = 1;
      return;
    }
    const { install } = await import("../install/main.ts");
    await report(() => install({ root: args.root, prefix: args.prefix, sysconfdir: args.sysconfdir, force: args.force, binary, package: args.package, say }));
    if (!process.exitCode && !args.package && (args.root === undefined || args.root === "/")) {
      process.stderr.write("Run 'systemctl daemon-reload' to run the generator, and 'systemd-tmpfiles --create' for /run/sshd.\n");
    }
  },
});

export const uninstallCommand = defineCommand({
  meta: { name: "uninstall", description: "Remove exactly what 'systemd-ssh install' wrote (by its manifest)" },
  args: { root: rootArg, prefix: prefixArg, package: packageArg },
  async run({ args }) {
    const { uninstall } = await import("../install/main.ts");
    await report(() => uninstall({ root: args.root, prefix: args.prefix, package: args.package, say }));
  },
});

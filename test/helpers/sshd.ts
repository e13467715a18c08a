// A throwaway OpenSSH server behind an AF_UNIX socket in a temp dir: socat accepts on the socket and runs
// `sshd -i` per connection, the way socket activation does. Real sshd, real keys, real sftp subsystem.
//
// As root, sshd insists on its privilege-separation directory /run/sshd. Tests must not write to the
// system's /run, so when it is missing we run socat and sshd in a private mount namespace with a tmpfs
// over /run (unshare -m). As another user, sshd runs unprivileged and needs no such directory.

import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { proxyCommandWord } from "../../src/shared/shell-quote.ts";
import { tempDir, removeDir, PROXY } from "./tmp.ts";

export const SSHD = existsSync("/usr/sbin/sshd") ? "/usr/sbin/sshd" : "sshd";
const SFTP_SERVER = ["/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server", "/usr/libexec/sftp-server"].find(
  (p) => existsSync(p),
);

export interface TestSshd {
  dir: string;
  /** The AF_UNIX socket ssh reaches the server through. */
  socket: string;
  /** Client private key that the server accepts. */
  clientKey: string;
  user: string;
  /** sshd's and socat's stderr. */
  log: string;
  /** Write an ssh_config for this server; `extra` is appended (e.g. Host aliases). Returns its path. */
  sshConfig(opts?: { proxy?: string; fdpass?: boolean; extra?: string; name?: string }): string;
  stop(): Promise<void>;
}

async function run(cmd: string[]): Promise<void> {
  const p = Bun.spawn(cmd, { stdout: "ignore", stderr: "pipe" });
  const code = await p.exited;
  if (code !== 0) throw new Error(`${cmd.join(" ")} failed (${code}): ${await new Response(p.stderr).text()}`);
}

function currentUser(): string {
  return new TextDecoder().decode(Bun.spawnSync(["id", "-un"]).stdout).trim();
}

/** Wait until `path` exists (socat has bound the socket). */
async function waitFor(path: string, ms: number, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!existsSync(path)) {
    if (!alive()) throw new Error(`listener for ${path} exited early`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${path}`);
    await Bun.sleep(10);
  }
}

export async function startSshd(opts: { socket?: string; dir?: string } = {}): Promise<TestSshd> {
  const dir = opts.dir ?? tempDir("sshd");
  const socket = opts.socket ?? join(dir, "sshd.sock");
  const hostKey = join(dir, "host_ed25519");
  const clientKey = join(dir, "client_ed25519");
  await Promise.all([
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test-host", "-f", hostKey]),
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test-client", "-f", clientKey]),
  ]);
  const authorized = join(dir, "authorized_keys");
  writeFileSync(authorized, await Bun.file(`${clientKey}.pub`).text(), { mode: 0o600 });
  const config = join(dir, "sshd_config");
  writeFileSync(
    config,
    [
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${authorized}`,
      "PidFile none",
      "UsePAM no",
      "StrictModes no",
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PrintMotd no",
      "PrintLastLog no",
      "UseDNS no",
      "LogLevel ERROR",
      SFTP_SERVER ? `Subsystem sftp ${SFTP_SERVER}` : "",
      "",
    ].join("\n"),
  );
  const log = join(dir, "sshd.log");

  const socat = `socat UNIX-LISTEN:${socket},fork,mode=600 EXEC:'${SSHD} -i -e -f ${config}'`;
  const needsNamespace = process.getuid?.() === 0 && !existsSync("/run/sshd");
  const cmd = needsNamespace
    ? ["unshare", "--mount", "--propagation", "private", "sh", "-c",
       `mount -t tmpfs -o mode=755 tmpfs /run && mkdir -m 755 /run/sshd && exec ${socat}`]
    : ["sh", "-c", `exec ${socat}`];
  const proc = Bun.spawn(cmd, { stdout: "ignore", stderr: Bun.file(log) });
  let exited = false;
  proc.exited.then(() => (exited = true));
  try {
    await waitFor(socket, 5000, () => !exited);
  } catch (e) {
    proc.kill();
    throw new Error(`${(e as Error).message}\n${await Bun.file(log).text().catch(() => "")}`);
  }

  const user = currentUser();
  return {
    dir,
    socket,
    clientKey,
    user,
    log,
    sshConfig({ proxy = PROXY, fdpass = true, extra = "", name = "ssh_config" } = {}) {
      const path = join(dir, name);
      writeFileSync(
        path,
        [
          "Host *",
          `  User ${user}`,
          `  IdentityFile "${clientKey}"`,
          "  IdentitiesOnly yes",
          "  UserKnownHostsFile /dev/null",
          "  StrictHostKeyChecking no",
          "  GlobalKnownHostsFile /dev/null",
          "  BatchMode yes",
          "  LogLevel ERROR",
          "  ConnectTimeout 20",
          `  ProxyCommand ${proxyCommandWord(proxy)} %h %p`,
          `  ProxyUseFdpass ${fdpass ? "yes" : "no"}`,
          extra,
          "",
        ].join("\n"),
      );
      return path;
    },
    async stop() {
      // Our own socat (and the sshd children it forked, which exit with their connections).
      proc.kill("SIGTERM");
      await proc.exited;
      removeDir(dir);
    },
  };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a command to completion with a deadline (a hung ssh must fail the test, not stall the suite). */
export async function runCommand(cmd: string[], opts: { stdin?: string | Uint8Array; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<RunResult> {
  const p = Bun.spawn(cmd, {
    stdin: opts.stdin === undefined ? "ignore" : new Blob([opts.stdin]),
    stdout: "pipe",
    stderr: "pipe",
    env: opts.env ?? process.env,
  });
  const timer = setTimeout(() => p.kill("SIGKILL"), opts.timeoutMs ?? 30000);
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

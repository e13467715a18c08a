// The walk-through behind `npm run demo`. Every step prints what it does and what came back.

import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCommand, startSshd } from "../test/helpers/sshd.ts";
import { PROXY } from "../test/helpers/tmp.ts";

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
let stepNo = 0;
const step = (s: string) => console.log(`\n${bold(`[${++stepNo}] ${s}`)}`);
const show = (s: string) => console.log(s.replace(/^/gm, "    "));

async function ssh(args: string[], stdin?: string) {
  show(`$ ${args.join(" ")}`);
  const r = await runCommand(args, { stdin, timeoutMs: 30000 });
  if (r.stdout) show(r.stdout.trimEnd());
  if (r.stderr) show(r.stderr.trimEnd());
  if (r.code !== 0) throw new Error(`${args[0]} exited with ${r.code}`);
  return r;
}

step("Start a throwaway sshd behind an AF_UNIX socket (socat runs `sshd -i` per connection)");
const sshd = await startSshd();
try {
  show(`socket: ${sshd.socket}`);
  const config = sshd.sshConfig({ extra: `Host demo-box\n  HostName unix${sshd.socket}\n` });

  step("An ssh_config that uses our proxy, the way systemd's 20-systemd-ssh-proxy.conf does");
  show(readFileSync(config, "utf8").trimEnd());

  step("Log in with `ssh unix/PATH`: the proxy connects and hands the socket to ssh (ProxyUseFdpass)");
  await ssh(["ssh", "-F", config, `unix${sshd.socket}`, "echo", "logged in as $(id -un) on $(hostname), via", "$SSH_CONNECTION"]);

  step("The same with `%` in place of `/`, the spelling scp and rsync can carry");
  await ssh(["ssh", "-F", config, `unix%${sshd.socket.slice(1)}`, "uname", "-sr"]);

  step("Copy a file there and back with scp, and compare checksums");
  const file = join(sshd.dir, "payload.bin");
  writeFileSync(file, randomBytes(256 * 1024));
  await ssh(["scp", "-F", config, "-q", file, `demo-box:${file}.remote`]);
  await ssh(["scp", "-F", config, "-q", `demo-box:${file}.remote`, `${file}.back`]);
  const sum = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");
  show(`sha256 sent     ${sum(file)}`);
  show(`sha256 returned ${sum(`${file}.back`)}`);
  if (sum(file) !== sum(`${file}.back`)) throw new Error("checksums differ");

  step("A bad target fails with systemd's one-line message and exit status 1");
  const bad = await runCommand([PROXY, "unix/no/such/socket", "22"]);
  show(`$ ${PROXY} unix/no/such/socket 22\n${bad.stderr.trimEnd()}\n(exit ${bad.code})`);

  step("Done; cleaning up");
} finally {
  await sshd.stop();
  show("sshd stopped, temp dir removed");
}

// Boot a lab guest by hand and keep it up until Ctrl-C (or SIGTERM).
//
//   bun scripts/vm/boot.ts [--key ~/.ssh/id_ed25519.pub] [--mem 1024] [--cpu max] [--extra PATH]...
//   bun scripts/vm/boot.ts --suite bookworm|trixie [--via install|deb] --key KEY.pub [--append WORD]...   (stage 2, as root)
//
// Stage 2 passes the key as the ssh.ephemeral-authorized_keys-all and ssh.authorized_keys.root credentials.
// Prints the hybrid socket and a ready-made ssh command line. Teardown kills QEMU and
// vhost-device-vsock by PID.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { proxyCommandWord, shellQuote } from "../../src/shared/shell-quote.ts";
import { bootVm, buildGuest, buildStage2, repoRoot } from "./lab.ts";

const { values } = parseArgs({
  options: {
    key: { type: "string" },
    mem: { type: "string" },
    cpu: { type: "string" },
    extra: { type: "string", multiple: true },
    suite: { type: "string" },
    append: { type: "string", multiple: true },
    via: { type: "string" },
  },
});

const key = values.key ? readFileSync(values.key, "utf8") : undefined;
const stage2 = values.suite !== undefined;
const via = values.via === "deb" ? "deb" : "install";
const build = stage2 ? buildStage2(values.suite!, { via }) : buildGuest({ extra: values.extra ?? [] });
const cred = key ? Buffer.from(key).toString("base64") : undefined;
const vm = await bootVm({
  build,
  memMb: values.mem ? Number(values.mem) : stage2 ? 1024 : undefined,
  cpu: values.cpu,
  authorizedKey: stage2 ? undefined : key,
  append: values.append,
  qemuArgs:
    stage2 && cred
      ? ["ssh.ephemeral-authorized_keys-all", "ssh.authorized_keys.root"].flatMap((n) => ["-smbios", `type=11,value=io.systemd.credential.binary:${n}=${cred}`])
      : [],
  readyTimeoutMs: 420_000,
  keepDir: true,
});
console.log(`ready after ${vm.bootMs} ms`);
console.log(`hybrid socket: ${vm.hybridSock}`);
console.log(`console log:   ${vm.consoleLog}`);
console.log(`qemu pid ${vm.qemuPid}, vhost-device-vsock pid ${vm.daemonPid}`);
console.log(
  `ssh -o ${shellQuote(`ProxyCommand=${proxyCommandWord(`${repoRoot}/dist/systemd-ssh-proxy`)} %n %p`)} -o ProxyUseFdpass=yes ` +
    `-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@vsock-mux/${vm.hybridSock}`,
);

let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  await vm.stop();
  console.log(`stopped; logs kept in ${vm.dir}`);
  process.exit(0);
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
await new Promise(() => {});

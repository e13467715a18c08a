// Boot the stage-1 guest by hand and keep it up until Ctrl-C (or SIGTERM).
//
//   bun scripts/vm/boot.ts [--key ~/.ssh/id_ed25519.pub] [--mem 1024] [--cpu max] [--extra PATH]...
//
// Prints the hybrid socket and a ready-made ssh command line. Teardown kills QEMU and
// vhost-device-vsock by PID.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { bootVm, buildGuest, repoRoot } from "./lab.ts";

const { values } = parseArgs({
  options: {
    key: { type: "string" },
    mem: { type: "string" },
    cpu: { type: "string" },
    extra: { type: "string", multiple: true },
  },
});

const build = buildGuest({ extra: values.extra ?? [] });
const vm = await bootVm({
  build,
  memMb: values.mem ? Number(values.mem) : undefined,
  cpu: values.cpu,
  authorizedKey: values.key ? readFileSync(values.key, "utf8") : undefined,
  keepDir: true,
});
console.log(`ready after ${vm.bootMs} ms`);
console.log(`hybrid socket: ${vm.hybridSock}`);
console.log(`console log:   ${vm.consoleLog}`);
console.log(`qemu pid ${vm.qemuPid}, vhost-device-vsock pid ${vm.daemonPid}`);
console.log(
  `ssh -o ProxyCommand='${repoRoot}/node_modules/.bin/bun ${repoRoot}/test/vm/standin-vsock-mux-proxy.ts ${vm.hybridSock} 22' ` +
    `-o ProxyUseFdpass=no -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@vm`,
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

// The qemu/ lookup's cost (scripts/bench qemu): from the host argument to the resolved CID, in-process
// (libvirt and libxml2 loaded, a read-only connection, the lookup, the XML, the XPath), and as whole
// processes: `systemd-ssh resolve qemu:system/NAME 22` against `virsh domid NAME` on the same URI, and
// against `systemd-ssh resolve vsock/42 22` (the same process without libvirt). With --uri=URI and
// --domain=NAME it measures that domain (a real daemon); by default libvirt's test driver.
// No targets: libvirt's own connect dominates, and that is what virsh pays too.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const REPO = join(import.meta.dir, "..");
const BIN = join(REPO, "dist/systemd-ssh");
const opt = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const RUNS = Number(opt("runs") ?? 20);

const work = mkdtempSync(join(tmpdir(), "systemd-ssh-bench-qemu-"));
process.on("exit", () => rmSync(work, { recursive: true, force: true }));

let uri = opt("uri");
const domain = opt("domain") ?? "alpha";
if (!uri) {
  const node = join(work, "node.xml");
  writeFileSync(
    node,
    `<node><domain type='test'><name>alpha</name><memory>65536</memory><os><type>hvm</type></os>
<devices><vsock model='virtio'><cid auto='no' address='42'/></vsock></devices></domain></node>\n`,
  );
  uri = `test://${node}`;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function wall(cmd: string[], env: Record<string, string>): number {
  const t = performance.now();
  const r = Bun.spawnSync(cmd, { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const dt = performance.now() - t;
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
  return dt;
}

// In-process: a fresh process per run, so libvirt.so.0 and libxml2 are loaded cold each time, as in the proxy.
const probe = join(work, "probe.ts");
writeFileSync(
  probe,
  `import { parseHostSpec, resolveTarget } from ${JSON.stringify(join(REPO, "src/proxy/core.ts"))};
import { realEffects } from ${JSON.stringify(join(REPO, "src/proxy/effects.ts"))};
const host = process.argv[2];
const t0 = performance.now();
const spec = parseHostSpec(host);
const lookups = await realEffects.lookups(spec);
const t1 = performance.now();
const first = resolveTarget(spec, "22", lookups);
const t2 = performance.now();
resolveTarget(spec, "22", lookups);
const t3 = performance.now();
if (first.kind !== "vsock") throw new Error("no CID");
console.log([t1 - t0, t2 - t1, t3 - t2, t3 - t0 - (t3 - t2)].map((x) => x.toFixed(3)).join(" "));
`,
);
const BUN = join(REPO, "node_modules/.bin/bun");
const env = { SYSTEMD_SSH_LIBVIRT_SYSTEM_URI: uri };
const inproc: number[][] = [[], [], [], []];
const ours: number[] = [];
const virsh: number[] = [];
const plain: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const r = Bun.spawnSync([BUN, probe, `qemu:system/${domain}`], { env: { ...process.env, ...env }, stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(r.stderr.toString());
  r.stdout.toString().trim().split(" ").map(Number).forEach((v, k) => inproc[k]!.push(v));
  ours.push(wall([BIN, "resolve", `qemu:system/${domain}`, "22"], env));
  virsh.push(wall(["virsh", "-c", uri, "domid", domain], {}));
  plain.push(wall([BIN, "resolve", "vsock/42", "22"], {}));
}
const f = (x: number) => `${x.toFixed(2)} ms`;
console.log(`\n## qemu/ lookup (${RUNS} runs, median) on ${uri}, domain ${domain}`);
console.log(`in-process, host argument to CID:       ${f(median(inproc[3]!))}`);
console.log(`  of which loading the lookup modules:  ${f(median(inproc[0]!))}`);
console.log(`  first lookup (dlopen, connect, XML):  ${f(median(inproc[1]!))}`);
console.log(`  a second lookup (libraries loaded):   ${f(median(inproc[2]!))}`);
console.log(`process: systemd-ssh resolve qemu:…     ${f(median(ours))}`);
console.log(`process: virsh -c URI domid NAME        ${f(median(virsh))}`);
console.log(`process: systemd-ssh resolve vsock/42   ${f(median(plain))}  (the same process without libvirt)`);

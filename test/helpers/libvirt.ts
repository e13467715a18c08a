// libvirt for tests: whether its client library and tools are here, and test-driver node files
// (test:///PATH/node.xml: domains libvirt serves from a file, in-process, with no daemon). With CI=true a
// missing libvirt is a failure, not a skip (scripts/ensure-deps installs it as root).

import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

function loads(): boolean {
  const r = Bun.spawnSync(["virsh", "--version"], { stdout: "ignore", stderr: "ignore" });
  return r.exitCode === 0;
}

/** libvirt0 and libvirt-clients (virsh) are installed. */
export const HAVE_LIBVIRT = (() => {
  try {
    return loads();
  } catch {
    return false;
  }
})();

function hasQemuDriver(): boolean {
  try {
    return readdirSync("/usr/lib").some((d) => existsSync(`/usr/lib/${d}/libvirt/connection-driver/libvirt_driver_qemu.so`));
  } catch {
    return false;
  }
}

/** The session daemon can run here: libvirtd, its QEMU driver, and QEMU (the driver needs it to define a domain). */
export const HAVE_SESSION_DAEMON =
  HAVE_LIBVIRT && existsSync("/usr/sbin/libvirtd") && existsSync("/usr/bin/qemu-system-x86_64") && hasQemuDriver();

export function requireOrSkip(have: boolean, what: string): boolean {
  if (!have && process.env.CI === "true") throw new Error(`${what} missing (CI=true): run scripts/ensure-deps libvirt libvirtd as root`);
  return have;
}

export interface TestDomain {
  name: string;
  uuid?: string;
  /** The <vsock> elements' inner XML, e.g. `<cid auto='no' address='42'/>`; none: no vsock device. */
  vsock?: string;
  /** Shut off (libvirt's test driver starts every domain of a node file unless told otherwise). */
  off?: boolean;
}

export function nodeXml(domains: TestDomain[]): string {
  const body = domains
    .map(
      (d) => `  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>${d.name}</name>${d.uuid ? `\n    <uuid>${d.uuid}</uuid>` : ""}
    <memory>65536</memory>
    <os><type>hvm</type></os>
    <devices>${d.vsock === undefined ? "" : `<vsock model='virtio'>${d.vsock}</vsock>`}</devices>${d.off ? "\n    <test:runstate>5</test:runstate>" : ""}
  </domain>`,
    )
    .join("\n");
  return `<node>\n${body}\n</node>\n`;
}

/** Write a node file into dir; returns its test:/// URI. */
export function writeNode(dir: string, file: string, domains: TestDomain[]): string {
  const path = join(dir, file);
  writeFileSync(path, nodeXml(domains));
  return `test://${path}`;
}

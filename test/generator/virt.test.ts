// Virtualization detection (src/shared/virt.ts) over fake probes, and on this machine against the reference's
// systemd-detect-virt.

import { describe, expect, test } from "bun:test";
import { detectVirtualization, realProbe, type Probe, VirtDetector } from "../../src/shared/virt.ts";
import { requireReference } from "../helpers/reference.ts";

function probe(files: Record<string, string>, over: Partial<Probe> = {}): Probe {
  const has = (p: string) => Object.hasOwn(files, p) || Object.keys(files).some((f) => f.startsWith(`${p}/`));
  return {
    readFile: (p) => (Object.hasOwn(files, p) ? files[p]! : { errno: "ENOENT" }),
    access: (p) => (has(p) ? null : "ENOENT"),
    readdir: (p) => (has(p) ? Object.keys(files).filter((f) => f.startsWith(`${p}/`)).map((f) => f.slice(p.length + 1).split("/")[0]!) : { errno: "ENOENT" }),
    pid: 1000,
    getenv: () => undefined,
    cgroupUnified: () => true,
    arch: "x64",
    ...over,
  };
}

const KVM_CPU = { "/proc/cpuinfo": "vendor_id\t: GenuineIntel\nflags\t\t: fpu vme hypervisor lm\n", "/sys/devices/system/clocksource/clocksource0/available_clocksource": "kvm-clock tsc \n" };

describe("containers", () => {
  const cases: Array<[string, Record<string, string>, Partial<Probe>, string | null]> = [
    ["nothing", {}, {}, null],
    ["/.dockerenv", { "/.dockerenv": "" }, {}, "docker"],
    ["/run/.containerenv wins over /.dockerenv", { "/.dockerenv": "", "/run/.containerenv": "" }, {}, "podman"],
    ["/run/systemd/container", { "/run/systemd/container": "systemd-nspawn\n" }, {}, "systemd-nspawn"],
    ["/run/host/container-manager first", { "/run/host/container-manager": "lxc\n", "/run/systemd/container": "docker" }, {}, "lxc"],
    ["unknown name", { "/run/systemd/container": "acme\n" }, {}, "container-other"],
    ["oci + docker file", { "/run/systemd/container": "oci", "/.dockerenv": "" }, {}, "docker"],
    ["oci alone", { "/run/systemd/container": "oci" }, {}, "container-other"],
    ["PID 1's environment", { "/proc/1/environ": "A=b\0container=lxc-libvirt\0" }, {}, "lxc-libvirt"],
    ["PID 1: own $container", {}, { pid: 1, getenv: (n) => (n === "container" ? "podman" : undefined) }, "podman"],
    ["PID 1: empty $container means none", { "/.dockerenv": "" }, { pid: 1, getenv: (n) => (n === "container" ? "" : undefined) }, null],
    ["WSL", { "/proc/sys/kernel/osrelease": "5.15.0-microsoft-WSL2\n" }, {}, "wsl"],
    ["openvz", { "/proc/vz/x": "" }, {}, "openvz"],
    ["cgroup namespace (v2, not root)", { "/proc/self/ns/cgroup": "", "/sys/fs/cgroup/cgroup.events": "", "/sys/fs/cgroup/cgroup.type": "" }, {}, "container-other"],
  ];
  for (const [name, files, over, want] of cases) {
    test(name, () => expect(new VirtDetector(probe(files, over)).detectContainer()).toBe(want));
  }
});

describe("VMs", () => {
  const cases: Array<[string, Record<string, string>, Partial<Probe>, string | null]> = [
    ["bare metal", { "/proc/cpuinfo": "flags\t: fpu\n" }, {}, null],
    ["KVM (hypervisor flag + kvm-clock)", KVM_CPU, {}, "kvm"],
    ["QEMU TCG (flag, no kvm-clock, DMI says QEMU)", { "/proc/cpuinfo": "flags : hypervisor\n", "/sys/class/dmi/id/sys_vendor": "QEMU\n" }, {}, "qemu"],
    ["unknown hypervisor", { "/proc/cpuinfo": "flags : hypervisor\n" }, {}, "vm-other"],
    ["VirtualBox by DMI before CPUID", { ...KVM_CPU, "/sys/class/dmi/id/product_name": "VirtualBox\n" }, {}, "oracle"],
    ["Hyper-V enlightenments on QEMU: DMI decides", { "/proc/cpuinfo": "flags : hypervisor\n", "/sys/devices/system/clocksource/clocksource0/available_clocksource": "hyperv_clocksource_tsc_page\n", "/sys/class/dmi/id/sys_vendor": "QEMU" }, {}, "qemu"],
    ["Hyper-V", { "/proc/cpuinfo": "flags : hypervisor\n", "/sys/devices/system/clocksource/clocksource0/available_clocksource": "hyperv_clocksource_tsc_page\n" }, {}, "microsoft"],
    ["Xen domU", { "/proc/xen/x": "" }, {}, "xen"],
    ["UML", { "/proc/cpuinfo": "vendor_id\t: User Mode Linux\n" }, {}, "uml"],
    ["/sys/hypervisor/type", { "/sys/hypervisor/type": "foo\n" }, {}, "vm-other"],
    ["device tree KVM (arm64)", { "/proc/device-tree/hypervisor/compatible": "linux,kvm" }, { arch: "arm64" }, "kvm"],
    ["device tree fw-cfg (arm64)", { "/proc/device-tree/fw-cfg@9020000/x": "" }, { arch: "arm64" }, "qemu"],
    // systemd has no CPUID stage off x86: on arm64 a hypervisor flag and kvm-clock say nothing, DMI still does.
    ["arm64: no CPUID stage", KVM_CPU, { arch: "arm64" }, null],
    ["arm64: DMI still decides", { ...KVM_CPU, "/sys/class/dmi/id/sys_vendor": "QEMU\n" }, { arch: "arm64" }, "qemu"],
    ["Amazon metal", { "/sys/class/dmi/id/sys_vendor": "Amazon EC2", "/sys/class/dmi/id/product_name": "c5.metal\n" }, {}, null],
    ["Amazon VM", { "/sys/class/dmi/id/sys_vendor": "Amazon EC2", "/sys/class/dmi/id/product_name": "c5.large\n" }, {}, "amazon"],
  ];
  for (const [name, files, over, want] of cases) {
    test(name, () => expect(new VirtDetector(probe(files, over)).detectVm()).toBe(want));
  }
  test("both answers at once", () => {
    expect(detectVirtualization(probe({ ...KVM_CPU, "/.dockerenv": "" }))).toEqual({ vm: "kvm", container: "docker" });
  });
});

const ref = requireReference("262");
describe.skipIf(!ref)("this machine, against systemd-detect-virt 262", () => {
  const ask = (flag: string) => Bun.spawnSync([ref!.tool("systemd-detect-virt"), flag]).stdout.toString().trim();
  test("--container and --vm", () => {
    const d = detectVirtualization(realProbe());
    expect(d.container ?? "none").toBe(ask("--container"));
    expect(d.vm ?? "none").toBe(ask("--vm"));
  });
});

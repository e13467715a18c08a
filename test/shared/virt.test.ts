// Virtualization detection (src/shared/virt.ts) over fake probes, and on this machine against the reference's
// systemd-detect-virt.

import { describe, expect, test } from "bun:test";
import { detectVirtualization, realProbe, type Probe, VirtDetector } from "../../src/shared/virt.ts";
import type { CpuidRegisters } from "../../ffi/cpuid.ts";
import { SysError } from "../../ffi/errors.ts";
import { requireReference } from "../helpers/reference.ts";

/** A CPU whose leaf 1 has the hypervisor bit when `signature` is given, leaf 0x40000000 returning it. */
function fakeCpuid(signature: string | null, maxLeaf = 0xd): (leaf: number) => CpuidRegisters {
  const words = (sig: string) => {
    const b = Buffer.alloc(12);
    b.write(sig, "latin1");
    return [b.readUInt32LE(0), b.readUInt32LE(4), b.readUInt32LE(8)] as const;
  };
  return (leaf) => {
    if (leaf === 0) return { eax: maxLeaf, ...Object.fromEntries(["ebx", "edx", "ecx"].map((r, i) => [r, words("GenuineIntel")[i]])) } as CpuidRegisters;
    if (leaf === 1) return { eax: 0x806f8, ebx: 0, ecx: signature === null ? 0x7ffafbff : 0xfffafbff, edx: 0xbfebfbff };
    if (leaf === 0x40000000 && signature !== null) {
      const [ebx, ecx, edx] = words(signature);
      return { eax: 0x40000001, ebx, ecx, edx };
    }
    throw new Error(`unexpected CPUID leaf ${leaf.toString(16)}`);
  };
}

const noExec = () => {
  throw Object.assign(new Error("mprotect: Permission denied"), { syscall: "mprotect", strerror: "Permission denied" });
};

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
    cpuid: fakeCpuid(null),
    ...over,
  };
}

const KVM = { cpuid: fakeCpuid("KVMKVMKVM") };
const CLOCKS = "/sys/devices/system/clocksource/clocksource0/available_clocksource";
const HV_FLAG = { "/proc/cpuinfo": "vendor_id\t: GenuineIntel\nflags\t\t: fpu vme hypervisor lm\n" };

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
    ["proot: traced by it", { "/proc/self/status": "Name:\tx\nTracerPid:\t 4321\nUid:\t0\n", "/proc/4321/comm": "proot\n" }, {}, "proot"],
    ["proot: TracerPid on the first line", { "/proc/self/status": "TracerPid:\t4321", "/proc/4321/comm": "proot" }, {}, "proot"],
    ["traced by another program", { "/proc/self/status": "TracerPid:\t4321\n", "/proc/4321/comm": "gdb\n" }, {}, null],
    ["not traced", { "/proc/self/status": "TracerPid:\t0\n", "/proc/0/comm": "proot\n" }, {}, null],
    ["a tracer PID that is no number", { "/proc/self/status": "TracerPid:\t04321\n", "/proc/04321/comm": "proot\n" }, {}, null],
    ["only a field that ends in TracerPid", { "/proc/self/status": "NoTracerPid:\t4321\n", "/proc/4321/comm": "proot\n" }, {}, null],
    ["openvz", { "/proc/vz/x": "" }, {}, "openvz"],
    ["cgroup namespace (v2, not root)", { "/proc/self/ns/cgroup": "", "/sys/fs/cgroup/cgroup.events": "", "/sys/fs/cgroup/cgroup.type": "" }, {}, "container-other"],
  ];
  for (const [name, files, over, want] of cases) {
    test(name, () => expect(new VirtDetector(probe(files, over)).detectContainer()).toBe(want));
  }
});

describe("hard failures", () => {
  // systemd's detect_container() and detect_vm() return the errno of a read they cannot do without; ours
  // throw it as a SysError, whose text is what the tools print for "%m".
  const failing = (path: string): Partial<Probe> => ({
    readFile: (p) => (p === path ? { errno: "EIO" } : { errno: "ENOENT" }),
  });
  test("an unreadable /run/host/container-manager", () => {
    const detect = () => new VirtDetector(probe({}, failing("/run/host/container-manager"))).detectContainer();
    expect(detect).toThrow(SysError);
    expect(detect).toThrow("read /run/host/container-manager: Input/output error");
  });
  test("an unreadable DMI field", () => {
    const detect = () => new VirtDetector(probe({}, failing("/sys/class/dmi/id/product_name"))).detectVm();
    expect(detect).toThrow(SysError);
    expect(detect).toThrow("read /sys/class/dmi/id/product_name: Input/output error");
  });
});

describe("VMs", () => {
  const cases: Array<[string, Record<string, string>, Partial<Probe>, string | null]> = [
    ["bare metal", { "/proc/cpuinfo": "flags\t: fpu\n" }, {}, null],
    ["KVM by CPUID", {}, KVM, "kvm"],
    ["QEMU TCG by CPUID, whatever DMI says", { "/sys/class/dmi/id/sys_vendor": "QEMU\n" }, { cpuid: fakeCpuid("TCGTCGTCGTCG") }, "qemu"],
    ["KVM by CPUID over DMI's QEMU", { "/sys/class/dmi/id/sys_vendor": "QEMU\n" }, KVM, "kvm"],
    ["bhyve by CPUID, kvm-clock notwithstanding", { ...HV_FLAG, [CLOCKS]: "kvm-clock tsc\n" }, { cpuid: fakeCpuid("bhyve bhyve ") }, "bhyve"],
    ["unknown signature", {}, { cpuid: fakeCpuid("ACME ACME AC") }, "vm-other"],
    ["a known name with trailing bytes is unknown", {}, { cpuid: fakeCpuid("KVMKVMKVMxyz") }, "vm-other"],
    ["hypervisor bit with an empty signature", {}, { cpuid: fakeCpuid("") }, "vm-other"],
    ["unknown signature, DMI names it", { "/sys/class/dmi/id/sys_vendor": "QEMU\n" }, { cpuid: fakeCpuid("ACME ACME AC") }, "qemu"],
    ["no leaf 1: no CPUID stage", { "/sys/class/dmi/id/sys_vendor": "QEMU\n" }, { cpuid: fakeCpuid("KVMKVMKVM", 0) }, "qemu"],
    ["VirtualBox by DMI before CPUID", { "/sys/class/dmi/id/product_name": "VirtualBox\n" }, KVM, "oracle"],
    ["Hyper-V enlightenments on QEMU: DMI decides", { "/sys/class/dmi/id/sys_vendor": "QEMU" }, { cpuid: fakeCpuid("Microsoft Hv") }, "qemu"],
    ["Hyper-V", {}, { cpuid: fakeCpuid("Microsoft Hv") }, "microsoft"],
    ["Xen domU", { "/proc/xen/x": "" }, KVM, "xen"],
    ["Xen dom0 nested in KVM", { "/proc/xen/x": "", "/proc/xen/capabilities": "control_d\n" }, KVM, "kvm"],
    ["Xen dom0 on metal", { "/proc/xen/x": "", "/proc/xen/capabilities": "control_d\n" }, {}, null],
    ["UML", { "/proc/cpuinfo": "vendor_id\t: User Mode Linux\n" }, {}, "uml"],
    ["UML, vendor_id after other lines", { "/proc/cpuinfo": "processor\t: 0\nvendor_id\t: User Mode Linux\n" }, {}, "uml"],
    // systemd reads the first vendor_id line only; the word must start the line.
    ["UML only on a later CPU's line", { "/proc/cpuinfo": "vendor_id\t: GenuineIntel\nvendor_id\t: User Mode Linux\n" }, {}, null],
    ["UML not at a line's start", { "/proc/cpuinfo": "x vendor_id\t: User Mode Linux\n" }, {}, null],
    ["/sys/hypervisor/type", { "/sys/hypervisor/type": "foo\n" }, {}, "vm-other"],
    ["device tree KVM (arm64)", { "/proc/device-tree/hypervisor/compatible": "linux,kvm" }, { arch: "arm64", cpuid: noExec }, "kvm"],
    ["device tree fw-cfg (arm64)", { "/proc/device-tree/fw-cfg@9020000/x": "" }, { arch: "arm64", cpuid: noExec }, "qemu"],
    // systemd has no CPUID stage off x86: on arm64 even a CPU that would answer KVM is not asked; DMI still counts.
    ["arm64: no CPUID stage", { ...HV_FLAG, [CLOCKS]: "kvm-clock tsc \n" }, { arch: "arm64", ...KVM }, null],
    ["arm64: DMI still decides", { ...HV_FLAG, "/sys/class/dmi/id/sys_vendor": "QEMU\n" }, { arch: "arm64", ...KVM }, "qemu"],
    ["Amazon metal", { "/sys/class/dmi/id/sys_vendor": "Amazon EC2", "/sys/class/dmi/id/product_name": "c5.metal\n" }, {}, null],
    ["Amazon VM", { "/sys/class/dmi/id/sys_vendor": "Amazon EC2", "/sys/class/dmi/id/product_name": "c5.large\n" }, {}, "amazon"],
    // CPUID cannot run (no executable memory): the kernel's view of it.
    ["no CPUID, no hypervisor flag", { "/proc/cpuinfo": "flags\t: fpu\n" }, { cpuid: noExec }, null],
    ["no CPUID, hypervisor flag, kvm-clock proves nothing", { ...HV_FLAG, [CLOCKS]: "kvm-clock tsc\n" }, { cpuid: noExec }, "vm-other"],
    ["no CPUID, hypervisor flag, DMI names it", { ...HV_FLAG, [CLOCKS]: "kvm-clock tsc\n", "/sys/class/dmi/id/sys_vendor": "QEMU\n" }, { cpuid: noExec }, "qemu"],
    ["no CPUID, Xen's clock source", { ...HV_FLAG, [CLOCKS]: "xen tsc\n" }, { cpuid: noExec }, "xen"],
    ["no CPUID, Hyper-V's clock source", { ...HV_FLAG, [CLOCKS]: "hyperv_clocksource_tsc_page\n" }, { cpuid: noExec }, "microsoft"],
  ];
  for (const [name, files, over, want] of cases) {
    test(name, () => expect(new VirtDetector(probe(files, over)).detectVm()).toBe(want));
  }
  test("both answers at once", () => {
    expect(detectVirtualization(probe({ "/.dockerenv": "" }, KVM))).toEqual({ vm: "kvm", container: "docker" });
  });
});

describe("the CPUID vendor table", () => {
  // systemd 262's vm_table, in its order, with the ids virtualization_to_string() gives them.
  const table: Array<[string, string]> = [
    ["XenVMMXenVMM", "xen"], ["KVMKVMKVM", "kvm"], ["Linux KVM Hv", "kvm"], ["TCGTCGTCGTCG", "qemu"],
    ["VMwareVMware", "vmware"], ["Microsoft Hv", "microsoft"], ["bhyve bhyve ", "bhyve"], ["QNXQVMBSQG", "qnx"],
    ["ACRNACRNACRN", "acrn"], ["SRESRESRESRE", "sre"], ["Apple VZ", "apple"],
  ];
  for (const [sig, id] of table) {
    test(`${JSON.stringify(sig)} → ${id}`, () => {
      const lines: string[] = [];
      // Microsoft's answer waits for the later stages; with nothing else found it stands.
      expect(new VirtDetector(probe({}, { cpuid: fakeCpuid(sig) }), (m) => lines.push(m)).detectVm()).toBe(id);
      expect(lines).toContain(`Virtualization found, CPUID=${sig}`);
      expect(lines.at(-1)).toBe(`Found VM virtualization ${id}`);
    });
  }
});

describe("the CPUID stage's debug lines", () => {
  const linesFor = (over: Partial<Probe>, files: Record<string, string> = {}) => {
    const lines: string[] = [];
    new VirtDetector(probe(files, over), (m) => lines.push(m)).detectVm();
    return lines.filter((l) => /CPUID/.test(l));
  };
  test("no hypervisor", () => expect(linesFor({})).toEqual(["No virtualization found in CPUID"]));
  test("an unknown signature", () =>
    expect(linesFor({ cpuid: fakeCpuid("ACME ACME AC") })).toEqual(["Virtualization found, CPUID=ACME ACME AC", "Unknown virtualization with CPUID=ACME ACME AC. Add to vm_table[]?"]));
  test("a signature with a NUL is printed up to it", () =>
    expect(linesFor({ cpuid: fakeCpuid("KVMKVMKVM\0xy") })).toEqual(["Virtualization found, CPUID=KVMKVMKVM", "Unknown virtualization with CPUID=KVMKVMKVM. Add to vm_table[]?"]));
  test("no leaf 1: nothing, as __get_cpuid() fails", () => expect(linesFor({ cpuid: fakeCpuid("KVMKVMKVM", 0) })).toEqual([]));
  test("arm64: the stage is skipped but says so, CPUID is never run", () =>
    expect(linesFor({ arch: "arm64", cpuid: noExec })).toEqual(["No virtualization found in CPUID"]));
  test("no executable memory: the fallback says so", () =>
    expect(linesFor({ cpuid: noExec }, HV_FLAG)).toEqual([
      "Cannot execute CPUID (mprotect: Permission denied), using the kernel's view of it instead.",
      "Unknown virtualization with CPUID hypervisor flag set (vendor not visible without CPUID).",
    ]));
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

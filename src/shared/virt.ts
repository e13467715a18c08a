// Virtualization detection with systemd's answers (src/basic/virt.c: detect_vm(), detect_container(),
// detect_virtualization()), over an injected Probe so that every branch can be driven from tests and so that
// systemd-ssh-issue can share it.
//
// The CPUID stage executes CPUID as systemd does (ffi/cpuid.ts): leaf 1's hypervisor bit, then leaf
// 0x40000000's vendor signature against systemd's table. Only where the kernel will not let us run code
// (no executable memory) do we fall back to its view of CPUID, and say so in the debug log.

import { Errno, errnoFromName, type ErrnoName } from "../../ffi/errno.ts";
import { cpuid, type CpuidRegisters } from "../../ffi/cpuid.ts";
import { SysError } from "../../ffi/errors.ts";
import * as ffi from "../../ffi/fs.ts";
import { readFile, readFileOrErrno } from "../../ffi/io.ts";
import { errnoName, errnoNameOf, strerrorName } from "./errno-name.ts";
import { isDigits } from "./parse-number.ts";
import { fromBytes as latin1 } from "./raw-bytes.ts";

/** What detection reads. Paths are absolute; contents are byte strings (latin1). */
export interface Probe {
  /** Whole file, or the errno name ("ENOENT", "EACCES", …). */
  readFile(path: string): string | { errno: ErrnoName };
  /** access(path, F_OK): null when it exists, else the errno name. */
  access(path: string): ErrnoName | null;
  /** Names in a directory, or the errno name. */
  readdir(path: string): string[] | { errno: ErrnoName };
  /** Our PID (detect_container() trusts $container only in PID 1). */
  pid: number;
  /** Our own environment. */
  getenv(name: string): string | undefined;
  /** Whether /sys/fs/cgroup is cgroup2 (cg_all_unified()); an errno name when unknown. */
  cgroupUnified(): boolean | ErrnoName;
  /** process.arch style: "x64", "arm64", … */
  arch: string;
  /** CPUID for `leaf` (subleaf 0); x86-64 only. Throws when the instruction cannot be run here. */
  cpuid(leaf: number): CpuidRegisters;
}

export type Log = (message: string) => void;

export interface Detection {
  vm: string | null;
  container: string | null;
}

/** detect_vm_cpuid()'s table: leaf 0x40000000's 12-byte signature (NUL-padded) → systemd's id, in its order. */
const CPUID_VENDORS: ReadonlyArray<readonly [string, string]> = [
  ["XenVMMXenVMM", "xen"], ["KVMKVMKVM", "kvm"], ["Linux KVM Hv", "kvm"], ["TCGTCGTCGTCG", "qemu"],
  ["VMwareVMware", "vmware"], ["Microsoft Hv", "microsoft"], ["bhyve bhyve ", "bhyve"], ["QNXQVMBSQG", "qnx"],
  ["ACRNACRNACRN", "acrn"], ["SRESRESRESRE", "sre"], ["Apple VZ", "apple"],
];

/** The container managers systemd names as such, each between spaces (a Set made from an array costs a start
 * more than the lookup). */
const CONTAINER_NAMES = " lxc lxc-libvirt systemd-nspawn docker podman rkt wsl proot pouch ";

/** A read that detection cannot do without failed: systemd's detect_*() return its errno, we throw it. */
function readFailed(path: string, errno: ErrnoName): SysError {
  return new SysError(`read ${path}`, errnoFromName(errno)!);
}

function isErr(x: unknown): x is { errno: ErrnoName } {
  return typeof x === "object" && x !== null && "errno" in x;
}

/** read_one_line_file(): the first line (up to \n, \r or NUL); with the byte count read, as systemd returns it. */
function readOneLine(p: Probe, path: string): { line: string; count: number } | { errno: ErrnoName } {
  const all = p.readFile(path);
  if (isErr(all)) return all;
  // The first \n, \r or NUL, found without a regular expression (compiling one costs about 0.3 ms, on
  // every boot that detects virtualization).
  let end = -1;
  for (const c of ["\n", "\r", "\0"]) {
    const i = all.indexOf(c);
    if (i >= 0 && (end < 0 || i < end)) end = i;
  }
  if (end < 0) return { line: all, count: all.length };
  let count = end;
  // Count the end-of-line marker(s) the way read_line() consumes them.
  let prev = 0;
  for (let i = end; i < all.length; i++) {
    const c = all[i]!;
    const eol = c === "\n" ? 2 : c === "\r" ? 4 : c === "\0" ? 1 : 0;
    if (prev & 1 || (eol === 0 && prev !== 0) || (eol !== 0 && (prev & eol) !== 0)) break;
    if (eol === 0) break;
    prev |= eol;
    count++;
  }
  return { line: all.slice(0, end), count };
}

/** The value of a "Name:" line of a /proc status file (spaces and tabs after the colon skipped), or undefined. */
function statusField(status: string, name: string): string | undefined {
  const key = `${name}:`;
  let at = 0;
  if (!status.startsWith(key)) {
    const nl = status.indexOf(`\n${key}`);
    if (nl < 0) return undefined;
    at = nl + 1;
  }
  at += key.length;
  while (status[at] === " " || status[at] === "\t") at++;
  const end = status.indexOf("\n", at);
  return status.slice(at, end < 0 ? status.length : end);
}

/** The environment variable `name` of PID 1 (getenv_for_pid()); null when unset. */
function pid1Getenv(p: Probe, name: string): string | null | { errno: ErrnoName } {
  if (p.pid === 1) return p.getenv(name) ?? null;
  const env = p.readFile("/proc/1/environ");
  if (isErr(env)) return env;
  for (const entry of env.split("\0")) if (entry.startsWith(`${name}=`)) return entry.slice(name.length + 1);
  return null;
}

export class VirtDetector {
  private container: string | null | undefined;
  private vm: string | null | undefined;

  /** `debug`: where the debug lines go, if anywhere. Without one, none is even built (an optional call does
   * not evaluate its arguments): several name an errno's text, and libc's strerror() costs a start. */
  constructor(private readonly probe: Probe, private readonly debug?: Log) {}

  private containerFiles(): string | null {
    for (const [path, id] of [["/run/.containerenv", "podman"], ["/.dockerenv", "docker"]] as const) {
      const e = this.probe.access(path);
      if (e === null) return id;
      if (e !== "ENOENT") this.debug?.(`Checking if ${path} exists failed, ignoring: ${strerrorName(e)}`);
    }
    return null;
  }

  private cgroupns(): boolean | ErrnoName {
    const p = this.probe;
    if (p.access("/proc/self/ns/cgroup") !== null) return false;
    const unified = p.cgroupUnified();
    if (typeof unified === "string") return unified;
    if (unified) {
      const ev = p.access("/sys/fs/cgroup/cgroup.events");
      if (ev !== null) return ev === "ENOENT" ? false : ev;
      const ty = p.access("/sys/fs/cgroup/cgroup.type");
      if (ty === null) return true;
      if (ty !== "ENOENT") return ty;
      const feat = p.access("/sys/kernel/cgroup/features");
      if (feat !== null) return feat === "ENOENT" ? true : feat;
      return false;
    }
    const sd = p.access("/sys/fs/cgroup/systemd");
    if (sd !== null) return sd === "ENOENT" ? false : sd;
    const ra = p.access("/sys/fs/cgroup/systemd/release_agent");
    if (ra !== null) return ra === "ENOENT" ? true : ra;
    return false;
  }

  private translate(e: string): string {
    if (e === "oci") return this.containerFiles() ?? "container-other";
    return !e.includes(" ") && CONTAINER_NAMES.includes(` ${e} `) ? e : "container-other";
  }

  /** detect_container(): the container manager's id, or null. Throws SysError on hard failures. */
  detectContainer(): string | null {
    if (this.container !== undefined) return this.container;
    const v = this.detectContainerUncached();
    this.debug?.(`Found container virtualization ${v ?? "none"}.`);
    this.container = v;
    return v;
  }

  private detectContainerUncached(): string | null {
    const p = this.probe;
    const vz = p.access("/proc/vz");
    if (vz !== null) {
      if (vz !== "ENOENT") this.debug?.(`Failed to check if /proc/vz exists, ignoring: ${strerrorName(vz)}`);
    } else {
      const bc = p.access("/proc/bc");
      if (bc === "ENOENT") return "openvz";
      if (bc !== null) this.debug?.(`Failed to check if /proc/bc exists, ignoring: ${strerrorName(bc)}`);
    }
    const osr = readOneLine(p, "/proc/sys/kernel/osrelease");
    if (isErr(osr)) this.debug?.(`Failed to read /proc/sys/kernel/osrelease, ignoring: ${strerrorName(osr.errno)}`);
    else if (osr.line.includes("Microsoft") || osr.line.includes("WSL")) return "wsl";

    const status = p.readFile("/proc/self/status");
    if (isErr(status)) {
      this.debug?.(`Failed to read our own trace PID, ignoring: ${strerrorName(status.errno)}`);
    } else {
      const tracer = statusField(status, "TracerPid")?.trim();
      if (tracer !== undefined && tracer !== "0") {
        if (isDigits(tracer) && tracer[0] !== "0") {
          const comm = readOneLine(p, `/proc/${tracer}/comm`);
          if (isErr(comm)) this.debug?.(`Failed to read /proc/${tracer}/comm, ignoring: ${strerrorName(comm.errno)}`);
          else if (comm.line.startsWith("proot")) return "proot";
        } else {
          this.debug?.("Failed to parse our own tracer PID, ignoring: Invalid argument");
        }
      }
    }

    const cm = readOneLine(p, "/run/host/container-manager");
    if (!isErr(cm) && cm.count > 0) return this.translate(cm.line);
    if (isErr(cm) && cm.errno !== "ENOENT") {
      this.debug?.(`Failed to read /run/host/container-manager: ${strerrorName(cm.errno)}`);
      throw readFailed("/run/host/container-manager", cm.errno);
    }

    if (p.pid === 1) {
      const e = p.getenv("container");
      if (e !== undefined) return e === "" ? null : this.translate(e);
    } else {
      const sc = readOneLine(p, "/run/systemd/container");
      if (!isErr(sc) && sc.count > 0) return this.translate(sc.line);
      if (isErr(sc) && sc.errno !== "ENOENT") {
        this.debug?.(`Failed to read /run/systemd/container: ${strerrorName(sc.errno)}`);
        throw readFailed("/run/systemd/container", sc.errno);
      }
      const e = pid1Getenv(p, "container");
      if (isErr(e)) this.debug?.(`Failed to read $container of PID 1, ignoring: ${strerrorName(e.errno)}`);
      else if (e !== null && e !== "") return this.translate(e);
    }

    const files = this.containerFiles();
    if (files) return files;
    const ns = this.cgroupns();
    if (ns === true) return "container-other";
    if (typeof ns === "string") this.debug?.(`Failed to detect cgroup namespace: ${strerrorName(ns)}`);
    return null;
  }

  // --- VMs ---

  private dmiVendor(): string | null {
    const table: ReadonlyArray<readonly [string, string]> = [
      ["KVM", "kvm"], ["OpenStack", "kvm"], ["KubeVirt", "kvm"], ["Amazon EC2", "amazon"], ["QEMU", "qemu"],
      ["VMware", "vmware"], ["VMW", "vmware"], ["innotek GmbH", "oracle"], ["VirtualBox", "oracle"],
      ["Oracle Corporation", "oracle"], ["Xen", "xen"], ["Bochs", "bochs"], ["Parallels", "parallels"],
      ["BHYVE", "bhyve"], ["Hyper-V", "microsoft"], ["Apple Virtualization", "apple"],
      ["Google Compute Engine", "google"],
    ];
    for (const f of ["product_name", "sys_vendor", "board_vendor", "bios_vendor", "product_version"]) {
      const path = `/sys/class/dmi/id/${f}`;
      const s = readOneLine(this.probe, path);
      if (isErr(s)) {
        if (s.errno === "ENOENT") continue;
        throw readFailed(path, s.errno);
      }
      for (const [vendor, id] of table) {
        if (s.line.startsWith(vendor)) {
          this.debug?.(`Virtualization ${s.line} found in DMI (${path})`);
          return id;
        }
      }
    }
    this.debug?.("No virtualization found in DMI vendor table.");
    return null;
  }

  private smbiosVmBit(): "set" | "unset" | "unknown" {
    const raw = this.probe.readFile("/sys/firmware/dmi/entries/0-0/raw");
    if (isErr(raw)) {
      this.debug?.(`Unable to read /sys/firmware/dmi/entries/0-0/raw, using the virtualization information found in DMI vendor table, ignoring: ${strerrorName(raw.errno)}`);
      return "unknown";
    }
    if (raw.length < 20 || raw.charCodeAt(1) < 20) {
      this.debug?.(`Only read ${raw.length} bytes from /sys/firmware/dmi/entries/0-0/raw (expected 20). Using the virtualization information found in DMI vendor table.`);
      return "unknown";
    }
    if (raw.charCodeAt(19) & 0x10) {
      this.debug?.("DMI BIOS Extension table indicates virtualization.");
      return "set";
    }
    this.debug?.("DMI BIOS Extension table does not indicate virtualization.");
    return "unset";
  }

  private dmi(): string | null {
    if (!["x64", "ia32", "arm", "arm64", "loong64", "riscv64"].includes(this.probe.arch)) return null;
    const r = this.dmiVendor();
    if (r === "amazon") {
      const bit = this.smbiosVmBit();
      if (bit === "set") return "amazon";
      if (bit === "unset") return null;
      const pn = this.probe.readFile("/sys/class/dmi/id/product_name");
      if (isErr(pn)) return "amazon";
      const name = pn.replace(/\n$/, "");
      const at = name.indexOf(".metal");
      if (at >= 0 && (name.length === at + 6 || name[at + 6] === "-")) return null;
      return "amazon";
    }
    if (r === null && this.smbiosVmBit() === "set") return "vm-other";
    return r;
  }

  private uml(): string | null {
    const info = this.probe.readFile("/proc/cpuinfo");
    if (isErr(info)) {
      if (info.errno === "ENOENT") return null;
      throw readFailed("/proc/cpuinfo", info.errno);
    }
    // The first line that starts with "vendor_id\t: ", found without splitting the file into its lines
    // (some thirty per CPU).
    const key = "vendor_id\t: ";
    const at = info.startsWith(key) ? 0 : info.indexOf(`\n${key}`) + 1;
    if ((at > 0 || info.startsWith(key)) && info.startsWith("User Mode Linux", at + key.length)) {
      this.debug?.("UML virtualization found in /proc/cpuinfo");
      return "uml";
    }
    this.debug?.("UML virtualization not found in /proc/cpuinfo.");
    return null;
  }

  private xenDom0(): boolean {
    const f = readOneLine(this.probe, "/sys/hypervisor/properties/features");
    if (isErr(f) && f.errno !== "ENOENT") throw readFailed("/sys/hypervisor/properties/features", f.errno);
    if (!isErr(f)) {
      const m = /^\s*(?:0[xX])?([0-9a-fA-F]+)/.exec(f.line);
      if (m) return (Number.parseInt(m[1]!.slice(-8), 16) & (1 << 11)) !== 0;
    }
    const caps = readOneLine(this.probe, "/proc/xen/capabilities");
    if (isErr(caps)) {
      if (caps.errno === "ENOENT") return false;
      throw readFailed("/proc/xen/capabilities", caps.errno);
    }
    return caps.line.split(",").includes("control_d");
  }

  /** detect_vm_cpuid(). */
  private cpuid(): string | null {
    if (this.probe.arch !== "x64") {
      // systemd compiles the stage out on other architectures but still says so.
      this.debug?.("No virtualization found in CPUID");
      return null;
    }
    const leaf: (n: number) => CpuidRegisters = (n) => this.probe.cpuid(n);
    let max: number;
    try {
      max = leaf(0).eax;
    } catch (e) {
      return this.cpuidFromKernel(e);
    }
    // __get_cpuid(1) fails, and systemd returns without a word, when leaf 1 is beyond the highest leaf.
    if (max < 1) return null;
    if ((leaf(1).ecx & 0x80000000) === 0) {
      this.debug?.("No virtualization found in CPUID");
      return null;
    }
    const r = leaf(0x40000000);
    // ebx, ecx, edx as 12 bytes (a loop: flatMap() and a spread are builtins the engine compiles first).
    let sig = "";
    for (const w of [r.ebx, r.ecx, r.edx]) sig += String.fromCharCode(w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24);
    // Printed with %s: up to the first NUL. Matched on all 12 bytes plus the terminator, so "KVMKVMKVM"
    // matches only when followed by NULs.
    const text = sig.split("\0")[0]!;
    this.debug?.(`Virtualization found, CPUID=${text}`);
    for (const [vendor, id] of CPUID_VENDORS) if (sig === vendor.padEnd(12, "\0")) return id;
    this.debug?.(`Unknown virtualization with CPUID=${text}. Add to vm_table[]?`);
    return "vm-other";
  }

  /**
   * Where CPUID cannot be executed (the kernel refuses executable memory): the kernel's view of it. The
   * hypervisor bit is /proc/cpuinfo's "hypervisor" flag, which the kernel sets from it. The vendor only where a
   * clock source names it beyond doubt (Xen's, Hyper-V's); kvm-clock is not one, since other hypervisors offer
   * it too (a bhyve signature with kvm-clock has been seen). Otherwise "vm-other", which later stages refine.
   */
  private cpuidFromKernel(e: unknown): string | null {
    // A SysError's message is "syscall: strerror".
    const why = e instanceof Error ? e.message : String(e);
    this.debug?.(`Cannot execute CPUID (${why}), using the kernel's view of it instead.`);
    const info = this.probe.readFile("/proc/cpuinfo");
    const flags = isErr(info) ? [] : /^flags\s*:(.*)$/m.exec(info)?.[1]?.split(/\s+/) ?? [];
    if (!flags.includes("hypervisor")) {
      this.debug?.("No virtualization found in CPUID");
      return null;
    }
    const cs = this.probe.readFile("/sys/devices/system/clocksource/clocksource0/available_clocksource");
    const sources = isErr(cs) ? [] : cs.trim().split(/\s+/);
    const vendor = sources.includes("xen") ? ["XenVMMXenVMM", "xen"]
      : sources.some((s) => s.startsWith("hyperv_clocksource")) ? ["Microsoft Hv", "microsoft"] : null;
    if (vendor) {
      this.debug?.(`Virtualization found, CPUID=${vendor[0]}`);
      return vendor[1]!;
    }
    this.debug?.("Unknown virtualization with CPUID hypervisor flag set (vendor not visible without CPUID).");
    return "vm-other";
  }

  private hypervisorType(): string | null {
    const t = readOneLine(this.probe, "/sys/hypervisor/type");
    if (isErr(t)) {
      if (t.errno === "ENOENT") return null;
      throw readFailed("/sys/hypervisor/type", t.errno);
    }
    this.debug?.(`Virtualization ${t.line} found in /sys/hypervisor/type`);
    return t.line === "xen" ? "xen" : "vm-other";
  }

  private deviceTree(): string | null {
    if (!["arm", "arm64", "ppc", "ppc64", "riscv64"].includes(this.probe.arch)) return null;
    const p = this.probe;
    const hv = readOneLine(p, "/proc/device-tree/hypervisor/compatible");
    if (isErr(hv)) {
      if (hv.errno !== "ENOENT") throw readFailed("/proc/device-tree/hypervisor/compatible", hv.errno);
      if (p.access("/proc/device-tree/ibm,partition-name") === null && p.access("/proc/device-tree/hmc-managed?") === null &&
          p.access("/proc/device-tree/chosen/qemu,graphic-width") !== null) return "powervm";
      const dir = p.readdir("/proc/device-tree");
      if (isErr(dir)) {
        if (dir.errno === "ENOENT") return null;
        throw readFailed("/proc/device-tree", dir.errno);
      }
      if (dir.some((d) => d.includes("fw-cfg"))) return "qemu";
      const compat = readOneLine(p, "/proc/device-tree/compatible");
      if (isErr(compat) && compat.errno !== "ENOENT") throw readFailed("/proc/device-tree/compatible", compat.errno);
      if (!isErr(compat) && compat.line === "qemu,pseries") return "qemu";
      return null;
    }
    this.debug?.(`Virtualization ${hv.line} found in /proc/device-tree/hypervisor/compatible`);
    if (hv.line === "linux,kvm") return "kvm";
    if (hv.line.includes("xen")) return "xen";
    if (hv.line.includes("vmware")) return "vmware";
    return "vm-other";
  }

  /** detect_vm(): the hypervisor's id, or null. Throws SysError on hard failures. */
  detectVm(): string | null {
    if (this.vm !== undefined) return this.vm;
    let other = false;
    let hyperv = false;
    let v: string | null = null;
    const finish = (): string | null => {
      if (v === null) v = hyperv ? "microsoft" : other ? "vm-other" : null;
      this.vm = v;
      this.debug?.(`Found VM virtualization ${v ?? "none"}`);
      return v;
    };
    const dmi = this.dmi();
    if (dmi && ["oracle", "xen", "amazon", "parallels", "google"].includes(dmi)) {
      v = dmi;
      return finish();
    }
    v = this.uml();
    if (v) return finish();
    let dom0 = false;
    if (this.probe.access("/proc/xen") !== null) {
      this.debug?.("Virtualization XEN not found, /proc/xen does not exist");
    } else {
      this.debug?.("Virtualization XEN found (/proc/xen exists)");
      dom0 = this.xenDom0();
      if (!dom0) {
        v = "xen";
        return finish();
      }
    }
    v = this.cpuid();
    if (v === "microsoft") {
      hyperv = true;
      v = null;
    } else if (v === "vm-other") {
      other = true;
      v = null;
    } else if (v) return finish();
    if (dom0) return finish();
    if (dmi === "vm-other") other = true;
    else if (dmi) {
      v = dmi;
      return finish();
    }
    v = this.hypervisorType();
    if (v === "vm-other") {
      other = true;
      v = null;
    } else if (v) return finish();
    v = this.deviceTree();
    if (v === "vm-other") {
      other = true;
      v = null;
    } else if (v) return finish();
    return finish();
  }

  /** detect_virtualization(): a container wins over the VM it may run in. */
  detectVirtualization(): { kind: "container" | "vm"; id: string } | null {
    const c = this.detectContainer();
    if (c) return { kind: "container", id: c };
    const vm = this.detectVm();
    return vm ? { kind: "vm", id: vm } : null;
  }
}

/** Both answers at once, as systemd-detect-virt --vm and --container would give them. */
export function detectVirtualization(probe: Probe, debug?: Log): Detection {
  const d = new VirtDetector(probe, debug);
  let container: string | null = null;
  let vm: string | null = null;
  try {
    container = d.detectContainer();
  } catch {
    container = null;
  }
  try {
    vm = d.detectVm();
  } catch {
    vm = null;
  }
  return { vm, container };
}

/**
 * The real machine, read through libc (node:fs would cost the generator more to load than its work). Its
 * modules are static imports: both tools that detect have them loaded already, and a require() at run time
 * costs more than the module.
 */
export function realProbe(): Probe {
  const readText = (path: string): string => latin1(readFile(path));
  return {
    readFile(path) {
      const r = readFileOrErrno(path);
      return typeof r === "number" ? { errno: errnoName(Math.abs(r)) } : latin1(r);
    },
    access(path) {
      const e = ffi.access(path, ffi.F_OK);
      return e === 0 ? null : errnoName(e);
    },
    readdir(path) {
      const names = ffi.readdir(path);
      return typeof names === "number" ? { errno: errnoName(names) } : names.map(latin1);
    },
    pid: process.pid,
    getenv: (name) => process.env[name],
    cgroupUnified() {
      try {
        const mi = readText("/proc/self/mountinfo");
        for (const line of mi.split("\n")) {
          const f = line.split(" ");
          if (f[4] !== "/sys/fs/cgroup") continue;
          const sep = f.indexOf("-");
          return f[sep + 1] === "cgroup2";
        }
        return false;
      } catch (e) {
        return errnoNameOf(e);
      }
    },
    arch: process.arch,
    cpuid,
  };
}

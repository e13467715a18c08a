// systemd-ssh-issue's decisions, free of effects: what the command line asks for, and what make-vsock
// should write given the facts about the machine. main.ts supplies the facts and carries out the result.

import { VMADDR_CID_ANY, VMADDR_CID_HOST } from "../../ffi/sockaddr.ts";
import { LOG_DEBUG } from "../shared/log.ts";

export const DEFAULT_ISSUE_PATH = "/run/issue.d/50-ssh-vsock.issue";

/**
 * What systemd's acquire_cid() learns about the machine, gathered lazily and in its order: the
 * virtualization first, AF_VSOCK only inside a VM, the CID only when AF_VSOCK works.
 */
export interface IssueFacts {
  /** Running in a virtual machine, and not in a container inside one. */
  inVm: boolean;
  inContainer: boolean;
  /** An AF_VSOCK socket could be created. */
  vsock: boolean;
  /** Our CID; null when /dev/vsock is absent or the kernel has no CID for us. */
  cid: number | null;
}

/** A message for the log, at a syslog level. */
export interface LogLine {
  level: number;
  text: string;
}

export type MakeVsockPlan =
  | { kind: "skip"; log: LogLine[] }
  | { kind: "write"; content: string };

/** The text of the issue file for our CID. */
export function issueText(cid: number): string {
  // Reserved CIDs (and VMADDR_CID_ANY) cannot be dialled from the host; systemd 262 then says less.
  if (cid <= VMADDR_CID_HOST || cid === VMADDR_CID_ANY) return "This VM's SSH server is available over AF_VSOCK.\n\n";
  return `Try contacting this VM's SSH server via 'ssh vsock%${cid}' from host.\n\n`;
}

/** make-vsock: write the hint only in a VM (not a container inside one) with AF_VSOCK and a CID. */
export function planMakeVsock(facts: IssueFacts): MakeVsockPlan {
  const skipped: LogLine = { level: LOG_DEBUG, text: "Not running in a VSOCK enabled VM, skipping." };
  if (!facts.inVm || facts.inContainer) {
    return { kind: "skip", log: [{ level: LOG_DEBUG, text: "Not running in a VM, not creating issue file." }, skipped] };
  }
  if (!facts.vsock || facts.cid === null) return { kind: "skip", log: [skipped] };
  return { kind: "write", content: issueText(facts.cid) };
}

// errno values (Linux, generic) in the classes systemd's ERRNO_IS_NOT_SUPPORTED() and
// ERRNO_IS_DEVICE_ABSENT() name.
const NOT_SUPPORTED = new Set([95, 25, 38, 97, 96, 93, 94, 92]); // EOPNOTSUPP ENOTTY ENOSYS EAFNOSUPPORT EPFNOSUPPORT EPROTONOSUPPORT ESOCKTNOSUPPORT ENOPROTOOPT
const DEVICE_ABSENT = new Set([19, 6, 2]); // ENODEV ENXIO ENOENT
const EADDRNOTAVAIL = 99;

/** socket(AF_VSOCK) failed with `errno`: true when that means "no AF_VSOCK here" rather than an error. */
export function vsockUnsupported(errno: number): boolean {
  return NOT_SUPPORTED.has(errno);
}

/** Reading our CID failed with `errno`: "absent" (no /dev/vsock; logged), "unassigned" (no CID), or "error". */
export function cidFailure(errno: number): "absent" | "unassigned" | "error" {
  if (DEVICE_ABSENT.has(errno)) return "absent";
  if (errno === EADDRNOTAVAIL) return "unassigned";
  return "error";
}

// systemd-ssh-issue's decisions, free of effects: what make-vsock writes given the facts about the machine,
// and which failures of the AF_VSOCK probes mean "no AF_VSOCK here" rather than an error. main.ts gathers
// the facts through effects.ts and carries out the plan.

import { isDeviceAbsent, isNotSupported } from "../../ffi/errno.ts";
import { VMADDR_CID_ANY, VMADDR_CID_HOST } from "../../ffi/sockaddr.ts";
import { LOG_DEBUG } from "../shared/log.ts";

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
interface LogLine {
  level: number;
  text: string;
}

type MakeVsockPlan =
  | { kind: "skip"; log: LogLine[] }
  | { kind: "write"; content: string };

/** The text of the issue file for our CID. */
function issueText(cid: number): string {
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

/** socket(AF_VSOCK) failed with errno `code`: true when that means "no AF_VSOCK here" rather than an error. */
export function vsockUnsupported(code: string): boolean {
  return isNotSupported(code);
}

/** Reading our CID failed with errno `code`: "absent" (no /dev/vsock; logged), "unassigned" (no CID), or "error". */
export function cidFailure(code: string): "absent" | "unassigned" | "error" {
  if (isDeviceAbsent(code)) return "absent";
  if (code === "EADDRNOTAVAIL") return "unassigned";
  return "error";
}

/** What systemd says when writing the issue file fails, by the step that failed (src/shared/atomic-file.ts). */
export function writeFailure(path: string, step: string): string {
  switch (step) {
    case "mkdir":
      return `Failed to create parent directories of '${path}'`;
    case "fchmod":
      return `Failed to adjust access mode of '${path}'`;
    case "rename":
      return `Failed to move '${path}' into place`;
    default: // open, write
      return `Failed to create '${path}'`;
  }
}

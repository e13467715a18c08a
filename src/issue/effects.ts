// The real effects behind systemd-ssh-issue: what the machine is, the issue file on disk, stdout. A failed
// call throws SysError (ffi/errors.ts), so main.ts can print systemd's "<what>: %m" messages. Paths are byte
// strings (src/shared/raw-bytes.ts).

import { SysError } from "../../ffi/errors.ts";
import { Errno } from "../../ffi/errno.ts";
import { unlink } from "../../ffi/fs.ts";
import { mkdirParents, writeFileAtomic } from "../shared/atomic-file.ts";
import { bytes } from "../shared/raw-bytes.ts";
import { writeAll } from "../shared/write-all.ts";

/** The issue file's mode. */
const ISSUE_FILE_MODE = 0o644;

interface Virtualization {
  vm: boolean;
  container: boolean;
}

export interface IssueEffects {
  /** detect_virtualization(), split into its two answers. Throws SysError when detection fails. */
  detectVirtualization(): Virtualization;
  /** Create and close an AF_VSOCK socket; throws the SysError socket() failed with. Never connects. */
  probeVsock(): void;
  /** Our CID; throws the SysError reading it failed with. */
  localCid(): number;
  /**
   * Write `content` to `path` (byte strings) atomically with mode 0644, parents 0755. Throws SysError whose
   * `syscall` is the step that failed (src/shared/atomic-file.ts).
   */
  writeIssueFile(path: string, content: string): void;
  /** unlink() `path` (a byte string): true if removed, false if it did not exist; throws SysError otherwise. */
  removeFile(path: string): boolean;
  stdout(text: string): void;
  stdoutIsTerminal(): boolean;
}

/**
 * detect_virtualization(): a container wins over the VM it may run in, as in systemd. A read that detection
 * cannot do without throws SysError (src/shared/virt.ts), for systemd's "%m".
 */
function detectVirtualization(): Virtualization {
  const { realProbe, VirtDetector } = require("../shared/virt.ts") as typeof import("../shared/virt.ts");
  const found = new VirtDetector(realProbe()).detectVirtualization();
  return { vm: found?.kind === "vm", container: found?.kind === "container" };
}

export const realEffects: IssueEffects = {
  detectVirtualization,
  probeVsock() {
    const { vsockSupport } = require("../../ffi/vsock.ts") as typeof import("../../ffi/vsock.ts");
    const r = vsockSupport();
    if (!r.ok) throw r.error;
  },
  localCid() {
    const { localCid } = require("../../ffi/vsock.ts") as typeof import("../../ffi/vsock.ts");
    return localCid();
  },
  writeIssueFile(path, content) {
    mkdirParents(path);
    writeFileAtomic(path, bytes(content), { mode: ISSUE_FILE_MODE });
  },
  removeFile(path) {
    const err = unlink(path);
    if (err === Errno.ENOENT) return false;
    if (err !== 0) throw new SysError("unlink", err);
    return true;
  },
  stdout(text) {
    try {
      writeAll(1, text);
    } catch {
      // A closed stdout is not our failure to report (systemd's stdio ignores it too).
    }
  },
  stdoutIsTerminal() {
    try {
      return require("node:tty").isatty(1) as boolean;
    } catch {
      return false;
    }
  },
};

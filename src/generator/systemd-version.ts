// Which systemd we generate for: $SYSTEMD_SSH_TARGET_VERSION, else the NNN of
// libsystemd-shared-NNN.so next to the manager, else the manager binary's embedded version string.

import { readdir } from "../../ffi/fs.ts";
import { readFile } from "../../ffi/io.ts";
import { isDigits } from "../shared/parse-number.ts";
import { fromBytes } from "../shared/raw-bytes.ts";

export interface VersionInfo {
  version: number | null;
  source: string;
}

const SHARED_DIRS = ["/usr/lib/systemd", "/usr/lib/x86_64-linux-gnu/systemd", "/usr/lib/aarch64-linux-gnu/systemd", "/usr/lib64/systemd", "/lib/systemd"];

/** /^[0-9]{3}$/, without a regular expression to compile on every boot. */
const isThreeDigits = (s: string): boolean => s.length === 3 && isDigits(s);

const SHARED = "libsystemd-shared-";
const SHARED_BYTES = new TextEncoder().encode(SHARED);

/**
 * The NNN of a name of the form /^libsystemd-shared-([0-9]{3})(?:[.~-][^/]*)?\.so$/, else null. Without a
 * regular expression: every boot that does not set the variable checks each name in these directories.
 */
function sharedLibraryVersion(n: string): number | null {
  if (!n.startsWith(SHARED) || !n.endsWith(".so") || n.includes("/")) return null;
  const digits = n.slice(SHARED.length, SHARED.length + 3);
  const rest = n.length - SHARED.length - 3 - ".so".length; // what lies between the digits and ".so"
  if (!isThreeDigits(digits) || rest < 0) return null;
  return rest === 0 || ".~-".includes(n[SHARED.length + 3]!) ? Number(digits) : null;
}

export function detectSystemdVersion(env: Map<string, string>, root = ""): VersionInfo {
  const o = env.get("SYSTEMD_SSH_TARGET_VERSION");
  if (o !== undefined && isThreeDigits(o)) return { version: Number(o), source: "$SYSTEMD_SSH_TARGET_VERSION" };
  for (const d of SHARED_DIRS) {
    // Only the names that start with "libsystemd-shared-" are read out (most here are systemd-*).
    const names = readdir(root + d, SHARED_BYTES);
    if (typeof names === "number") continue;
    for (const name of names) {
      const n = fromBytes(name);
      const version = sharedLibraryVersion(n);
      if (version !== null) return { version, source: `${d}/${n}` };
    }
  }
  try {
    const buf = readFile(`${root}/usr/lib/systemd/systemd`);
    const m = /systemd ([0-9]{3})(?:[.~-][0-9A-Za-z.~+-]*)? running in system mode/.exec(fromBytes(buf));
    if (m) return { version: Number(m[1]), source: "/usr/lib/systemd/systemd" };
  } catch {}
  return { version: null, source: "unknown (newest form)" };
}

// `systemd-ssh resolve HOST PORT`: where `ssh HOST` through our proxy would lead, without connecting. The
// proxy's own resolution (src/proxy/core.ts, with machined and libvirt asked as the proxy asks them),
// printed as one line: `vsock CID 42 port 22`, `unix /run/…`, `vsock-mux /path port 22`. Errors are the
// proxy's own lines, exit status 1.

import { defineCommand } from "citty";
import { SysError } from "../../ffi/errors.ts";
import { Failure } from "../shared/failure.ts";
import { describeTarget, parseHost, resolveTarget, type Lookups } from "../proxy/core.ts";
import { realEffects } from "../proxy/effects.ts";
import { bytes, utf8Bytes } from "../shared/raw-bytes.ts";

type ResolveResult = { ok: true; line: string } | { ok: false; error: string };

/**
 * Resolve HOST PORT (byte strings, as the proxy gets them) to the line to print. `lookups` replaces the
 * real machined/libvirt lookups (tests).
 */
async function resolveHost(host: string, port: string, lookups?: Lookups): Promise<ResolveResult> {
  try {
    const spec = parseHost(host);
    return { ok: true, line: describeTarget(resolveTarget(spec, port, lookups ?? (await realEffects.lookups(spec)))) };
  } catch (e) {
    if (e instanceof Failure || e instanceof SysError) return { ok: false, error: e.message };
    throw e;
  }
}

export default defineCommand({
  meta: { name: "resolve", description: "HOST PORT: show where ssh HOST through the proxy would connect (connects nothing)" },
  args: {
    host: { type: "positional", required: true, description: "a host as ssh passes it to the proxy: unix/PATH, vsock/CID, vsock-mux/PATH, machine/NAME, qemu/NAME…" },
    port: { type: "positional", required: true, description: "the port ssh passes (%p)" },
  },
  async run({ args }) {
    if (args._.length !== 2) {
      process.stderr.write("Expected two arguments: host and port.\n");
      process.exitCode = 1;
      return;
    }
    // As byte strings, the proxy's representation of its arguments (src/shared/raw-bytes.ts).
    const r = await resolveHost(utf8Bytes(String(args.host)), utf8Bytes(String(args.port)));
    if (r.ok) process.stdout.write(bytes(`${r.line}\n`));
    else process.stderr.write(bytes(`${r.error}\n`));
    process.exitCode = r.ok ? 0 : 1;
  },
});

// Test driver for src/proxy/boot-wait.ts around the proxy's own open step (open.ts: the real connect and
// the real vsock-mux handshake), run as its own process (the handshake blocks, so the peer must live in
// another process: the test's).
//   bun boot-wait-driver.ts PATH PORT WAIT_MS [MARKER]
// MARKER: a file created once the first attempt has failed, so a test can make the peer appear only after
// that, however slowly this process started.
// Hands the connected socket over stdout like the proxy, or prints the proxy's error line and exits 1.
import { writeFileSync } from "node:fs";
import { sendFd } from "../../ffi/socket.ts";
import { retryUntilUp, DEFAULT_DELAYS } from "../../src/proxy/boot-wait.ts";
import { realEffects } from "../../src/proxy/effects.ts";
import { openTarget } from "../../src/proxy/open.ts";

const [path, port, waitMs, marker] = process.argv.slice(2) as [string, string, string, string | undefined];
let attempts = 0;
try {
  const fd = await retryUntilUp(
    () => {
      attempts++;
      if (attempts === 2 && marker) writeFileSync(marker, "");
      return openTarget(realEffects, { kind: "vsock-mux", path, port });
    },
    { timeoutMs: Number(waitMs), ...DEFAULT_DELAYS },
    `vsock-mux/${path} port ${port}`,
  );
  sendFd(1, fd);
  process.stderr.write(`attempts=${attempts}\n`);
  process.exit(0);
} catch (e) {
  process.stderr.write(`${(e as Error).message}\nattempts=${attempts}\n`);
  process.exit(1);
}

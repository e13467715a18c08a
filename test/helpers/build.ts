// Build dist/systemd-ssh (scripts/build) once per test process, so tests run the binary as installed.

import { BINARY, REPO } from "./tmp.ts";

let built: Promise<string> | undefined;

/** Path of a freshly built dist/systemd-ssh. */
export function ensureBuilt(): Promise<string> {
  // scripts/test builds before running the suite and says so; building again would only cost time.
  if (process.env.SYSTEMD_SSH_BUILT === "1") built ??= Promise.resolve(BINARY);
  built ??= (async () => {
    const p = Bun.spawn([`${REPO}/scripts/build`], { cwd: REPO, stdout: "ignore", stderr: "pipe" });
    const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
    if (code !== 0) throw new Error(`scripts/build failed (${code}): ${stderr}`);
    return BINARY;
  })();
  return built;
}

// Build dist/systemd-ssh (scripts/build) once per test process, so tests run the binary as installed.

import { BINARY, REPO } from "./tmp.ts";

let built: Promise<string> | undefined;

/** Path of a freshly built dist/systemd-ssh. */
export function ensureBuilt(): Promise<string> {
  built ??= (async () => {
    const p = Bun.spawn([`${REPO}/scripts/build`], { cwd: REPO, stdout: "ignore", stderr: "pipe" });
    const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
    if (code !== 0) throw new Error(`scripts/build failed (${code}): ${stderr}`);
    return BINARY;
  })();
  return built;
}

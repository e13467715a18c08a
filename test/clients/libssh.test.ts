// A real libssh client (Debian's libssh 0.10, through test/clients/libssh-client.c built here with gcc).
// libssh hands its ProxyCommand ONE socketpair end on stdin and stdout, like OpenSSH's fd-passing mode,
// but speaks SSH over it and sends its banner first: the proxy has to see that (src/proxy/transport.ts,
// step 3) and relay instead of passing a descriptor the client would never pick up.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { proxyCommandWord } from "../../src/shared/shell-quote.ts";
import { ensureBuilt } from "../helpers/build.ts";
import { startFakeVsockMux, type FakeVsockMux } from "../helpers/fake-vsock-mux.ts";
import { requireReference } from "../helpers/reference.ts";
import { startSshd, type TestSshd } from "../helpers/sshd.ts";
import { PROXY, removeDir, tempDir } from "../helpers/tmp.ts";

const hasLibssh = existsSync("/usr/include/libssh/libssh.h") && Bun.which("gcc") !== null;
// scripts/ensure-deps installs libssh-dev as root; with CI=true its absence is a failure, not a skip.
if (!hasLibssh && process.env.CI === "true") {
  test("libssh-dev and gcc are installed (scripts/ensure-deps)", () => expect(hasLibssh as boolean).toBe(true));
}

const ref = requireReference("262");
let work: string;
let client: string;
let sshd: TestSshd;
let mux: FakeVsockMux;

beforeAll(async () => {
  if (!hasLibssh) return;
  await ensureBuilt();
  work = tempDir("libssh");
  client = join(work, "libssh-client");
  const cc = Bun.spawnSync(["gcc", "-O2", "-Wall", "-o", client, join(import.meta.dir, "libssh-client.c"), "-lssh"], { stderr: "pipe" });
  if (cc.exitCode !== 0) throw new Error(`building libssh-client: ${cc.stderr.toString()}`);
  sshd = await startSshd();
  mux = await startFakeVsockMux({ path: join(sshd.dir, "mux.sock"), guest: (port) => (port === 22 ? sshd.socket : null), reply: "ok" });
});
afterAll(async () => {
  mux?.stop();
  await sshd?.stop();
  if (work) removeDir(work);
});

let logs = 0;
/** Run `command` on the server through libssh with `proxy` as its ProxyCommand; the proxy logs at debug. */
async function libssh(target: string, command: string, input: Uint8Array | string = "", proxy = PROXY) {
  // libssh runs "exec <ProxyCommand>" with $SHELL (or bash), and points the command's stderr at /dev/null.
  const log = join(work, `proxy-${logs++}.log`);
  const proxyCommand = `env SYSTEMD_LOG_LEVEL=debug ${proxyCommandWord(proxy)} ${target} 22 2>${proxyCommandWord(log)}`;
  const p = Bun.spawn([client, proxyCommand, sshd.user, sshd.clientKey, command], { stdin: new Blob([input]), stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => p.kill("SIGKILL"), 60000);
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).arrayBuffer(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  return { code, stdout: new Uint8Array(stdout), stderr, proxyLog: existsSync(log) ? readFileSync(log, "utf8") : "" };
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe.skipIf(!hasLibssh)("libssh through the proxy (one socketpair, banner first: relay)", () => {
  for (const [name, target] of [["AF_UNIX", () => `unix${sshd.socket}`], ["vsock-mux", () => `vsock-mux${mux.path}`]] as const) {
    test(`${name}: logs in, runs a command, and the proxy relays because the client spoke first`, async () => {
      const r = await libssh(target(), "echo hello-from-libssh; cat", "and stdin\n");
      expect(r.stderr).toBe("");
      expect({ code: r.code, stdout: text(r.stdout) }).toEqual({ code: 0, stdout: "hello-from-libssh\nand stdin\n" });
      expect(r.proxyLog).toMatch(/^Relaying: the peer already sent \d+ bytes on STDIN\.$/m);
    }, 30000);
    test(`${name}: 8 MiB through cat and back, intact`, async () => {
      const data = randomBytes(8 << 20);
      const r = await libssh(target(), "cat", data);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(sha256(r.stdout)).toBe(sha256(data));
    }, 60000);
  }

  test("the exit status comes through", async () => {
    const r = await libssh(`unix${sshd.socket}`, "exit 7");
    expect(r.code).toBe(7);
  }, 30000);

  // What this is for: systemd's proxy sends its descriptor into libssh's socketpair, where nobody takes it.
  test.skipIf(!ref)("with systemd 262's proxy libssh cannot log in", async () => {
    const r = await libssh(`unix${sshd.socket}`, "true", "", ref!.tool("systemd-ssh-proxy"));
    expect(r.code).toBe(255);
    expect(r.stderr).toStartWith("libssh-client: connect: ");
  }, 30000);
});

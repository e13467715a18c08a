// A real non-OpenSSH client: Paramiko (python3-paramiko, the library behind Ansible's paramiko connection)
// logs in through our proxy as its ProxyCommand. Paramiko gives the command pipes, so this is relay mode
// with a client we did not write, over AF_UNIX and over a vsock multiplexer (the fake one, in front of the
// test sshd), with 8 MiB echoed back through `cat` and compared by sha256 on both ends.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import { proxyCommandWord } from "../../src/shared/shell-quote.ts";
import { ensureBuilt } from "../helpers/build.ts";
import { startFakeVsockMux, type FakeVsockMux } from "../helpers/fake-vsock-mux.ts";
import { runCommand, startSshd, type TestSshd } from "../helpers/sshd.ts";
import { requireReference } from "../helpers/reference.ts";
import { PROXY } from "../helpers/tmp.ts";

const PYTHON = "/usr/bin/python3";
const CLIENT = join(import.meta.dir, "paramiko-client.py");
const hasParamiko = Bun.spawnSync([PYTHON, "-c", "import paramiko"], { stderr: "ignore" }).exitCode === 0;
// scripts/ensure-deps installs python3-paramiko as root; with CI=true its absence is a failure, not a skip.
if (!hasParamiko && process.env.CI === "true") {
  test("python3-paramiko is installed (scripts/ensure-deps)", () => expect(hasParamiko as boolean).toBe(true));
}

let sshd: TestSshd;
let mux: FakeVsockMux;

beforeAll(async () => {
  if (!hasParamiko) return;
  await ensureBuilt();
  sshd = await startSshd();
  mux = await startFakeVsockMux({ path: join(sshd.dir, "mux.sock"), guest: (port) => (port === 22 ? sshd.socket : null), reply: "ok" });
});
afterAll(async () => {
  mux?.stop();
  await sshd?.stop();
});

const ref = requireReference("262");

async function paramiko(target: string, mode: "hello" | "echo", input?: Uint8Array, proxy = PROXY) {
  const proxyCommand = `${proxyCommandWord(proxy)} ${target} 22`;
  return runCommand([PYTHON, CLIENT, proxyCommand, sshd.user, sshd.clientKey, mode], { stdin: input, timeoutMs: 60000 });
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe.skipIf(!hasParamiko)("Paramiko through the proxy (relay mode, its own pipes)", () => {
  for (const [name, target] of [["AF_UNIX", () => `unix${sshd.socket}`], ["vsock-mux", () => `vsock-mux${mux.path}`]] as const) {
    test(`${name}: logs in and runs a command`, async () => {
      const r = await paramiko(target(), "hello");
      expect(r.stderr).toBe("");
      expect(r).toMatchObject({ code: 0, stdout: "hello-from-paramiko\n" });
    }, 30000);
    test(`${name}: 8 MiB to the server and back, intact`, async () => {
      const data = randomBytes(8 << 20);
      const r = await paramiko(target(), "echo", data);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const h = sha256(data);
      expect(r.stdout).toBe(`${h} ${h} ${data.length}\n`);
    }, 60000);
  }

  // Paramiko keeps the ProxyCommand's stderr to itself (a pipe it never reads), so our message is not
  // shown: it reports the missing banner, after the client's banner_timeout (3 s here).
  test("a missing socket: Paramiko fails cleanly (no banner), nothing hangs", async () => {
    const r = await paramiko(`unix${sshd.dir}/nope.sock`, "hello");
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("Error reading SSH protocol banner");
  }, 30000);

  // What this mode is for: systemd's proxy only passes a descriptor, which Paramiko cannot take.
  test.skipIf(!ref)("with systemd 262's proxy (and with ours forced to --fdpass) Paramiko cannot log in", async () => {
    for (const [proxy, target] of [[ref!.tool("systemd-ssh-proxy"), `unix${sshd.socket}`], [PROXY, `--fdpass unix${sshd.socket}`]] as const) {
      const r = await paramiko(target, "hello", undefined, proxy);
      expect(r.code).not.toBe(0);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain("Error reading SSH protocol banner");
    }
  }, 30000);
});

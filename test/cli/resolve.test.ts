// `systemd-ssh resolve HOST PORT`: one line naming where each host form leads, the proxy's own errors,
// and nothing connected (machine/ through a fake machined; qemu/ is covered in test/proxy/qemu*.test.ts).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { close } from "../../ffi/socket.ts";
import { listenUnix } from "../../ffi/test-sockets.ts";
import { startFakeMachined, type FakeMachined } from "../helpers/fake-machined.ts";
import { runCommand } from "../helpers/sshd.ts";
import { BINARY, removeDir, tempDir } from "../helpers/tmp.ts";

describe("systemd-ssh resolve", () => {
  let root: string;
  let machined: FakeMachined;
  let env: Record<string, string>;
  let exportSocket: string;

  beforeAll(() => {
    root = tempDir("resolve");
    const runtime = join(root, "user");
    machined = startFakeMachined(join(runtime, "systemd/machine/io.systemd.Machine"), [
      { name: "box", class: "container", service: "systemd-nspawn" },
      { name: "vm", class: "vm", service: "systemd-vmspawn", vSockCid: 4711 },
      { name: "nocid", class: "vm", service: "systemd-vmspawn" },
    ]);
    const dir = join(runtime, "systemd/nspawn/box/unix-export");
    mkdirSync(dir, { recursive: true });
    exportSocket = join(dir, "ssh");
    // A socket file nobody listens on: connecting would be refused, so a resolve that succeeds connected nothing.
    close(listenUnix(exportSocket));
    env = { ...process.env, XDG_RUNTIME_DIR: runtime, SYSTEMD_SSH_SYSTEM_RUNTIME_DIR: join(root, "run") } as Record<string, string>;
  });
  afterAll(() => {
    machined?.stop();
    removeDir(root);
  });

  const resolve = (host: string, port = "22") => runCommand([BINARY, "resolve", host, port], { env });

  test.each([
    ["vsock/42", "22", "vsock CID 42 port 22"],
    ["vsock%host", "0x16", "vsock CID 2 port 22"],
    ["unix/run/ssh-unix-local/socket", "22", "unix /run/ssh-unix-local/socket"],
    ["unix%./rel.sock", "22", "unix ./rel.sock"],
    ["vsock-mux/run/vm/mux.sock", "2222", "vsock-mux /run/vm/mux.sock port 2222"],
  ])("%s %s", async (host, port, line) => {
    expect(await resolve(host, port)).toMatchObject({ code: 0, stdout: `${line}\n`, stderr: "" });
  });

  test("machine/ container: its exported socket, checked to be one but not connected", async () => {
    expect(await resolve("machine/box")).toMatchObject({ code: 0, stdout: `unix ${exportSocket}\n`, stderr: "" });
  });

  test("machine/ vm: its CID", async () => {
    expect(await resolve("machine%vm")).toMatchObject({ code: 0, stdout: "vsock CID 4711 port 22\n", stderr: "" });
  });

  test.each([
    ["machine/nocid", "22", "Machine nocid has no AF_VSOCK CID assigned."],
    ["vsock/any", "22", "Cannot use VMADDR_CID_ANY to connect to a remote host."],
    ["vsock/3", "x", "Failed to parse vsock port: x"],
    ["nowhere", "22", "Don't know how to parse host name specification: nowhere"],
  ])("%s %s: the proxy's message, exit 1", async (host, port, message) => {
    expect(await resolve(host, port)).toMatchObject({ code: 1, stdout: "", stderr: `${message}\n` });
  });

  test("two arguments exactly", async () => {
    expect(await runCommand([BINARY, "resolve", "vsock/1", "22", "x"], { env })).toMatchObject({ code: 1, stderr: "Expected two arguments: host and port.\n" });
  });
});

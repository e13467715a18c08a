// The proxy's main() with injected effects, for vsock/CID: everything up to connect() is ours and real, the
// connect itself is recorded and never performed (AF_VSOCK connects are forbidden on these machines).

import { afterEach, describe, expect, test } from "bun:test";
import { Errno } from "../../ffi/errno.ts";
import { SysError } from "../../ffi/errors.ts";
import { AF_VSOCK, sockaddrVm } from "../../ffi/sockaddr.ts";
import { close } from "../../ffi/socket.ts";
import { socketpair } from "../../ffi/test-sockets.ts";
import { realEffects, type ProxyEffects } from "../../src/proxy/effects.ts";
import { main } from "../../src/proxy/main.ts";
import { log, type LogSink } from "../../src/shared/log.ts";

const lines: string[] = [];
const capture: LogSink = { write: (_level, line) => lines.push(line) };
const originalSink = log.sink;
afterEach(() => {
  lines.length = 0;
  log.sink = originalSink;
});

function effects(connect: (cid: number, port: number) => number) {
  const calls: { vsock: [number, number][]; handedOff: number[]; closed: number[] } = { vsock: [], handedOff: [], closed: [] };
  const d: ProxyEffects = {
    connectUnix: () => {
      throw new Error("unexpected AF_UNIX connect");
    },
    connectVsock(cid, port) {
      calls.vsock.push([cid, port]);
      // What the real connector would pass to connect(): check it is a well-formed sockaddr_vm.
      const sa = sockaddrVm(cid, port);
      expect(new DataView(sa.bytes.buffer).getUint16(0, true)).toBe(AF_VSOCK);
      return connect(cid, port);
    },
    handOff: (fd) => void calls.handedOff.push(fd),
    close: (fd) => {
      calls.closed.push(fd);
      close(fd);
    },
    lookups: realEffects.lookups,
    exit: (code) => code,
  };
  return { d, calls };
}

async function run(args: string[], d: ProxyEffects) {
  log.sink = capture;
  const code = await main(args, d);
  return { code, lines: [...lines] };
}

describe("vsock/CID with an injected connector", () => {
  test.each([
    ["vsock/3", "22", 3, 22],
    ["vsock%host", "22", 2, 22],
    ["vsock/hypervisor", "0x16", 0, 22],
    ["vsock/local", "2222", 1, 2222],
    ["vsock/0x10", "022", 16, 18],
    ["vsock/4294967294", "4294967294", 4294967294, 4294967294],
  ])("%s %s connects to cid %d port %d and hands the socket off", async (host, port, cid, p) => {
    const { d, calls } = effects(() => socketpair()[0]);
    const r = await run([host, port], d);
    expect(r).toEqual({ code: 0, lines: [] });
    expect(calls.vsock).toEqual([[cid, p]]);
    expect(calls.handedOff.length).toBe(1);
    expect(calls.closed).toEqual(calls.handedOff);
  });

  test("a refused connect reports systemd's message", async () => {
    const { d } = effects(() => {
      throw new SysError("connect", Errno.ECONNREFUSED);
    });
    expect(await run(["vsock/3", "22"], d)).toEqual({ code: 1, lines: ["Failed to connect to vsock:3:22: Connection refused"] });
  });

  test("no AF_VSOCK in the kernel", async () => {
    const { d } = effects(() => {
      throw new SysError("socket", Errno.EAFNOSUPPORT);
    });
    expect(await run(["vsock/3", "22"], d)).toEqual({
      code: 1,
      lines: ["Failed to allocate AF_VSOCK socket: Address family not supported by protocol"],
    });
  });

  test("bad ports and VMADDR_CID_ANY never reach the connector", async () => {
    for (const args of [["vsock/3", "4294967295"], ["vsock/3", "x"], ["vsock/any", "22"], ["vsock/bad", "22"]]) {
      const { d, calls } = effects(() => socketpair()[0]);
      expect((await run(args, d)).code).toBe(1);
      expect(calls.vsock).toEqual([]);
    }
  });

  test("a failed hand-off reports systemd's message and closes the socket", async () => {
    const { d, calls } = effects(() => socketpair()[0]);
    d.handOff = () => {
      throw new SysError("sendmsg", Errno.ENOTSOCK);
    };
    expect(await run(["vsock/3", "22"], d)).toEqual({
      code: 1,
      lines: ["Failed to send socket via STDOUT: Socket operation on non-socket"],
    });
    expect(calls.closed.length).toBe(1);
  });
});

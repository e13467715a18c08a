import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { SysError } from "../../ffi/errors.ts";
import { VarlinkConnection } from "../../src/varlink/client.ts";
import { varlinkErrorToErrno } from "../../src/varlink/errors.ts";
import { JsonObject, parseJson, toPlain } from "../../src/varlink/json.ts";
import { startFakeMachinedProcess, type FakeScript } from "../helpers/fake-machined.ts";
import { thrown } from "../helpers/thrown.ts";
import { removeDir, tempDir } from "../helpers/tmp.ts";

const dir = tempDir("varlink");
afterAll(() => removeDir(dir));
let n = 0;

/** Run `body` on a connection to a fake machined in a child process (the client blocks this one). */
async function withConnection<T>(
  script: FakeScript,
  body: (c: VarlinkConnection) => T,
  opts: { timeoutMs?: number } = {},
): Promise<{ result: T; calls: string[] }> {
  const fake = await startFakeMachinedProcess(join(dir, `m${n++}.sock`), script);
  try {
    const c = VarlinkConnection.connect(fake.path, opts);
    try {
      return { result: body(c), calls: fake.calls().map((call) => call.raw) };
    } finally {
      c.close();
    }
  } finally {
    await fake.stop();
  }
}

const errnoOf = (f: () => unknown): number => thrown(f, SysError).errno;

const machines = [
  { name: "one", class: "container", service: "systemd-nspawn", leader: 100 },
  { name: "two", class: "vm", service: "systemd-vmspawn", vSockCid: 7 },
];

describe("VarlinkConnection", () => {
  test("call sends sd-varlink's bytes and returns the reply", async () => {
    const { result, calls } = await withConnection({ machines }, (c) => c.call("io.systemd.Machine.List", { name: "one" }));
    expect(calls).toEqual(['{"method":"io.systemd.Machine.List","parameters":{"name":"one"}}']);
    expect(result.error).toBeNull();
    expect(result.continues).toBe(false);
    expect(toPlain(result.parameters)).toEqual({ name: "one", class: "container", service: "systemd-nspawn", leader: 100 });
  });

  test("error replies come back as such", async () => {
    const { result } = await withConnection({ machines }, (c) => c.call("io.systemd.Machine.List", { name: "nope" }));
    expect(result.error).toBe("io.systemd.Machine.NoSuchMachine");
    expect(toPlain(result.parameters)).toEqual({});
  });

  test("callMore streams replies until one comes without continues", async () => {
    const { result, calls } = await withConnection({ machines }, (c) => [...c.callMore("io.systemd.Machine.List")]);
    expect(calls).toEqual(['{"method":"io.systemd.Machine.List","parameters":{},"more":true}']);
    expect(result.map((r) => [toPlain(r.parameters.get("name")!), r.continues])).toEqual([
      ["one", true],
      ["two", false],
    ]);
  });

  test("several messages in one read, and a reply split across reads", async () => {
    const split = { answers: [{ messages: ['{"parameters":{"a":1},"continues":true}\0{"param', 'eters":{"a":2}}\0'] }] };
    const { result } = await withConnection(split, (c) => [...c.callMore("x.y.Z")].map((r) => toPlain(r.parameters)));
    expect(result).toEqual([{ a: 1 }, { a: 2 }]);
  });

  const violation = (messages: string[]) => ({ answers: [{ messages: messages.map((m) => `${m}\0`) }] });
  test.each([
    ["an unknown key", '{"parameters":{},"bogus":1}', 104],
    ["error not a string", '{"error":5}', 104],
    ["parameters an array", '{"parameters":[1]}', 104],
    ["continues without more", '{"parameters":{},"continues":true}', 104],
    ["continues null", '{"parameters":{},"continues":null}', 104],
    ["two error keys", '{"error":"a.b","error":"a.c"}', 104],
    ["not an object", "[1]", 22],
    ["not JSON", "{nope", 22],
    ["an empty message", "", 61],
  ])("%s: errno %d", async (_what, message, errno) => {
    const { result } = await withConnection(violation([message]), (c) => errnoOf(() => c.call("a.b.C")));
    expect(result).toBe(errno);
  });

  test("the peer hanging up before replying: ECONNRESET", async () => {
    const hangUp = { answers: [{ messages: ['{"parameters":'], close: true }] };
    const { result } = await withConnection(hangUp, (c) => errnoOf(() => c.call("a.b.C")));
    expect(result).toBe(104);
  });

  test("no reply within the timeout: ETIME", async () => {
    const t0 = Date.now();
    const { result } = await withConnection({ answers: ["hang"] }, (c) => errnoOf(() => c.call("a.b.C")), { timeoutMs: 300 });
    expect(result).toBe(62);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
  });

  test("connecting to a missing socket: ENOENT", () => {
    expect(errnoOf(() => VarlinkConnection.connect(join(dir, "missing.sock")))).toBe(2);
  });
});

describe("varlinkErrorToErrno (sd_varlink_error_to_errno)", () => {
  const p = (json: string) => parseJson(json) as JsonObject;
  test.each([
    ["org.varlink.service.InvalidParameter", "{}", 22],
    ["org.varlink.service.MethodNotFound", "{}", 6],
    ["org.varlink.service.ExpectedMore", "{}", 52],
    ["org.varlink.service.ExpectedUpgrade", "{}", 91],
    ["io.systemd.Disconnected", "{}", 104],
    ["io.systemd.System", '{"errno":13}', 13],
    ["io.systemd.System", '{"errno":13.0}', 13],
    ["io.systemd.System", '{"errno":4095}', 4095],
    ["io.systemd.System", '{"errno":4096}', 53],
    ["io.systemd.System", '{"errno":0}', 53],
    ["io.systemd.System", '{"errno":"13"}', 53],
    ["io.systemd.System", '{"errno":13,"errnoName":"ENOENT"}', 2],
    ["io.systemd.System", '{"errno":13,"errnoName":"nonsense"}', 53],
    ["io.systemd.System", '{"errno":13,"errnoName":null}', 53],
    ["io.systemd.System", '{"errnoName":"ewouldblock"}', 11],
    ["io.systemd.System", '{"origin":"linux","errno":1}', 1],
    ["io.systemd.System", '{"origin":"bsd","errno":1}', 53],
    ["io.systemd.Machine.NoSuchMachine", "{}", 53],
  ])("%s %s → %d", (error, params, errno) => {
    expect(varlinkErrorToErrno(error, p(params))).toBe(errno);
  });
});

// qemu/NAME, qemu:system/NAME, qemu:session/NAME: the lookup's rules with an injected libvirt (every
// branch), the CID read through the real libxml2, and the whole way through the real libvirt with its
// test driver (test:///PATH/node.xml, redirected with $SYSTEMD_SSH_LIBVIRT_*_URI), up to the vsock
// connect, which an injected connector records instead of performing.

import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Connection } from "../../ffi/libvirt.ts";
import { xpathStrings } from "../../ffi/libxml2.ts";
import { parseHost, type QemuSpec } from "../../src/proxy/core.ts";
import {
  cidFromXml,
  parseDomainId,
  resolveQemuCid,
  SESSION_URI_ENV,
  SYSTEM_URI_ENV,
  urisFor,
  type LibvirtEffects,
} from "../../src/proxy/qemu.ts";
import { HAVE_LIBVIRT, nodeXml, requireOrSkip, writeNode } from "../helpers/libvirt.ts";
import { runCommand } from "../helpers/sshd.ts";
import { runSync } from "../helpers/spawn.ts";
import { BINARY, removeDir, tempDir } from "../helpers/tmp.ts";

const ENV = process.env as Record<string, string>;

// Each test starts processes that load libvirt (a dlopen of 50-150 ms on a busy machine) or a daemon.
setDefaultTimeout(30_000);

const domXml = (vsock: string) => `<domain type='kvm'><name>x</name><devices><disk/>${vsock}</devices></domain>`;
const CID42 = "<vsock model='virtio'><cid auto='no' address='42'/></vsock>";

class Missing extends Error {}
class LvError extends Error {}

/** A fake libvirt: per URI, domains by name/UUID/ID with their XML, or a connect error; records every call. */
function fakeLibvirt(
  uris: Record<string, { connectError?: string; domains?: { name: string; uuid?: string; id?: number; xml: string }[] }>,
  opts: { euid?: number; env?: Record<string, string>; missing?: boolean } = {},
) {
  const calls: string[] = [];
  let open = 0;
  const libvirt: LibvirtEffects = {
    openReadOnly(uri): Connection {
      calls.push(`open ${uri}`);
      if (opts.missing) throw new Missing("no libvirt.so.0");
      const u = uris[uri];
      if (!u || u.connectError) throw new LvError(u?.connectError ?? "Failed to connect socket");
      open++;
      const dom = (d: { xml: string } | undefined) => {
        if (!d) return null;
        open++;
        return { name: () => "?", xml: () => d.xml, free: () => void open-- };
      };
      const ds = u.domains ?? [];
      return {
        lookupByName: (n) => (calls.push(`name ${n}`), dom(ds.find((d) => d.name === n))),
        lookupByUUIDString: (n) => (calls.push(`uuid ${n}`), dom(ds.find((d) => d.uuid === n))),
        lookupByID: (n) => (calls.push(`id ${n}`), dom(ds.find((d) => d.id === n))),
        listAll: () => [],
        close: () => void open--,
      };
    },
    xpathStrings,
    isMissing: (e) => e instanceof Missing,
    isLibvirtError: (e): e is Error => e instanceof LvError,
    euid: opts.euid ?? 1000,
    env: opts.env ?? {},
  };
  return { libvirt, calls, openHandles: () => open };
}

function outcome(spec: QemuSpec, libvirt: LibvirtEffects): number | { message: string; code?: string } {
  try {
    return resolveQemuCid(spec, libvirt);
  } catch (e) {
    return { message: (e as Error).message, code: (e as { code?: string }).code };
  }
}

describe("qemu host forms", () => {
  test.each([
    ["qemu/vm1", null, "vm1"],
    ["qemu%vm1", null, "vm1"],
    ["qemu:system/vm1", "system", "vm1"],
    ["qemu:session/vm1", "session", "vm1"],
    ["qemu/a/b", null, "a/b"],
    ["qemu/", null, ""],
  ])("%s", (host, scope, domain) => {
    expect(parseHost(host)).toEqual({ kind: "qemu", scope: scope as QemuSpec["scope"], domain });
  });

  test.each(["qemu", "qemux/vm", "qemu:sys/vm", "qemu:systemx/vm", "qemu:/vm", "QEMU/vm"])("%s is no host form", (host) => {
    expect(() => parseHost(host)).toThrow(`Don't know how to parse host name specification: ${host}`);
  });
});

describe("the lookup's rules (injected libvirt)", () => {
  const S = "qemu:///system";
  const U = "qemu:///session";

  test("qemu/X: system, then session; root never asks the session URI", () => {
    expect(urisFor({ scope: null, domain: "x" }, 1000, {})).toEqual([S, U]);
    expect(urisFor({ scope: null, domain: "x" }, 0, {})).toEqual([S]);
    expect(urisFor({ scope: "session", domain: "x" }, 0, {})).toEqual([U]);
    expect(urisFor({ scope: "system", domain: "x" }, 1000, {})).toEqual([S]);
    expect(urisFor({ scope: null, domain: "x" }, 1000, { [SYSTEM_URI_ENV]: "test:///a", [SESSION_URI_ENV]: "test:///b" })).toEqual(["test:///a", "test:///b"]);
  });

  test("name, then UUID, then ID (only for a number), on each URI", () => {
    const f = fakeLibvirt({ [S]: { domains: [] }, [U]: { domains: [{ name: "other", id: 7, xml: domXml(CID42) }] } });
    expect(outcome({ scope: null, domain: "7" }, f.libvirt)).toBe(42);
    expect(f.calls).toEqual(["open qemu:///system", "name 7", "uuid 7", "id 7", "open qemu:///session", "name 7", "uuid 7", "id 7"]);
    expect(f.openHandles()).toBe(0);
  });

  test("a name that is found is not tried as UUID or ID", () => {
    const f = fakeLibvirt({ [S]: { domains: [{ name: "7", xml: domXml(CID42) }] } });
    expect(outcome({ scope: "system", domain: "7" }, f.libvirt)).toBe(42);
    expect(f.calls).toEqual(["open qemu:///system", "name 7"]);
  });

  test.each([
    ["7", 7],
    [" \t+7", 7],
    ["-3", -3],
    ["2147483647", 2147483647],
    ["2147483648", null],
    ["7x", null],
    ["", null],
    ["+", null],
    ["0x10", null],
  ])("ID %j parses as %p (libvirt's virStrToLong_i)", (s, id) => {
    expect(parseDomainId(s)).toBe(id);
  });

  test("qemu/X moves on to the session URI when the system's domain has no CID", () => {
    const f = fakeLibvirt({
      [S]: { domains: [{ name: "vm", xml: domXml("") }] },
      [U]: { domains: [{ name: "vm", xml: domXml(CID42) }] },
    });
    expect(outcome({ scope: null, domain: "vm" }, f.libvirt)).toBe(42);
  });

  test("every failure in one line, naming the domain and each URI tried", () => {
    const f = fakeLibvirt({ [U]: { domains: [{ name: "vm", xml: domXml("<vsock model='virtio'><cid auto='yes'/></vsock>") }] } });
    expect(outcome({ scope: null, domain: "vm" }, f.libvirt)).toEqual({
      message:
        "No usable vsock found for libvirt domain vm: qemu:///system: cannot connect: Failed to connect socket; " +
        "qemu:///session: its vsock device has no CID assigned (is the domain running?).",
      code: "EAGAIN",
    });
  });

  test.each([
    [{ [S]: { connectError: "Failed to connect socket to '/run/libvirt/libvirt-sock-ro': No such file or directory" } },
     "cannot connect: Failed to connect socket to '/run/libvirt/libvirt-sock-ro': No such file or directory", "ENOTCONN"],
    [{ [S]: { domains: [] } }, "no such domain (by name, UUID or ID)", "ESRCH"],
    [{ [S]: { domains: [{ name: "vm", xml: domXml("") }] } }, "the domain has no vsock device", "ENXIO"],
    [{ [S]: { domains: [{ name: "vm", xml: domXml("<vsock model='virtio'/>") }] } }, "its vsock device has no CID assigned (is the domain running?)", "EAGAIN"],
    [{ [S]: { domains: [{ name: "vm", xml: "<domain" }] } }, "libvirt's domain XML is not well-formed", "EBADMSG"],
  ])("qemu:system/vm: %#", (uris, detail, code) => {
    const f = fakeLibvirt(uris);
    expect(outcome({ scope: "system", domain: "vm" }, f.libvirt)).toEqual({
      message: `No usable vsock found for libvirt domain vm at qemu:///system: ${detail}.`,
      code,
    });
    expect(f.openHandles()).toBe(0);
  });

  test("as root, qemu/X names only the system URI", () => {
    const f = fakeLibvirt({ [S]: { domains: [] }, [U]: { domains: [{ name: "vm", xml: domXml(CID42) }] } }, { euid: 0 });
    expect(outcome({ scope: null, domain: "vm" }, f.libvirt)).toEqual({
      message: "No usable vsock found for libvirt domain vm at qemu:///system: no such domain (by name, UUID or ID).",
      code: "ESRCH",
    });
    expect(f.calls.filter((c) => c.startsWith("open"))).toEqual(["open qemu:///system"]);
  });

  test("libvirt not installed", () => {
    const f = fakeLibvirt({}, { missing: true });
    expect(outcome({ scope: null, domain: "vm" }, f.libvirt)).toEqual({
      message: "Cannot look up libvirt domain vm at qemu:///system or qemu:///session: libvirt is not installed (libvirt.so.0 cannot be loaded).",
      code: "ELIBACC",
    });
  });

  test("an empty name", () => {
    const f = fakeLibvirt({});
    expect(outcome({ scope: null, domain: "" }, f.libvirt)).toMatchObject({ code: "EINVAL" });
    expect(f.calls).toEqual([]);
  });
});

describe("the CID from the domain XML (real libxml2 XPath)", () => {
  const cid = (vsock: string, xml = domXml(vsock)) => cidFromXml(xml, xpathStrings);
  test.each([
    [CID42, { ok: true, cid: 42 }],
    // Several vsock elements (libvirt itself allows one; the XML may still carry more): the first usable CID.
    ["<vsock><cid auto='yes'/></vsock><vsock><cid address='7'/></vsock><vsock><cid address='8'/></vsock>", { ok: true, cid: 7 }],
    ["<vsock><cid address='x1'/></vsock><vsock><cid address='9'/></vsock>", { ok: true, cid: 9 }],
    ["<vsock><cid address='4294967295'/></vsock><vsock><cid address='3'/></vsock>", { ok: true, cid: 3 }],
    ["<vsock><cid address='4294967294'/></vsock>", { ok: true, cid: 4294967294 }],
    ["<vsock><cid/><cid address='5'/></vsock>", { ok: true, cid: 5 }],
    // Only /domain/devices/vsock counts.
    ["<disk><vsock><cid address='5'/></vsock></disk>", { ok: false, kind: "no-vsock" }],
    ["<vsock><cid address=''/></vsock>", { ok: false, kind: "no-cid" }],
    ["<vsock><cid address='-1'/></vsock>", { ok: false, kind: "no-cid" }],
  ])("%s", (vsock, expected) => {
    expect(cid(vsock)).toMatchObject(expected);
  });

  test("the root element must be <domain>", () => {
    expect(cid("", `<domainx><devices>${CID42}</devices></domainx>`)).toMatchObject({ ok: false, kind: "no-vsock" });
  });

  test("entities and namespaces as an XML reader sees them (no text matching)", () => {
    expect(cid("", `<domain><devices><!-- <vsock><cid address='1'/></vsock> --><vsock><cid address='&#52;2'/></vsock></devices></domain>`)).toEqual({ ok: true, cid: 42 });
  });
});

describe.skipIf(!requireOrSkip(HAVE_LIBVIRT, "libvirt (libvirt0, libvirt-clients)"))("through the real libvirt (test driver)", () => {
  let dir: string;
  let uri: string;
  let emptyUri: string;
  const UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f";

  beforeAll(() => {
    dir = tempDir("libvirt");
    uri = writeNode(dir, "node.xml", [
      { name: "alpha", uuid: UUID, vsock: "<cid auto='no' address='42'/>" },
      { name: "novsock" },
      { name: "off", vsock: "<cid auto='no' address='43'/>", off: true },
      { name: "offauto", vsock: "<cid auto='yes'/>", off: true },
    ]);
    emptyUri = writeNode(dir, "empty.xml", []);
  });
  afterAll(() => {
    removeDir(dir);
  });

  function resolve(host: string, env: Record<string, string> = {}, port = "22") {
    const r = runSync([BINARY, "resolve", host, port], { env: { ...ENV, [SYSTEM_URI_ENV]: uri, [SESSION_URI_ENV]: emptyUri, ...env } });
    return { code: r.status, out: r.stdout, err: r.stderr };
  }

  test.each([
    ["qemu/alpha"],
    ["qemu%alpha"],
    ["qemu:system/alpha"],
    [`qemu/${UUID}`],
    ["qemu/1"], // the test driver numbers running domains from 1 in file order
  ])("%s resolves to CID 42", (host) => {
    expect(resolve(host)).toEqual({ code: 0, out: "vsock CID 42 port 22\n", err: "" });
  });

  test("a shut-off domain: found by name (its inactive XML), not by ID", () => {
    expect(resolve("qemu/off")).toEqual({ code: 0, out: "vsock CID 43 port 22\n", err: "" });
    const offId = resolve("qemu:system/3");
    expect(offId.code).toBe(1);
    expect(offId.err).toBe(`No usable vsock found for libvirt domain 3 at ${uri}: no such domain (by name, UUID or ID).\n`);
  });

  test("no vsock device, and a vsock whose CID is not assigned", () => {
    expect(resolve("qemu:system/novsock")).toEqual({
      code: 1,
      out: "",
      err: `No usable vsock found for libvirt domain novsock at ${uri}: the domain has no vsock device.\n`,
    });
    expect(resolve("qemu:system/offauto").err).toBe(
      `No usable vsock found for libvirt domain offauto at ${uri}: its vsock device has no CID assigned (is the domain running?).\n`,
    );
  });

  test("qemu:session/X asks only the session URI; qemu/X asks it only when not root", () => {
    expect(resolve("qemu:session/alpha", { [SESSION_URI_ENV]: uri, [SYSTEM_URI_ENV]: emptyUri }).out).toBe("vsock CID 42 port 22\n");
    const plain = resolve("qemu/alpha", { [SESSION_URI_ENV]: uri, [SYSTEM_URI_ENV]: emptyUri });
    if (process.geteuid?.() === 0) {
      expect(plain).toEqual({ code: 1, out: "", err: `No usable vsock found for libvirt domain alpha at ${emptyUri}: no such domain (by name, UUID or ID).\n` });
    } else {
      expect(plain.out).toBe("vsock CID 42 port 22\n");
    }
  });

  test("the daemon cannot be reached: libvirt's reason, once, and nothing of libvirt's own printing", () => {
    const sock = join(dir, "no-daemon.sock");
    const bad = `qemu+unix:///system?socket=${sock}`;
    const r = resolve("qemu:system/alpha", { [SYSTEM_URI_ENV]: bad });
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    expect(r.err).toBe(`No usable vsock found for libvirt domain alpha at ${bad}: cannot connect: Failed to connect socket to '${sock}': No such file or directory.\n`);
  });

  /** The proxy with the real lookup and a recording connector, in its own process (qemu-driver.ts). */
  async function proxy(args: string[], systemUri: string) {
    const r = await runCommand([process.execPath, join(import.meta.dir, "qemu-driver.ts"), ...args], {
      env: { ...ENV, [SYSTEM_URI_ENV]: systemUri, [SESSION_URI_ENV]: emptyUri },
    });
    return { code: r.code, connects: r.stdout.split("\n").filter(Boolean), lines: r.stderr.split("\n").filter(Boolean) };
  }

  test("the proxy goes to the CID through the vsock path (connect injected)", async () => {
    expect(await proxy(["qemu/alpha", "2222"], uri)).toEqual({ code: 0, connects: ["connect 42 2222"], lines: [] });
  });

  test("--wait retries the whole lookup until the domain has a CID", async () => {
    const file = join(dir, "starting.xml");
    writeFileSync(file, nodeXml([{ name: "starting", vsock: "<cid auto='yes'/>" }]));
    const p = Bun.spawn([process.execPath, join(import.meta.dir, "qemu-driver.ts"), "--wait=30", "qemu:system/starting", "22"], {
      env: { ...process.env, [SYSTEM_URI_ENV]: `test://${file}`, SYSTEMD_LOG_LEVEL: "debug" },
      stdout: "pipe",
      stderr: "pipe",
    });
    // Once the proxy says it is retrying (a lookup found no CID), the "domain" gets one: each attempt
    // opens the test driver's file anew.
    let err = "";
    let assigned = false;
    const decoder = new TextDecoder();
    // (Read stderr to its end: a pipe closed early would fail the proxy's later log writes.)
    for await (const chunk of p.stderr) {
      err += decoder.decode(chunk);
      if (!assigned && err.includes("Not up yet (attempt 1: No usable vsock found for libvirt domain starting")) {
        writeFileSync(file, nodeXml([{ name: "starting", vsock: "<cid auto='no' address='77'/>" }]));
        assigned = true;
      }
    }
    expect(assigned).toBe(true);
    const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
    expect({ code, out }).toEqual({ code: 0, out: "connect 77 22\n" });
  });

  test("--wait gives up on a domain that gets no CID, and never waits on a missing domain", async () => {
    const r = await proxy(["--wait=0.3", "qemu:system/offauto", "22"], uri);
    expect(r.code).toBe(1);
    expect(r.connects).toEqual([]);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/^Gave up waiting for qemu:system\/offauto port 22 after 0\.3s \(\d+ attempts\): No usable vsock found for libvirt domain offauto/);
    expect(await proxy(["--wait=30", "qemu:system/nosuch", "22"], uri)).toEqual({
      code: 1,
      connects: [],
      lines: [`No usable vsock found for libvirt domain nosuch at ${uri}: no such domain (by name, UUID or ID).`],
    });
  });

  test("a bad port is refused before libvirt is asked", () => {
    expect(resolve("qemu/alpha", { [SYSTEM_URI_ENV]: "test:///nonexistent/node.xml" }).code).toBe(1);
    const r = resolve("qemu/alpha", { [SYSTEM_URI_ENV]: "test:///nonexistent/node.xml" }, "x");
    expect(r.err).toBe("Failed to parse vsock port: x\n");
  });
});

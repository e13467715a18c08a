// Unit tests of the shared parsers where the differential tests cannot reach: PID 1's argv filtering (the
// kernel command line in a container), a kernel without IPv6, and which systemd version we generate for.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { detectSystemdVersion } from "../../src/generator/systemd-version.ts";
import { pathEntries } from "../../src/generator/find-executable.ts";
import { unitNameKind } from "../../src/generator/unit-lookup.ts";
import { cmdlineItems, cmdlineKeyEq, filterPid1Args, parseBoolean, splitCmdline } from "../../src/shared/proc-cmdline.ts";
import { inetNtop6, inetPton6, parseSocketAddress, printSocketAddress, type SocketEnv } from "../../src/shared/socket-address.ts";

const dir = mkdtempSync(join(tmpdir(), "gen-parsers-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("proc-cmdline", () => {
  test("splitting: quotes removed, unbalanced tolerated, backslashes kept", () => {
    expect(splitCmdline(` a "b c"d 'e\\"f' "g`)).toEqual(["a", "b cd", 'e\\"f', "g"]);
    expect(splitCmdline("\t\n\r ")).toEqual([]);
    expect(splitCmdline(`"" x`)).toEqual(["", "x"]);
  });
  test("PID 1's own options are filtered (systemd's test cases)", () => {
    expect(filterPid1Args(["systemd", "hoge", "-x", "foo=bar", "--log-level", "debug", "--log-target=kmsg", "--log-color", "yes", "bar=baz"]))
      .toEqual(["hoge", "foo=bar", "yes", "bar=baz"]);
    expect(filterPid1Args(["systemd", "--switched-root", "--system", "--deserialize", "33", "systemd.ssh_listen=22", "-z", "x", "-b", "--", "--log-level"]))
      .toEqual(["systemd.ssh_listen=22", "--log-level"]);
    // An optional argument of a long option must be attached with "=", as getopt_long() wants it.
    expect(filterPid1Args(["systemd", "--confirm-spawn", "foo", "--crash-shell", "-b", "bar"])).toEqual(["foo", "bar"]);
  });
  test("rd. words only in the initrd, keys with - and _ equal, booleans", () => {
    expect(cmdlineItems(["rd.a=1", "b"], false)).toEqual([{ key: "b", value: null }]);
    expect(cmdlineItems(["rd.a=1"], true)).toEqual([{ key: "rd.a", value: "1" }]);
    expect(cmdlineItems(["rd.a=1", "b"], true, { stripRdPrefix: true, rdStrict: true })).toEqual([{ key: "a", value: "1" }]);
    expect(cmdlineKeyEq("systemd-ssh_listen", "systemd.ssh_listen")).toBe(false);
    expect(cmdlineKeyEq("systemd.ssh-listen", "systemd.ssh_listen")).toBe(true);
    expect(["yes", "On", "T", "1", "no", "OFF", "f", "0", "", "2", "yess"].map(parseBoolean))
      .toEqual([true, true, true, true, false, false, false, false, null, null, null]);
  });
});

describe("socket addresses", () => {
  const noV6: SocketEnv = { ipv6Supported: () => false, resolveInterface: () => "ENODEV", interfaceName: () => null };
  test("a bare port without IPv6 is 0.0.0.0:PORT", () => {
    const r = parseSocketAddress("0x16", noV6);
    expect(r.ok && printSocketAddress(r.address, noV6)).toEqual({ ok: true, text: "0.0.0.0:22" });
  });
  test("inet_pton/inet_ntop round trips as glibc prints them", () => {
    for (const [i, o] of [["::", "::"], ["0:0:0:0:0:0:0:1", "::1"], ["1:0:0:2:0:0:0:3", "1:0:0:2::3"], ["::ffff:1.2.3.4", "::ffff:1.2.3.4"],
      ["::1.2.3.4", "::1.2.3.4"], ["1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0"], ["ABCD::", "abcd::"], ["0:0:1::", "0:0:1::"]] as const) {
      expect(inetNtop6(inetPton6(i)!)).toBe(o);
    }
    for (const bad of ["", ":", ":::", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "::1.2.3", "g::"]) expect(inetPton6(bad)).toBeNull();
  });
});

describe("target systemd version", () => {
  const root = join(dir, "root");
  const env = (o: Record<string, string> = {}) => new Map(Object.entries(o));
  test("$SYSTEMD_SSH_TARGET_VERSION first", () => {
    expect(detectSystemdVersion(env({ SYSTEMD_SSH_TARGET_VERSION: "255" }), root)).toEqual({ version: 255, source: "$SYSTEMD_SSH_TARGET_VERSION" });
  });
  test("libsystemd-shared-NNN.so in the distribution's directories", () => {
    mkdirSync(join(root, "usr/lib/x86_64-linux-gnu/systemd"), { recursive: true });
    writeFileSync(join(root, "usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-252.so"), "");
    expect(detectSystemdVersion(env(), root).version).toBe(252);
    mkdirSync(join(root, "usr/lib/systemd"), { recursive: true });
    writeFileSync(join(root, "usr/lib/systemd/libsystemd-shared-255.4-1.fc40.so"), "");
    expect(detectSystemdVersion(env(), root).version).toBe(255);
  });
  test("the manager binary's version string, else unknown (the newest form)", () => {
    const r2 = join(dir, "root2");
    mkdirSync(join(r2, "usr/lib/systemd"), { recursive: true });
    writeFileSync(join(r2, "usr/lib/systemd/systemd"), "\0junk systemd 249.11-0ubuntu3 running in system mode (+PAM)\0");
    expect(detectSystemdVersion(env(), r2).version).toBe(249);
    expect(detectSystemdVersion(env(), join(dir, "empty")).version).toBeNull();
  });
});

describe("unit names (unit_name_is_valid, unit_name_to_instance)", () => {
  test("kinds", () => {
    expect(unitNameKind("sshd@.service")).toBe("template");
    expect(unitNameKind("sshd.service")).toBe("plain");
    expect(unitNameKind("a@b.socket")).toBe("instance");
    expect(unitNameKind("a@b@.service")).toBe("instance");
    expect(unitNameKind("a:b-c_d.e\\f.target")).toBe("plain");
  });
  test("invalid", () => {
    for (const n of ["", ".service", "@.service", "a@", "a.bogus", "a b.service", "ssh\xc3\xa9@.service", "a/b.service", `${"a".repeat(248)}.service`]) {
      expect(unitNameKind(n)).toBeNull();
    }
    expect(unitNameKind(`${"a".repeat(247)}.service`)).toBe("plain");
  });
});

describe("$PATH entries, as systemd's extract_first_word() gives them", () => {
  test("split at colons, empty entries kept", () => {
    expect(pathEntries("/a::/b:")).toEqual(["/a", "", "/b", ""]);
  });
  test("a backslash takes the next byte as it is and is dropped; one at the end is dropped", () => {
    expect(pathEntries("/b\\in:/x\\:y:/a\\\\b:/c\\")).toEqual(["/bin", "/x:y", "/a\\b", "/c"]);
  });
  test("quotes mean nothing", () => {
    expect(pathEntries("'/a':\"/b\"")).toEqual(["'/a'", '"/b"']);
  });
});

// The kernel command line as systemd reads it (src/shared/proc-cmdline.ts): splitting, PID 1's argv
// filtering (the kernel command line in a container), rd. words, relaxed keys, booleans.

import { describe, expect, test } from "bun:test";
import { cmdlineItems, cmdlineKeyEq, filterPid1Args, parseBoolean, splitCmdline } from "../../src/shared/proc-cmdline.ts";

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

// Seeded random inputs for the differential tests: kernel command lines, credentials, and the machine's
// sshd/template situation, drawn from pools that cover systemd's accept/refuse boundaries.

import type { Case } from "./harness.ts";

/** mulberry32: small, fast, seeded. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Gen {
  constructor(readonly r: () => number) {}
  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.r() < p;
  }

  port(): string {
    return this.pick([
      "22", "2222", "65535", "65536", "0", "00", "0x16", "0X16", "022", "0b10110", "0o26", "0x", "+22", "-22", "-0",
      " 22", "22 ", "1e3", "99999999999999999999", String(1 + this.int(65535)), "0x10000", "\t22", "08", "0b", "",
    ]);
  }
  ipv4(): string {
    return this.pick([
      "0.0.0.0", "127.0.0.1", "1.2.3.4", "255.255.255.255", "256.1.1.1", "01.2.3.4", "1.2.3", "1.2.3.4.5", "1..2.3",
      "192.168.0.1", `${this.int(256)}.${this.int(256)}.${this.int(256)}.${this.int(256)}`, "0x7f.0.0.1", " 1.2.3.4",
    ]);
  }
  ipv6(): string {
    return this.pick([
      "::", "::1", "fe80::1", "2001:db8::1", "2001:db8:0:0:1:0:0:1", "0:0:0:0:0:0:0:0", "::ffff:1.2.3.4", "::1.2.3.4",
      "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "1::2::3", ":1", "1:", "2001:DB8::ABCD", "0001:0002::", "12345::",
      "::ffff:0:1.2.3.4", "1:0:0:2:0:0:0:3", "a:b:c:d:e:f:1.2.3.4", "fe80::", "::g", "1:2:3:4:5:6:7::",
    ]);
  }
  iface(): string {
    return this.pick(["", "%lo", "%1", "%eth0", "%nonexistent0", "%", "%all", "%99", "%lo:x", "%0", "%a/b", "%+1", "%01", "%0x1", "%0b1", "%-1", "%1x", "%LO", "%2", "%0x7fffffff", "%4294967297"]);
  }
  pathChar(): string {
    return this.pick(["a", "b", "/", "\\", "\"", "'", "\t", "\x01", "\x7f", "\xe9", "\xc3\xa9", "\xff", "%", " ", "=", "#", "\x1b", "."]);
  }
  address(): string {
    switch (this.int(12)) {
      case 0:
      case 1:
        return this.port();
      case 2:
        return `${this.ipv4()}:${this.port()}`;
      case 3:
        return `[${this.ipv6()}]:${this.port()}${this.iface()}`;
      case 4:
        return this.pick([this.ipv6(), this.ipv4(), `${this.ipv6()}:${this.port()}`]);
      case 5: {
        let s = this.pick(["/", "@", "/run/", "@x", "/tmp/s"]);
        const n = this.chance(0.1) ? 100 + this.int(20) : this.int(12);
        for (let i = 0; i < n; i++) s += this.pathChar();
        return s;
      }
      case 6:
      case 7: {
        const kind = this.pick(["vsock", "vsock", "vsock-stream", "vsock-dgram", "vsock-seqpacket", "vsock-", "VSOCK"]);
        const cid = this.pick(["", "2", "host", "local", "hypervisor", "any", "-1", "0x10", "4294967295", "4294967296", "x", "3"]);
        const port = this.pick(["22", "0", "4294967295", "4294967294", "0x16", "", "-1", "x"]);
        return this.pick([`${kind}:${cid}:${port}`, `${kind}:${cid}`, `${kind}:${cid}:${port}:1`]);
      }
      case 8:
        return this.pick(["", "#", "1.2.3.4:22#name", "localhost:22", "[::1]", "[::1]:", "[::1]22", "::1:22", "a", "@", "/"]);
      case 9:
        return `${this.ipv4()}:${this.port()}${this.iface()}`;
      default: {
        let s = "";
        const n = this.int(8);
        for (let i = 0; i < n; i++) s += this.pick(["1", ":", "[", "]", ".", "%", "v", "@", "/", "0", "x", "f", " "]);
        return s;
      }
    }
  }
  bool(): string {
    return this.pick(["1", "0", "yes", "no", "YES", "On", "off", "true", "False", "t", "n", "maybe", "", "2", "y"]);
  }
  cmdlineWord(): string {
    const key = () => this.pick(["systemd.ssh_listen", "systemd.ssh-listen", "systemd-ssh_listen", "rd.systemd.ssh_listen", "systemd.ssh_listen_x", "Systemd.ssh_listen"]);
    switch (this.int(9)) {
      case 0:
      case 1:
      case 2: {
        const a = this.address();
        return this.pick([`${key()}=${a}`, `${key()}="${a}"`, `"${key()}=${a}"`, `${key()}='${a}`]);
      }
      case 3:
        return this.pick(["systemd.ssh_auto", "systemd.ssh-auto", "rd.systemd.ssh_auto", `systemd.ssh_auto=${this.bool()}`, `systemd_ssh_auto=${this.bool()}`]);
      case 4:
        return this.pick(["systemd.ssh_listen", "systemd.ssh_listen=", "quiet", "root=/dev/sda1", "ro", "\"\"", "''", "debug"]);
      default:
        return `systemd.ssh_listen=${this.address()}`;
    }
  }
  cmdline(): string {
    const n = this.int(6);
    const words: string[] = [];
    for (let i = 0; i < n; i++) words.push(this.cmdlineWord());
    const sep = () => this.pick([" ", " ", "  ", "\t", "\n", " \r\n "]);
    return words.map((w) => w + sep()).join("").slice(0, this.chance(0.8) ? undefined : -1);
  }
  credential(): string | null {
    if (this.chance(0.35)) return null;
    const n = this.int(6);
    let s = "";
    for (let i = 0; i < n; i++) {
      const line = this.pick([this.address(), this.address(), "# comment", "#22", "", "   ", `  ${this.address()}  `, "\t22\t"]);
      s += line + this.pick(["\n", "\n", "\r\n", "\r", "\0", "\n\n", "\n\r", "\r\n\0"]);
    }
    if (this.chance(0.05)) s += "x".repeat(2040 + this.int(16)) + "\n22\n";
    if (this.chance(0.2)) s = s.replace(/[\n\r\0]+$/, "");
    return s;
  }
  case(): Case {
    return {
      cmdline: this.cmdline(),
      credential: this.credential(),
      sshd: this.pick(["stub", "stub", "stub", "link", "none", "dir", "noexec"] as const),
      template: this.pick(["none", "none", "none", "file", "empty", "symlink", "alias", "dangling", "devnull", "dirlink", "alias-invalid", "alias-socket", "alias-subdir", "alias-self"] as const),
    };
  }
}

// scripts/make-deb --arch amd64|arm64 --binary PATH --out DIR: build DIR/systemd-ssh_<version>_<arch>.deb
// from that binary with dpkg-deb, and print its path.
//
// The package's files are install's own plan (src/install/layout.ts), read here with the host's Bun: every
// entry that is not at one of systemd's own paths is a file of the package (so an entry added to the layout
// lands in the .deb), and the binary installed is the one given, which is never run (it may be another
// architecture's). The entries at systemd's paths are created by the maintainer scripts
// (packaging/debian/postinst: `systemd-ssh install --package`), never owned by dpkg: systemd 256+ ships
// them, and dpkg refuses to unpack one package over another's file.
//
// debhelper would add a source package, debian/rules and a build-dependency for what is here a handful of
// files; dpkg-deb builds the same binary package from the staged tree (with md5sums, conffiles and
// Installed-Size written here as dh_md5sums, dh_installdeb and dpkg-gencontrol would).

import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, lstatSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { DEFAULT_LAYOUT, plan, type Entry } from "../src/install/layout.ts";

const repo = resolve(import.meta.dir, "..");
const pkg = join(repo, "packaging/debian");
const NAME = "systemd-ssh";
const DOC = `/usr/share/doc/${NAME}`;

/** Debian architecture -> the ELF machine readelf names, to refuse a binary of the wrong architecture. */
const MACHINE: Record<string, string> = { amd64: "Advanced Micro Devices X86-64", arm64: "AArch64" };

function die(msg: string): never {
  process.stderr.write(`make-deb: ${msg}\n`);
  process.exit(1);
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.error) die(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) die(`${cmd} ${args.join(" ")} failed:\n${r.stderr}`);
  return r.stdout;
}

function parseArgs(argv: string[]): { arch: string; binary: string; out: string; fast: boolean } {
  const o: Record<string, string> = {};
  let fast = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--fast") {
      fast = true;
      continue;
    }
    const m = /^--(arch|binary|out)(?:=(.*))?$/.exec(a);
    if (!m) die(`unknown argument '${a}' (usage: make-deb --arch amd64|arm64 --binary PATH --out DIR)`);
    const v = m[2] ?? argv[++i];
    if (v === undefined) die(`--${m[1]} needs a value`);
    o[m[1]!] = v;
  }
  for (const k of ["arch", "binary", "out"]) if (!o[k]) die(`--${k} is required (usage: make-deb --arch amd64|arm64 --binary PATH --out DIR)`);
  if (!(o.arch! in MACHINE)) die(`--arch must be amd64 or arm64, not '${o.arch}'`);
  return { arch: o.arch!, binary: resolve(o.binary!), out: resolve(o.out!), fast };
}

/**
 * Depends on libc6 at the newest GLIBC_x.y symbol version the binary needs (what dpkg-shlibdeps would
 * find for the only library it links, without needing the target architecture's libc6 installed).
 * Its other NEEDED entries (libpthread, libdl, libm, the dynamic loader) are all libc6's.
 */
function libcDepends(binary: string, arch: string): string {
  const header = run("readelf", ["-h", binary]);
  if (!header.includes(MACHINE[arch]!)) die(`${binary} is not an ${arch} executable`);
  const needed = [...run("readelf", ["-d", binary]).matchAll(/\(NEEDED\)\s+Shared library: \[(.+?)\]/g)].map((m) => m[1]!);
  const libc = /^(libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|ld-linux-(x86-64|aarch64)\.so\.[12])$/;
  const other = needed.filter((n) => !libc.test(n));
  if (other.length > 0) die(`${binary} needs libraries outside libc6: ${other.join(", ")}`);
  const versions = [...run("readelf", ["-V", binary]).matchAll(/Name: GLIBC_([0-9]+(?:\.[0-9]+)*)/g)].map((m) => m[1]!);
  const cmp = (a: string, b: string) => {
    const x = a.split(".").map(Number), y = b.split(".").map(Number);
    for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
    return 0;
  };
  const max = versions.sort(cmp).at(-1);
  return max ? `libc6 (>= ${max})` : "libc6";
}

/** Write one layout entry into the staging tree. */
function stage(root: string, e: Entry, binary: string): void {
  const disk = join(root, e.path);
  mkdirSync(dirname(disk), { recursive: true, mode: 0o755 });
  if (e.kind === "link") {
    symlinkSync(e.target, disk);
    return;
  }
  if (e.content === null) copyFileSync(binary, disk);
  else writeFileSync(disk, e.content);
  chmodSync(disk, e.mode);
}

/** gzip -9n: no file name or time stamp in the header, so the same input gives the same bytes. */
const gz = (data: string | Uint8Array) => gzipSync(data, { level: 9 });

function walk(dir: string, rel = ""): string[] {
  return readdirSync(join(dir, rel))
    .sort()
    .flatMap((n) => {
      const r = `${rel}/${n}`;
      return lstatSync(join(dir, r)).isDirectory() ? [r, ...walk(dir, r)] : [r];
    });
}

function main(): void {
  const { arch, binary, out, fast } = parseArgs(process.argv.slice(2));
  const version = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")).version as string;
  const changelog = readFileSync(join(pkg, "changelog"), "utf8");
  if (!changelog.startsWith(`${NAME} (${version}) `)) die(`packaging/debian/changelog does not start with version ${version} (package.json)`);
  try {
    if (!lstatSync(binary).isFile()) die(`${binary} is not a file`);
  } catch {
    die(`no binary at ${binary}`);
  }
  const depends = libcDepends(binary, arch);

  mkdirSync(out, { recursive: true });
  const root = mkdtempSync(join(out, `.${NAME}-${arch}-`));
  try {
    chmodSync(root, 0o755);
    const entries = plan(DEFAULT_LAYOUT).filter((e) => !e.systemdOwn);
    for (const e of entries) stage(root, e, binary);
    const doc = join(root, DOC);
    mkdirSync(doc, { recursive: true });
    writeFileSync(join(doc, "copyright"), readFileSync(join(pkg, "copyright")));
    writeFileSync(join(doc, "changelog.gz"), gz(changelog));
    mkdirSync(join(root, "usr/share/lintian/overrides"), { recursive: true });
    writeFileSync(join(root, `usr/share/lintian/overrides/${NAME}`), readFileSync(join(pkg, "lintian-overrides")));

    // Installed-Size: KiB per file rounded up, as dpkg-gencontrol counts (1 per link and directory).
    const files = walk(root);
    let kib = 0;
    for (const f of files) {
      const st = lstatSync(join(root, f));
      kib += st.isFile() ? Math.ceil(st.size / 1024) : 1;
    }
    const md5sums = files
      .filter((f) => lstatSync(join(root, f)).isFile())
      .map((f) => `${createHash("md5").update(readFileSync(join(root, f))).digest("hex")}  ${f.slice(1)}\n`)
      .join("");

    const control = join(root, "DEBIAN");
    mkdirSync(control, { mode: 0o755 });
    const fields: Record<string, string> = { VERSION: version, ARCH: arch, INSTALLED_SIZE: String(kib), DEPENDS: depends };
    writeFileSync(join(control, "control"), readFileSync(join(pkg, "control.in"), "utf8").replace(/@([A-Z_]+)@/g, (_, k: string) => fields[k] ?? die(`control.in: unknown @${k}@`)));
    writeFileSync(join(control, "md5sums"), md5sums);
    const conffiles = entries.filter((e) => e.kind === "file" && e.conffile).map((e) => `${e.path}\n`);
    if (conffiles.length > 0) writeFileSync(join(control, "conffiles"), conffiles.join(""));
    for (const s of ["postinst", "prerm", "postrm"]) {
      copyFileSync(join(pkg, s), join(control, s));
      chmodSync(join(control, s), 0o755);
    }
    for (const f of ["control", "md5sums", "conffiles"]) {
      try {
        chmodSync(join(control, f), 0o644);
      } catch {}
    }

    const deb = join(out, `${NAME}_${version}_${arch}.deb`);
    // xz -6 (dpkg-deb's default) packs the 107 MiB binary to 38 MiB, in ~2 CPU minutes; --fast (the tests)
    // takes gzip -1: ~52 MiB in seconds.
    run("dpkg-deb", ["--root-owner-group", ...(fast ? ["-Zgzip", "-z1"] : ["-Zxz", "-z6"]), "--build", root, deb]);
    process.stdout.write(`${deb}\n`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

main();

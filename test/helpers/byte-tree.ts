// A directory tree read back with names, contents and link targets as byte strings (latin1), so trees
// written under non-UTF-8 names compare exactly. byteTree(): sorted lines "D dir", "F file\n<content>",
// "L link -> target"; snapshotModes() and hashedTree(): the same walk as records with each entry's mode.

import { lstatSync, readdirSync, readFileSync, readlinkSync, type Stats } from "node:fs";

const b = (s: string) => Buffer.from(s, "latin1");

/** Every entry under `dir`, depth first in sorted order: its path relative to `dir` and its lstat(). */
function walk(dir: string, visit: (rel: string, path: Buffer, st: Stats) => void, rel = ""): void {
  for (const n of readdirSync(b(dir), { encoding: "buffer" }).map((x) => x.toString("latin1")).sort()) {
    const r = rel ? `${rel}/${n}` : n;
    const p = b(`${dir}/${n}`);
    const st = lstatSync(p);
    visit(r, p, st);
    if (st.isDirectory()) walk(`${dir}/${n}`, visit, r);
  }
}

const target = (p: Buffer) => readlinkSync(p, { encoding: "buffer" }).toString("latin1");

/** `modes`: directories and files with their mode too, "D dir 755", "F file 644\n<content>". */
export function byteTree(dir: string, opts: { modes?: boolean } = {}): string[] {
  const out: string[] = [];
  walk(dir, (r, p, st) => {
    const mode = opts.modes ? ` ${(st.mode & 0o7777).toString(8)}` : "";
    if (st.isSymbolicLink()) out.push(`L ${r} -> ${target(p)}`);
    else if (st.isDirectory()) out.push(`D ${r}${mode}`);
    else out.push(`F ${r}${mode}\n${readFileSync(p, "latin1")}`);
  });
  return out;
}

/** A directory's contents: path → "dir MODE", "file MODE <content as JSON>" or "link -> TARGET". */
export function snapshotModes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  walk(dir, (r, p, st) => {
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isSymbolicLink()) out[r] = `link -> ${target(p)}`;
    else if (st.isDirectory()) out[r] = `dir ${mode}`;
    else out[r] = `file ${mode} ${JSON.stringify(readFileSync(p, "latin1"))}`;
  });
  return out;
}

/** Like snapshotModes() for trees with large files: "/path" → "dir MODE", "-> TARGET" or "file MODE <hash>". */
export function hashedTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  walk(dir, (r, p, st) => {
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isSymbolicLink()) out[`/${r}`] = `-> ${target(p)}`;
    else if (st.isDirectory()) out[`/${r}`] = `dir ${mode}`;
    else out[`/${r}`] = `file ${mode} ${Bun.hash(readFileSync(p)).toString(16)}`;
  });
  return out;
}

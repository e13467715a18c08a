// A directory tree as sorted lines, names, contents and link targets as byte strings (latin1), so trees
// written under non-UTF-8 names compare exactly: "D dir", "F file\n<content>", "L link -> target".

import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";

const b = (s: string) => Buffer.from(s, "latin1");

export function byteTree(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const n of readdirSync(b(dir), { encoding: "buffer" }).map((x) => x.toString("latin1")).sort()) {
    const r = rel ? `${rel}/${n}` : n;
    const p = b(`${dir}/${n}`);
    const st = lstatSync(p);
    if (st.isSymbolicLink()) out.push(`L ${r} -> ${readlinkSync(p, { encoding: "buffer" }).toString("latin1")}`);
    else if (st.isDirectory()) out.push(`D ${r}`, ...byteTree(`${dir}/${n}`, r));
    else out.push(`F ${r}\n${readFileSync(p, "latin1")}`);
  }
  return out;
}

// find_executable() (src/basic/path-util.c): where sshd is, by $PATH as systemd reads it.

import type { ErrnoName } from "../../ffi/errno.ts";
import { errnoName } from "../shared/errno-name.ts";
import { access, stat, X_OK } from "../../ffi/fs.ts";
import { pathJoin, pathSimplify } from "../shared/path.ts";
import type { Result } from "./core.ts";

/**
 * $PATH's entries as systemd's find_executable_full() reads them: extract_first_word() with ":" as the
 * separator, EXTRACT_RELAX and EXTRACT_DONT_COALESCE_SEPARATORS. A backslash takes the next byte as it is
 * (so `\:` is a colon inside an entry, `\\` a backslash) and is dropped; one at the very end is
 * dropped too. Quotes mean nothing. Empty entries stay (and are skipped, as relative ones are).
 */
function pathEntries(p: string): string[] {
  const entries: string[] = [];
  let cur = "";
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === "\\") {
      if (i + 1 < p.length) cur += p[++i]!;
    } else if (c === ":") {
      entries.push(cur);
      cur = "";
    } else cur += c;
  }
  entries.push(cur);
  return entries;
}

/** Why `path` is not an executable regular file, in find_executable_full()'s order of checks; null if it is. */
function notExecutable(path: string): ErrnoName | null {
  const st = stat(path);
  if (typeof st === "number") return errnoName(st);
  if (st.type === "dir") return "EISDIR";
  if (st.type !== "reg") return "EBADFD";
  const e = access(path, X_OK);
  return e === 0 ? null : errnoName(e);
}

/** find_executable(): the first executable regular file called `name` in $PATH. */
export function findExecutable(name: string, pathEnv: string | undefined): Result<string> {
  const p = pathEnv ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin";
  let last: ErrnoName = "ENOENT";
  for (const element of pathEntries(p)) {
    if (!element.startsWith("/")) continue;
    const full = pathJoin(element, name);
    const why = notExecutable(full);
    if (why === null) return pathSimplify(full, true);
    if (why !== "EACCES") last = why;
  }
  return { errno: last };
}

// write(2) until every byte is out. fs.writeSync() is a single write(2), which a nearly full file system
// (or a pipe) may cut short without any error: the caller would link a truncated file into place, or end
// with exit status 0 after printing half its output. The next write(2) after a short one reports why.

import { writeSync } from "node:fs";

/** Write all of `data` (a string is written as UTF-8) to `fd`; throws what writeSync throws. */
export function writeAll(fd: number, data: Uint8Array | string): void {
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
}

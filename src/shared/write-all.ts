// write(2) until every byte is out, for output to a descriptor (stdout). A single write(2) may be cut short
// by a pipe or a nearly full file system without any error: the caller would end with exit status 0 after
// printing half its output. The next write(2) after a short one reports why.

import { SysError } from "../../ffi/errors.ts";
import { writeAll as writeAllTo } from "../../ffi/fs.ts";
import { encoder } from "../../ffi/path-bytes.ts";

/** Write all of `data` (a string is written as UTF-8) to `fd`; throws SysError("write") on failure (EPIPE: the reader left). */
export function writeAll(fd: number, data: Uint8Array | string): void {
  const err = writeAllTo(fd, typeof data === "string" ? encoder.encode(data) : data);
  if (err !== 0) throw new SysError("write", err);
}

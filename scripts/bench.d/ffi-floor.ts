// The floor of any bun:ffi program: load bun:ffi and bind libc as ffi/libc.ts does, then exit.
import { libc } from "../../ffi/libc.ts";

libc();

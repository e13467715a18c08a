// Little-endian struct fields (both our ABIs are little-endian), as numbers.
//
// 64-bit fields go through a DataView as two 32-bit halves: exact for what we store and read, user-space
// pointers, lengths and file sizes, all below 2^53, and without BigInt, whose first use costs the proxy's
// hot path more than the fields themselves. 32-bit fields of the small buffers the boot-time probes fill
// (an ioctl's CID, CPUID's registers) are read from a Uint8Array byte by byte: a DataView or another typed
// array would be one more first use at boot.

const HALF = 2 ** 32;

/** Store a non-negative integer below 2^53 in the u64 at `off`. */
export function setU64(view: DataView, off: number, value: number): void {
  view.setUint32(off, value % HALF, true);
  view.setUint32(off + 4, Math.floor(value / HALF), true);
}

/** The u64 at `off` as a number (exact below 2^53). */
export function getU64(view: DataView, off: number): number {
  return view.getUint32(off, true) + view.getUint32(off + 4, true) * HALF;
}

/** The u64 at `off` as a string that is equal for equal values, all 64 bits of them (e.g. st_ino). */
export function u64Key(view: DataView, off: number): string {
  return `${view.getUint32(off + 4, true)}:${view.getUint32(off, true)}`;
}

/** The u32 at `off` of a byte array. */
export function getU32(bytes: Uint8Array, off: number): number {
  return (bytes[off]! | (bytes[off + 1]! << 8) | (bytes[off + 2]! << 16) | (bytes[off + 3]! << 24)) >>> 0;
}

/** Store `value` (taken as a u32) at `off` of a byte array. */
export function setU32(bytes: Uint8Array, off: number, value: number): void {
  for (let i = 0; i < 4; i++) bytes[off + i] = (value >>> (8 * i)) & 0xff;
}

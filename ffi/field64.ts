// 64-bit struct fields read and written through a DataView as two little-endian 32-bit halves (both our
// ABIs are little-endian). Exact for what we store and read as numbers: user-space pointers, lengths and
// file sizes, all below 2^53. Without BigInt, whose first use costs the proxy's hot path more than the
// fields themselves.

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

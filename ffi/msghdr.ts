// struct msghdr with one iovec and a control buffer, for sendmsg()/recvmsg() with SCM_RIGHTS
// (ffi/socket.ts sends a descriptor, ffi/test-sockets.ts receives one).

import { ptr } from "bun:ffi";
import { cmsghdr as CM, iovec as IOV, msghdr as MH } from "./arch.ts";
import { setU64 } from "./le-fields.ts";

// struct msghdr, struct iovec and struct cmsghdr (LP64: 8-byte lengths and pointers, data aligned to 8).
export { CM, MH };

/** A msghdr with one iovec and a control buffer, all inside one ArrayBuffer so interior pointers stay valid. */
export class MsgLayout {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly iovOff = MH.size;
  readonly ctlOff = MH.size + IOV.size;
  readonly dataOff: number;

  constructor(
    readonly controlLen: number,
    readonly dataLen: number,
  ) {
    this.dataOff = this.ctlOff + controlLen;
    const buf = new ArrayBuffer(this.dataOff + dataLen);
    this.bytes = new Uint8Array(buf);
    this.view = new DataView(buf);
    const base = ptr(this.bytes);
    const v = this.view;
    setU64(v, MH.msg_iov, base + this.iovOff);
    setU64(v, MH.msg_iovlen, 1);
    if (controlLen > 0) {
      setU64(v, MH.msg_control, base + this.ctlOff);
      setU64(v, MH.msg_controllen, controlLen);
    }
    setU64(v, this.iovOff + IOV.iov_base, base + this.dataOff);
    setU64(v, this.iovOff + IOV.iov_len, dataLen);
  }
}

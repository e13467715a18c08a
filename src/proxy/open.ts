// Opening a target: the connect, and for vsock-mux the CONNECT/OK handshake (vsock-mux.ts). Every host
// form reaches its socket through openTarget's one switch; --wait repeats it while a VM boots (boot-wait.ts).

import { SysError } from "../../ffi/errors.ts";
import { withCause } from "../shared/failure.ts";
import type { Target } from "./core.ts";
import type { ProxyEffects } from "./effects.ts";
import { sendConnect, skipOkLine } from "./vsock-mux.ts";

type Connects = Pick<ProxyEffects, "connectUnix" | "connectVsock" | "close">;

function connectUnixOrFail(effects: Connects, path: string): number {
  try {
    return effects.connectUnix(path);
  } catch (e) {
    if (e instanceof SysError && e.syscall === "socket") throw withCause(e, "Failed to allocate AF_UNIX socket");
    throw withCause(e, `Failed to connect to AF_UNIX socket ${path}`);
  }
}

/** Connect to a target; for vsock-mux also the CONNECT/OK handshake. Throws Failure with systemd's message. */
export function openTarget(effects: Connects, target: Target): number {
  switch (target.kind) {
    case "unix":
      return connectUnixOrFail(effects, target.path);
    case "vsock":
      try {
        return effects.connectVsock(target.cid, target.port);
      } catch (e) {
        if (e instanceof SysError && e.syscall === "socket") throw withCause(e, "Failed to allocate AF_VSOCK socket");
        throw withCause(e, `Failed to connect to vsock:${target.cid}:${target.port}`);
      }
    case "vsock-mux": {
      const fd = connectUnixOrFail(effects, target.path);
      try {
        sendConnect(fd, target.path, target.port);
        skipOkLine(fd, target.path, target.port);
      } catch (e) {
        effects.close(fd);
        throw e;
      }
      return fd;
    }
  }
}

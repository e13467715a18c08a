// Varlink error replies as errno values: systemd's sd_varlink_error_to_errno(), checked against systemd 262.
//
// The generic varlink errors map to fixed values. io.systemd.System carries a Linux errno: its
// "errnoName" wins when present (case-insensitive, aliases included; anything else there makes it
// unusable), else "errno" when it is a whole number 1..4095; an "origin" other than "linux" makes it
// unusable. Everything unusable or unknown is EBADR, which callers print as the error's name instead.

import { Errno as E, errnoFromName } from "../../ffi/errno.ts";
import { JsonNumber, type JsonObject } from "./json.ts";

const VARLINK_ERROR_SYSTEM = "io.systemd.System";

const TABLE: Readonly<Record<string, number>> = {
  "io.systemd.Disconnected": E.ECONNRESET,
  "io.systemd.TimedOut": E.ETIMEDOUT,
  "io.systemd.Protocol": E.EPROTO,
  "org.varlink.service.InterfaceNotFound": E.EADDRNOTAVAIL,
  "org.varlink.service.MethodNotFound": E.ENXIO,
  "org.varlink.service.MethodNotImplemented": E.ENOTTY,
  "org.varlink.service.InvalidParameter": E.EINVAL,
  "org.varlink.service.PermissionDenied": E.EACCES,
  "org.varlink.service.ExpectedMore": E.EBADE,
  "org.varlink.service.ExpectedUpgrade": E.EPROTOTYPE,
};

const ERRNO_MAX = 4095;

/** The (positive) errno for a varlink error reply; EBADR when it has none. */
export function varlinkErrorToErrno(error: string, parameters: JsonObject): number {
  if (Object.hasOwn(TABLE, error)) return TABLE[error]!;
  if (error !== VARLINK_ERROR_SYSTEM) return E.EBADR;

  const origin = parameters.get("origin");
  if (origin !== undefined && origin !== "linux") return E.EBADR;

  const name = parameters.get("errnoName");
  if (name !== undefined) {
    if (typeof name !== "string") return E.EBADR;
    return errnoFromName(name) ?? E.EBADR;
  }

  const number = parameters.get("errno");
  if (number instanceof JsonNumber) {
    const n = number.asInteger();
    if (n !== null && n > 0n && n <= BigInt(ERRNO_MAX)) return Number(n);
  }
  return E.EBADR;
}

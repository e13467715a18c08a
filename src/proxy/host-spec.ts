// The host argument of `systemd-ssh-proxy HOST PORT`: a scheme, then '/' or '%' (scp and rsync treat a
// host with a '/' as a local path, so '%' stands in for it), then the scheme's own part. systemd's four
// schemes, and libvirt-ssh-proxy's qemu/, qemu:system/ and qemu:session/ (src/proxy/qemu.ts).

export type HostSpec =
  | { kind: "vsock"; cid: string }
  | { kind: "unix"; path: string }
  | { kind: "vsock-mux"; path: string }
  | { kind: "machine"; name: string }
  | { kind: "qemu"; scope: "system" | "session" | null; domain: string };

/** The text after `prefix` and one separator, or null: "vsock-mux/x" does not match prefix "vsock". */
function afterSeparator(host: string, prefix: string): string | null {
  if (!host.startsWith(prefix)) return null;
  const sep = host[prefix.length];
  return sep === "/" || sep === "%" ? host.slice(prefix.length + 1) : null;
}

/** Parse the host; null when no scheme matches. The order of the checks is systemd's. */
export function parseHostSpec(host: string): HostSpec | null {
  let rest = afterSeparator(host, "vsock");
  if (rest !== null) return { kind: "vsock", cid: rest };
  rest = afterSeparator(host, "unix");
  if (rest !== null) return { kind: "unix", path: rest };
  rest = afterSeparator(host, "vsock-mux");
  if (rest !== null) return { kind: "vsock-mux", path: rest };
  rest = afterSeparator(host, "machine");
  if (rest !== null) return { kind: "machine", name: rest };
  // libvirt-ssh-proxy's forms (not systemd's); no other scheme starts with "qemu".
  rest = afterSeparator(host, "qemu");
  if (rest !== null) return { kind: "qemu", scope: null, domain: rest };
  for (const scope of ["system", "session"] as const) {
    rest = afterSeparator(host, `qemu:${scope}`);
    if (rest !== null) return { kind: "qemu", scope, domain: rest };
  }
  return null;
}

/** Paths are absolute unless they start with "./"; systemd prepends '/' to anything else. */
export function absolutizeSocketPath(path: string): string {
  return path.startsWith("/") || path.startsWith("./") ? path : `/${path}`;
}

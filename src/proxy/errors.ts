// A proxy failure carrying the one line systemd's ssh-proxy prints for it.

export class ProxyError extends Error {
  override readonly name = "ProxyError";
  /** errno-style cause, for callers that branch on it (e.g. the boot-wait retry loop). */
  readonly code: string | undefined;

  constructor(message: string, code?: string) {
    super(message);
    this.code = code;
  }
}

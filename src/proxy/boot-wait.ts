// Waiting for a booting VM (`systemd-ssh-proxy --wait=SECONDS`, or $SYSTEMD_SSH_PROXY_WAIT): run the
// connect step (the connect, and for vsock-mux the CONNECT/OK handshake) again and again until it
// succeeds, the error is not one a booting VM gives, or the time is up.
//
// What "not up yet" looks like (measured with QEMU + vhost-device-vsock, see docs/vm.md):
//  - AF_UNIX (unix/, vsock-mux/): ENOENT (the VMM has not created its socket yet), ECONNREFUSED (a socket
//    file nobody listens on: VMM not started, or restarting), EAGAIN (listen backlog full).
//  - vsock-mux handshake: before the guest's vsock driver is up the multiplexer accepts and closes at once,
//    which shows as EPIPE or ECONNRESET on the CONNECT write, ECONNRESET on the read, or EOF before any
//    byte. EOF before any byte is also what "nothing listens on that guest port" looks like ("Port N on
//    PATH is not open"), which is exactly the state of a guest whose sshd socket is not started yet.
//  - AF_VSOCK (vsock/CID): ECONNRESET (the guest is up, nothing listens on the port yet), ECONNREFUSED,
//    ETIMEDOUT (the peer's transport does not answer: vsock's connect timeout is 2 s), ENODEV, EHOSTUNREACH
//    and ENETUNREACH (no such CID yet / no transport to it).
// Everything else (a bad argument, EACCES, a malformed reply after some bytes, a failure to hand the socket
// to ssh) is final at once: waiting cannot fix it.
//
// Backoff: 50 ms, doubling up to 500 ms between attempts; the last attempt starts no later than the
// deadline. An attempt that is itself slow (the vsock-mux OK wait, a vsock connect timeout) is not cut
// short, so the total may overrun the deadline by one attempt.

import type { ErrnoName } from "../../ffi/errno.ts";
import { Failure } from "../shared/failure.ts";

/** Error codes (errno names) that mean "the VM or its service is not up yet: try again". */
const NOT_UP_YET: ReadonlySet<string> = new Set<ErrnoName>([
  "ENOENT",
  "ECONNREFUSED",
  "EAGAIN",
  "EPIPE",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "ENODEV",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EINTR",
]);

interface WaitPolicy {
  /** Total time to keep trying, in milliseconds. 0: one attempt, no waiting. */
  timeoutMs: number;
  firstDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_DELAYS = { firstDelayMs: 50, maxDelayMs: 500 } as const;

/** Clock and sleep, injectable for tests. */
export interface WaitClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: WaitClock = {
  now: () => performance.now(),
  sleep: (ms) => Bun.sleep(ms),
};

function isNotUpYet(e: unknown): boolean {
  return e instanceof Failure && e.code !== undefined && NOT_UP_YET.has(e.code);
}

/**
 * Parse a wait time in seconds as given to --wait= or $SYSTEMD_SSH_PROXY_WAIT: a non-negative decimal
 * number ("30", "2.5"), optionally followed by "s". Returns milliseconds; throws Failure otherwise.
 */
export function parseWaitSeconds(value: string, source: string): number {
  const m = /^\s*(\d+(?:\.\d*)?|\.\d+)\s*s?\s*$/.exec(value);
  const secs = m ? Number(m[1]) : Number.NaN;
  if (!Number.isFinite(secs) || secs > 86400 * 365) {
    throw new Failure(`Invalid wait time in ${source}: ${JSON.stringify(value)} (expected seconds, e.g. 30 or 2.5).`, "EINVAL");
  }
  return Math.round(secs * 1000);
}

function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return Number.isInteger(s) ? `${s}s` : `${s.toFixed(1)}s`;
}

/**
 * Run `attempt` until it returns, throws an error that is not "not up yet", or `policy.timeoutMs` has
 * passed. `what` names the target for the final message ("vsock-mux/PATH port 22"). `onRetry` is told
 * each retried error (for debug logging).
 */
export async function retryUntilUp<T>(
  attempt: () => T | Promise<T>,
  policy: WaitPolicy,
  what: string,
  opts: { clock?: WaitClock; onRetry?: (e: Failure, attempt: number, delayMs: number) => void } = {},
): Promise<T> {
  const clock = opts.clock ?? realClock;
  const start = clock.now();
  const deadline = start + policy.timeoutMs;
  let delay = policy.firstDelayMs;
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (e) {
      if (!isNotUpYet(e)) throw e;
      const left = deadline - clock.now();
      if (policy.timeoutMs <= 0) throw e;
      if (left <= 0) {
        const err = e as Failure;
        throw new Failure(
          `Gave up waiting for ${what} after ${formatSeconds(policy.timeoutMs)} (${n} attempts): ${err.message}`,
          "ETIMEDOUT",
        );
      }
      const pause = Math.min(delay, left);
      opts.onRetry?.(e as Failure, n, pause);
      await clock.sleep(pause);
      delay = Math.min(delay * 2, policy.maxDelayMs);
    }
  }
}

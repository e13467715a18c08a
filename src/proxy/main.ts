// `systemd-ssh-proxy HOST PORT` (and `systemd-ssh proxy HOST PORT`): connect to what HOST names, then hand
// the connected socket to ssh over stdout (ProxyUseFdpass), or relay its bytes for clients that cannot
// take a descriptor (transport.ts, relay.ts). This is the hot path, run once per ssh connection: it loads
// only the socket calls and the handshakes it needs (effects.ts says what loads lazily).
//
// Each connection in three steps: resolve the host to a target (core.ts; machine/ and qemu/ look it up),
// open it (open.ts), hand the connected socket to ssh (effects.ts). --wait repeats the open step while
// the VM is booting (boot-wait.ts); for qemu/ the lookup too, since a starting domain has no CID yet.

import { SysError } from "../../ffi/errors.ts";
import { log, LOG_DEBUG, LOG_ERR } from "../shared/log.ts";
import { rawArgs, utf8Bytes } from "../shared/raw-bytes.ts";
import { Failure, withCause } from "../shared/failure.ts";
import { parseProxyArgs } from "./args.ts";
import { DEFAULT_DELAYS, retryUntilUp } from "./boot-wait.ts";
import { handOffContext, parseHost, resolveTarget, waitTime, WAIT_ENV, type HandOffContext, type Target } from "./core.ts";
import { realEffects, type HandOffResult, type ProxyEffects } from "./effects.ts";
import { openTarget } from "./open.ts";

/** Run the proxy for argv (without the program name) and exit with its status; errors are logged. */
export async function main(args: readonly string[], effects: ProxyEffects = realEffects): Promise<number> {
  return effects.exit(await run(args, effects));
}

async function run(args: readonly string[], effects: ProxyEffects): Promise<number> {
  log.parseEnvironment();
  try {
    // Arguments as byte strings, as systemd's C sees them: a socket path need not be UTF-8. Every message
    // built from them is a byte string too, and is printed byte for byte.
    await proxy(rawArgs(args), effects);
    return 0;
  } catch (e) {
    const message = e instanceof Failure || e instanceof SysError ? e.message : utf8Bytes(`Unexpected error: ${String(e)}`);
    log.logBytes(LOG_ERR, message);
    return 1;
  }
}

async function proxy(args: readonly string[], effects: ProxyEffects): Promise<void> {
  const { host, port, transport, waitMs: argWait } = parseProxyArgs(args);
  const spec = parseHost(host);
  const waitMs = waitTime(argWait, process.env[WAIT_ENV]);
  const lookups = await effects.lookups(spec);
  const resolve = () => resolveTarget(spec, port, lookups);

  let fd: number;
  let target: Target;
  // machine/: resolved through machined once; --wait does not apply (the machine must be registered).
  if (waitMs > 0 && spec.kind !== "machine") {
    // qemu/: the lookup is retried too (a starting domain has no CID yet); the others resolve once.
    const fixed = spec.kind === "qemu" ? null : resolve();
    fd = await retryUntilUp(
      () => openTarget(effects, (target = fixed ?? resolve())),
      { timeoutMs: waitMs, ...DEFAULT_DELAYS },
      `${host} port ${port}`,
      // e.message names the path as the byte string it is.
      { onRetry: (e, n, delay) => log.logBytes(LOG_DEBUG, `Not up yet (attempt ${n}: ${e.message}), retrying in ${delay} ms.`) },
    );
  } else {
    target = resolve();
    fd = openTarget(effects, target);
  }
  return handOff(effects, fd, handOffContext(target!, transport));
}

async function handOff(effects: ProxyEffects, fd: number, ctx: HandOffContext): Promise<void> {
  let result: HandOffResult | void;
  try {
    result = await effects.handOff(fd, ctx);
  } catch (e) {
    throw withCause(e, "Failed to send socket via STDOUT");
  } finally {
    effects.close(fd);
  }
  if (result !== "relayed") log.debug(`Successfully sent ${ctx.family} socket via STDOUT.`);
}

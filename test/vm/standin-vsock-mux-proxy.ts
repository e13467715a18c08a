// STAND-IN ProxyCommand for the VM lab tests, until dist/systemd-ssh-proxy exists.
// The tests will switch to `dist/systemd-ssh-proxy vsock-mux/HYBRID 22` (fd passing);
// delete this file then.
//
//   bun test/vm/standin-vsock-mux-proxy.ts HYBRID_SOCK PORT      (ssh: ProxyUseFdpass=no)
//
// Does the vsock-mux handshake (`CONNECT <port>\n` in one write, wait for `OK ...\n`)
// and then relays bytes between stdin/stdout and the socket. It never half-closes the
// socket: a host-side shutdown(SHUT_WR) tears the whole vsock connection down, so on
// EOF from ssh it closes everything instead.
import { vsockMuxConnect } from "../../scripts/vm/lab.ts";

const [hybrid, portArg] = process.argv.slice(2);
if (!hybrid || !portArg) {
  console.error("usage: standin-vsock-mux-proxy.ts HYBRID_SOCK PORT");
  process.exit(2);
}

let conn: Awaited<ReturnType<typeof vsockMuxConnect>>;
try {
  conn = await vsockMuxConnect(hybrid, Number(portArg), 10_000);
} catch (e) {
  console.error(`standin-proxy: ${(e as Error).message}`);
  process.exit(1);
}
const { socket, rest } = conn;
if (rest.length > 0) process.stdout.write(rest);

socket.on("data", (d: Buffer) => {
  // Back-pressure: stop reading the guest while ssh is slow to drain stdout.
  if (!process.stdout.write(d)) {
    socket.pause();
    process.stdout.once("drain", () => socket.resume());
  }
});
socket.on("close", () => process.exit(0));
socket.on("error", () => process.exit(1));
socket.resume();

process.stdin.on("data", (d: Buffer) => {
  if (!socket.write(d)) {
    process.stdin.pause();
    socket.once("drain", () => process.stdin.resume());
  }
});
process.stdin.on("end", () => {
  socket.destroy();
  process.exit(0);
});

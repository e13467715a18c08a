// Test driver: the proxy (main.ts) with the real libvirt lookup and an injected vsock connector, as its own
// process. libvirt stays out of the test process: once loaded there, its libssh dependency shows in the
// test process's maps, and proxies the later tests start would take it for a libssh client (transport.ts).
//   bun qemu-driver.ts PROXY-ARGS...
// Prints "connect CID PORT" on stdout for each vsock connect instead of making it; the proxy's log lines
// go to stderr; the exit status is the proxy's.
import { close } from "../../ffi/socket.ts";
import { socketpair } from "../../ffi/test-sockets.ts";
import { realEffects, type ProxyEffects } from "../../src/proxy/effects.ts";
import { main } from "../../src/proxy/main.ts";

const effects: ProxyEffects = {
  connectUnix: () => {
    throw new Error("unexpected AF_UNIX connect");
  },
  connectVsock(cid, port) {
    process.stdout.write(`connect ${cid} ${port}\n`);
    return socketpair()[0];
  },
  handOff: () => {},
  close,
  lookups: realEffects.lookups,
  exit: (code) => code,
};
process.exit(await main(process.argv.slice(2), effects));

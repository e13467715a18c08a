// A scripted AF_UNIX peer for handshake tests: it records what the client sends and, once the client's
// first line has arrived, plays a script of writes, pauses and a close, exactly as given. Each step is its
// own write(), so "split over two writes" and "in the same packet as the payload" mean what they say.

import type { Socket } from "bun";

export type Step = { write: string } | { sleep: number } | "close";

export interface ScriptedPeer {
  path: string;
  /** Every chunk received, in order, as the kernel delivered them. */
  received: string[];
  /** Resolves when the script has finished (or the client went away). */
  done: Promise<void>;
  stop(): void;
}

/** Play `script` on `sock`, one write() per write step; a "close" ends the connection and the script. */
async function play(sock: Socket<unknown>, script: Step[]): Promise<void> {
  for (const step of script) {
    if (step === "close") {
      sock.end();
      return;
    }
    if ("sleep" in step) await Bun.sleep(step.sleep);
    else sock.write(step.write);
  }
}

export function scriptedPeer(path: string, script: Step[]): ScriptedPeer {
  const received: string[] = [];
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  let started = false;

  const server = Bun.listen<undefined>({
    unix: path,
    socket: {
      data(sock, data) {
        received.push(data.toString());
        if (!started && received.join("").includes("\n")) {
          started = true;
          void play(sock, script).then(finish);
        }
      },
      close() {
        finish();
      },
    },
  });
  return { path, received, done, stop: () => server.stop(true) };
}

/** One connection's behaviour in a sequence: "close-at-once" accepts and closes before reading anything. */
export type ConnScript = Step[] | "close-at-once";

export interface SequencePeer {
  path: string;
  /** What each connection sent, in connection order (joined chunks). */
  connections: string[];
  stop(): void;
}

/**
 * A peer that serves many connections, each by its own script: connection i plays scripts[i], and the last
 * script is repeated for all later ones. With ["close-at-once", "close-at-once", [{write: "OK 22\n"}]] it is
 * a VMM whose guest comes up on the third try. Scripts other than "close-at-once" start, like scriptedPeer,
 * once the client's first line has arrived.
 */
export function scriptedPeerSequence(path: string, scripts: ConnScript[]): SequencePeer {
  const connections: string[] = [];
  type State = { index: number; started: boolean };
  const server = Bun.listen<State>({
    unix: path,
    socket: {
      open(sock) {
        const index = connections.length;
        connections.push("");
        sock.data = { index, started: false };
        const script = scripts[Math.min(index, scripts.length - 1)]!;
        if (script === "close-at-once") sock.end();
      },
      data(sock, data) {
        const st = sock.data;
        connections[st.index] += data.toString();
        const script = scripts[Math.min(st.index, scripts.length - 1)]!;
        if (script === "close-at-once" || st.started || !connections[st.index]!.includes("\n")) return;
        st.started = true;
        void play(sock, script);
      },
    },
  });
  return { path, connections, stop: () => server.stop(true) };
}

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

export function scriptedPeer(path: string, script: Step[]): ScriptedPeer {
  const received: string[] = [];
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  let started = false;

  async function play(sock: Socket<undefined>) {
    for (const step of script) {
      if (step === "close") {
        sock.end();
        break;
      }
      if ("sleep" in step) await Bun.sleep(step.sleep);
      else sock.write(step.write);
    }
    finish();
  }

  const server = Bun.listen<undefined>({
    unix: path,
    socket: {
      data(sock, data) {
        received.push(data.toString());
        if (!started && received.join("").includes("\n")) {
          started = true;
          void play(sock);
        }
      },
      close() {
        finish();
      },
    },
  });
  return { path, received, done, stop: () => server.stop(true) };
}

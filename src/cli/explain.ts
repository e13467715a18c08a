// `systemd-ssh explain [DIR]`: what the generator would do on this machine, and why (src/generator/explain.ts).

import { defineCommand } from "citty";

export default defineCommand({
  meta: { name: "explain", description: "Show what the ssh generator would write on this machine, and why (writes nothing)" },
  args: { dir: { type: "positional", required: false, description: "output directory to show in paths (default /run/systemd/generator)" } },
  async run({ args }) {
    const { explainMain } = await import("../generator/explain.ts");
    process.exitCode = await explainMain(args.dir ? [String(args.dir)] : []);
  },
});

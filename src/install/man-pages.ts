// The manual pages, one mdoc source each in man/ (written by hand, as OpenSSH writes its pages), embedded in
// the binary so that `systemd-ssh install` from an unpacked tarball installs them too. Installed gzipped
// (-9, no name or time stamp in the header), as Debian policy and man-db expect.

import { gzipSync } from "node:zlib";
import generator from "../../man/systemd-ssh-generator.8" with { type: "text" };
import issue from "../../man/systemd-ssh-issue.1" with { type: "text" };
import proxy from "../../man/systemd-ssh-proxy.1" with { type: "text" };
import command from "../../man/systemd-ssh.1" with { type: "text" };
import { COMMAND, TOOLS, type Program } from "../shared/tool-names.ts";

interface ManPage {
  name: string;
  section: 1 | 8;
  source: string;
  /** systemd 256+ ships a page of this name itself (262 also systemd-ssh-issue(1)). */
  systemdOwn: boolean;
  gz(): Uint8Array;
}

const page = ({ program, manSection }: Program, source: string, systemdOwn: boolean): ManPage => ({
  name: program,
  section: manSection,
  source,
  systemdOwn,
  gz: () => new Uint8Array(gzipSync(source, { level: 9 })),
});

export const MAN_PAGES: readonly ManPage[] = [
  page(COMMAND, command, false),
  page(TOOLS.proxy, proxy, true),
  page(TOOLS.generator, generator, true),
  page(TOOLS.issue, issue, true),
];

// What the generator writes and says, per systemd version: the ONE table. Every difference between
// the forms lives here; core.ts and units.ts only read it.
//
// - 262 (and 258+): systemd 262's own generator, byte for byte (reference: Debian sid 262.1).
// - 257 (256–257): systemd 257's own generator, byte for byte (reference: Debian trixie 257.13). 256 is
//   assumed to write what 257 writes (no 256 reference was available to prove it).
// - legacy (249–255): systemd has no ssh generator. Ours writes only directives that version knows and keeps
//   the features: socket activation on every address, ssh-access.target (written by us, since systemd before
//   256 does not ship it), the issue-file hooks, and the ephemeral authorized keys from the system credential
//   ssh.ephemeral-authorized_keys-all (copied from /run/credentials/@system/ when present: system credentials
//   exist from 252 on; on 249–251 the feature is unavailable and the copy step is a no-op).

export type FormName = "262" | "257" | "legacy";

export interface GeneratorForm {
  /** The systemd version this form was chosen for (the input), or null when it could not be told. */
  version: number | null;
  form: FormName;
  /** [Service] lines of the generated sshd-generated@.service, with %s for the sshd binary. */
  templateService: readonly string[];
  /** Extra lines at the end of sshd-vsock.socket. */
  vsockSocketExtra: readonly string[];
  /** PollLimitIntervalSec=/PollLimitBurst= (255+). */
  pollLimit: boolean;
  /** Write ssh-access.target ourselves (the system has none before 256). */
  writeSshAccessTarget: boolean;
  /** vsock:any:PORT and vsock:-1:PORT name VMADDR_CID_ANY (262; 257 refuses them). */
  vsockCidAny: boolean;
  /** When /dev/vsock is missing although AF_VSOCK exists: 262 still listens, 257 gives up. */
  vsockWithoutCid: "listen" | "skip";
  messages: {
    vsockUnsupported: string;
    vsockNoDevice: string;
    vsockCidFailed: string;
    exportConnect: string;
  };
}

const TEMPLATE_262 = [
  "ExecStartPre=systemd-tmpfiles --create --inline 'f^ /run/sshd-generated-%i/authorized_keys 0444 root root - ssh.ephemeral-authorized_keys-all'",
  'ExecStart=-%s -i -o "AuthorizedKeysFile /run/sshd-generated-%i/authorized_keys .ssh/authorized_keys"',
  "StandardInput=socket",
  "ImportCredential=ssh.ephemeral-authorized_keys-all",
  "RuntimeDirectory=sshd-generated-%i",
];

const TEMPLATE_257 = [
  'ExecStart=-%s -i -o "AuthorizedKeysFile ${CREDENTIALS_DIRECTORY}/ssh.ephemeral-authorized_keys-all .ssh/authorized_keys"',
  "StandardInput=socket",
  "ImportCredential=ssh.ephemeral-authorized_keys-all",
];

/** Before 256: no ImportCredential= (254+) and no tmpfiles "f^" credential lines; copy the system credential
 * if there is one ("-": a missing credential is not an error), into a per-connection runtime directory. */
const TEMPLATE_LEGACY = [
  "ExecStartPre=-/bin/cp --no-preserve=all -T /run/credentials/@system/ssh.ephemeral-authorized_keys-all /run/sshd-generated-%i/authorized_keys",
  "ExecStartPre=-/bin/chmod 0444 /run/sshd-generated-%i/authorized_keys",
  'ExecStart=-%s -i -o "AuthorizedKeysFile /run/sshd-generated-%i/authorized_keys .ssh/authorized_keys"',
  "StandardInput=socket",
  "RuntimeDirectory=sshd-generated-%i",
];

const ISSUE_HOOKS = [
  "ExecStartPost=-/usr/lib/systemd/systemd-ssh-issue make-vsock",
  "ExecStopPre=-/usr/lib/systemd/systemd-ssh-issue rm-vsock",
];

const MESSAGES_262: GeneratorForm["messages"] = {
  vsockUnsupported: "AF_VSOCK is not available, ignoring: %m",
  vsockNoDevice: "/dev/vsock is not available (even though AF_VSOCK is), ignoring: %m",
  vsockCidFailed: "Failed to query host's AF_VSOCK CID: %m",
  exportConnect: "\xe2\x86\x92 connect via 'ssh unix/run/systemd/nspawn/???/unix-export/ssh' from host",
};

const MESSAGES_257: GeneratorForm["messages"] = {
  vsockUnsupported: "Not creating AF_VSOCK ssh listener, since AF_VSOCK is not available.",
  vsockNoDevice: "Not creating AF_VSOCK ssh listener, since /dev/vsock is not available (even though AF_VSOCK is).",
  vsockCidFailed: "Failed to query local AF_VSOCK CID: %m",
  exportConnect: "\xe2\x86\x92 connect via 'ssh unix/run/systemd/nspawn/unix-export/???/ssh' from host",
};

/** Before 256; PollLimitIntervalSec=/PollLimitBurst= only from 255 on. */
const LEGACY: Omit<GeneratorForm, "version"> = {
  form: "legacy", templateService: TEMPLATE_LEGACY, vsockSocketExtra: ISSUE_HOOKS, pollLimit: false,
  writeSshAccessTarget: true, vsockCidAny: true, vsockWithoutCid: "listen", messages: MESSAGES_262,
};

/** The table: the first row whose `from` is <= the version wins. */
const FORMS: ReadonlyArray<{ from: number; form: Omit<GeneratorForm, "version"> }> = [
  {
    from: 258,
    form: {
      form: "262", templateService: TEMPLATE_262, vsockSocketExtra: ISSUE_HOOKS, pollLimit: true,
      writeSshAccessTarget: false, vsockCidAny: true, vsockWithoutCid: "listen", messages: MESSAGES_262,
    },
  },
  {
    from: 256,
    form: {
      form: "257", templateService: TEMPLATE_257, vsockSocketExtra: [], pollLimit: true,
      writeSshAccessTarget: false, vsockCidAny: false, vsockWithoutCid: "skip", messages: MESSAGES_257,
    },
  },
  { from: 255, form: { ...LEGACY, pollLimit: true } },
  { from: 0, form: LEGACY },
];

/** The form for a systemd version; null (unknown) means the newest. */
export function formFor(version: number | null): GeneratorForm {
  const v = version ?? Number.POSITIVE_INFINITY;
  let row = FORMS[FORMS.length - 1]!;
  for (const r of FORMS) if (v >= r.from) { row = r; break; }
  return { version, ...row.form };
}


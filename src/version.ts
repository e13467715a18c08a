// Our version, and the systemd release whose behaviour we match (test/scripts/build.test.ts keeps VERSION in
// step with package.json).
export const VERSION = "0.1.0";
export const SYSTEMD_PARITY = 262;

/** What --version prints. */
export const VERSION_LINE = `systemd-ssh ${VERSION} (systemd ${SYSTEMD_PARITY} compatible)\n`;

#!/usr/bin/env bash
# `npm run vm:test`: build our binary (unless SYSTEMD_SSH_BUILT=1: scripts/test or CI just did),
# fetch and build the guests (cached), and run test/vm/*.test.ts:
#   stage1.test.ts  minimal busybox guest: our proxy on both sides of a real virtio-vsock device
#   stage2.test.ts  Debian 12 and 13 guests booted the stock way (own kernel, update-initramfs, ext4 root),
#                   our tools from our .deb and from install --root (root only: mmdebstrap)
# Env: VM_STAGE2=0 skips stage 2; VM_STAGE2_SUITES="bookworm" limits it; VM_FIGURES=FILE writes figures;
# VM_CACHE=DIR moves the cache (default ~/.cache/systemd-ssh-vm, see lib.sh).
#
# lab.ts kills QEMU and vhost-device-vsock by PID itself; this wrapper is the backstop
# for when bun dies without cleaning up. lab.ts appends "PID" lines to $VM_PIDFILE; we
# kill a PID only if its command line still names a vm-lab temp dir, so a PID reused by
# an unrelated process after a clean stop is never hit.
# shellcheck source=scripts/vm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cd "$VM_REPO"
if [[ ${SYSTEMD_SSH_BUILT:-} != 1 ]]; then scripts/build; fi
[[ -x dist/systemd-ssh ]] || die "dist/systemd-ssh missing (scripts/build)"
if [[ ${VM_STAGE2:-1} != 0 && $(id -u) -ne 0 ]]; then
	if [[ ${CI:-} == true ]]; then die "stage 2 needs root (mmdebstrap); CI runs as root"; fi
	log "not root: skipping stage 2 (mmdebstrap needs root); run as root for the Debian guests"
	export VM_STAGE2=0
fi

# Fetch up front so missing tools fail here, with a clear message; the tests run build.sh and
# build-stage2.sh with what they want (cached).
"$VM_SCRIPTS/fetch.sh"

pidfile=$(mktemp /tmp/vm-lab-pids.XXXXXX)
export VM_PIDFILE=$pidfile VM_TEST=1
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	local pid
	while read -r pid; do
		[[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || continue
		if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q '/vm-lab-'; then
			log "killing leftover lab process $pid"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done <"$pidfile"
	rm -f "$pidfile"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t0=$SECONDS
set +e
scripts/bun-test --timeout 600000 test/vm "$@"
status=$?
set -e
log "VM suite: exit $status after $((SECONDS - t0)) s"
exit "$status"

#!/usr/bin/env bash
# `npm run vm:test`: build the stage-1 guest (cached) and run test/vm/*.test.ts.
#
# lab.ts kills QEMU and vhost-device-vsock by PID itself; this wrapper is the backstop
# for when bun dies without cleaning up. lab.ts appends "PID" lines to $VM_PIDFILE; we
# kill a PID only if its command line still names a vm-lab temp dir, so a PID reused by
# an unrelated process after a clean stop is never hit.
# shellcheck source=scripts/vm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Fetch up front so missing tools fail here, with a clear message; the test itself runs
# build.sh with the extras it wants (cached).
"$VM_SCRIPTS/fetch.sh"

pidfile=$(mktemp /tmp/vm-lab-pids.XXXXXX)
export VM_PIDFILE=$pidfile VM_TEST=1
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

cd "$VM_REPO"
node_modules/.bin/bun test --timeout 300000 test/vm "$@"

# shellcheck shell=bash
# Shared settings for the VM lab scripts (sourced, not run).
#
# Everything the lab downloads or builds lives under <repo>/.cache/vm (git-ignored),
# so a fresh clone rebuilds it and nothing outside the worktree is written except
# by apt-get install of missing bookworm tools on the host.

set -euo pipefail

VM_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VM_CACHE=${VM_CACHE:-$VM_REPO/.cache/vm}
# shellcheck disable=SC2034 # used by the scripts that source this file
VM_SCRIPTS=$VM_REPO/scripts/vm

log() { printf '[vm] %s\n' "$*" >&2; }
die() { printf '[vm] error: %s\n' "$*" >&2; exit 1; }

# Make sure a host command exists; install its bookworm package when root.
# We never touch /etc/apt: the host's own bookworm configuration is used as is.
need_host_cmd() {
	local cmd=$1 pkg=$2
	command -v "$cmd" >/dev/null 2>&1 && return 0
	if [[ $(id -u) -ne 0 ]]; then
		die "missing '$cmd': install the Debian package '$pkg' (apt-get install $pkg) or run this as root"
	fi
	log "installing missing host package $pkg (for $cmd)"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$pkg" >&2; then
		apt-get update >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$pkg" >&2
	fi
	command -v "$cmd" >/dev/null 2>&1 || die "installed $pkg but '$cmd' is still missing"
}

# apt-get with a private configuration rooted at $VM_CACHE/apt/$1, so that we can
# read bookworm and trixie indexes without changing the host's /etc/apt and without
# needing root. Usage: apt_private NAME SUITE... -- apt-get-args...
# (APT_TOOL=apt-cache runs apt-cache with the same configuration.)
apt_private() {
	local name=$1; shift
	local suites=()
	while [[ $1 != -- ]]; do suites+=("$1"); shift; done
	shift
	local dir=$VM_CACHE/apt/$name
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/parts" "$dir/prefs"
	: >"$dir/status"
	local s src=""
	for s in "${suites[@]}"; do
		local uri=http://deb.debian.org/debian
		[[ $s == *-security ]] && uri=http://deb.debian.org/debian-security
		src+="deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $s main"$'\n'
	done
	printf '%s' "$src" >"$dir/sources.list"
	"${APT_TOOL:-apt-get}" \
		-o Dir::Etc::SourceList="$dir/sources.list" \
		-o Dir::Etc::SourceParts="$dir/parts" \
		-o Dir::Etc::PreferencesParts="$dir/prefs" \
		-o Dir::Etc::Preferences="$dir/prefs/none" \
		-o Dir::State::Lists="$dir/lists" \
		-o Dir::State::status="$dir/status" \
		-o Dir::Cache="$dir/cache" \
		-o APT::Architecture=amd64 \
		-o APT::Architectures::=amd64 \
		-o Debug::NoLocking=1 \
		-o APT::Sandbox::User=root \
		"$@"
}

# Refresh a private index at most once a day: the archive changes rarely and
# apt-get update costs several seconds.
apt_private_update() {
	local name=$1; shift
	local stamp=$VM_CACHE/apt/$name/updated
	if [[ -f $stamp && -n $(find "$stamp" -mmin -1440 2>/dev/null) ]]; then return 0; fi
	log "apt-get update ($name: $*)"
	apt_private "$name" "$@" -- -qq update >&2 || true
	# apt-get update may exit 0 with an index missing: check for one.
	compgen -G "$VM_CACHE/apt/$name/lists/*_Packages*" >/dev/null \
		|| die "apt-get update for $name fetched no package index (see output above)"
	touch "$stamp"
}

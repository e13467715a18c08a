# shellcheck shell=bash
# Shared settings for the VM lab scripts (sourced, not run).
#
# Everything the lab downloads or builds lives in one cache directory outside git:
# $VM_CACHE, by default ${XDG_CACHE_HOME:-~/.cache}/systemd-ssh-vm, so that fresh clones and
# worktrees on the same machine share it (a cold stage-2 build costs minutes; the kernel
# package alone is 400 MB). Builds take a lock on it (vm_lock), so two clones building at
# once wait for each other instead of racing. Nothing else outside the worktree is written,
# except by apt-get install of missing bookworm tools on the host.
# VM_CACHE=<repo>/.cache/vm (git-ignored) keeps a clone's cache to itself.

set -euo pipefail

VM_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VM_CACHE=${VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/systemd-ssh-vm}
export VM_CACHE
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
	# Other builds on the machine may hold dpkg's lock: wait for it instead of failing.
	local lock=(-o DPkg::Lock::Timeout=600)
	if ! DEBIAN_FRONTEND=noninteractive apt-get "${lock[@]}" install -y --no-install-recommends "$pkg" >&2; then
		apt-get "${lock[@]}" update >&2
		DEBIAN_FRONTEND=noninteractive apt-get "${lock[@]}" install -y --no-install-recommends "$pkg" >&2
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

# Take the cache lock NAME (fetch, stage1, stage2-SUITE) for the rest of this process and
# its children, so that two clones building at once wait for each other instead of racing.
# Children see the names held in VM_LOCKS_HELD and do not lock them again (a second flock on
# a new descriptor would wait for ourselves). Released when the process exits.
vm_lock() {
	local name=$1 fd
	[[ ${VM_LOCKS_HELD:-} == *":$name:"* ]] && return 0
	mkdir -p "$VM_CACHE"
	exec {fd}>"$VM_CACHE/.lock-$name"
	if ! flock -n "$fd"; then
		log "waiting for another build to release $VM_CACHE/.lock-$name"
		flock "$fd"
	fi
	export VM_LOCKS_HELD="${VM_LOCKS_HELD:-:}$name:"
}

# The guest kernel as an uncompressed ELF vmlinux (boots about twice as fast under TCG as
# the bzImage), extracted once from the bzImage in fetch.env. Prints its path.
# The boot header says where the payload is: setup_sects at 0x1f1 (real-mode part is
# (setup_sects+1)*512 bytes), then payload_offset (0x248) and payload_length (0x24c)
# relative to the protected-mode code.
ensure_vmlinux() {
	local bz=$1 out=$2 vmlinux setup_sects payload_offset payload_length start magic
	vmlinux=$out/vmlinux-$(basename "$bz" | sed 's/^vmlinuz-//')
	if [[ ! -s $vmlinux ]]; then
		log "extracting $(basename "$vmlinux") from $(basename "$bz")"
		setup_sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$bz" | tr -d ' ')
		[[ $setup_sects -eq 0 ]] && setup_sects=4
		payload_offset=$(od -An -tu4 -j $((0x248)) -N4 "$bz" | tr -d ' ')
		payload_length=$(od -An -tu4 -j $((0x24c)) -N4 "$bz" | tr -d ' ')
		start=$(((setup_sects + 1) * 512 + payload_offset))
		payload() { dd if="$bz" iflag=skip_bytes,count_bytes skip="$start" count="$1" bs=1M status=none; }
		magic=$(payload 6 | od -An -tx1 | tr -d ' \n')
		# The payload ends with the 4-byte uncompressed size; xz stops at the end of its stream, zstd
		# (trixie's kernels) refuses trailing bytes: cut them off.
		local decomp len=$payload_length
		case $magic in
		fd377a585a00) decomp=(xz -dc --single-stream) ;;
		1f8b*) decomp=(gzip -dc) ;;
		28b52ffd*) need_host_cmd zstd zstd; decomp=(zstd -dc); len=$((payload_length - 4)) ;;
		*) die "unknown kernel payload compression (magic $magic)" ;;
		esac
		mkdir -p "$out"
		payload "$len" | "${decomp[@]}" >"$vmlinux.tmp" || die "decompressing the kernel payload failed"
		[[ $(od -An -tx1 -N4 "$vmlinux.tmp" | tr -d ' \n') == 7f454c46 ]] || die "extracted kernel is not ELF"
		mv "$vmlinux.tmp" "$vmlinux"
	fi
	printf '%s\n' "$vmlinux"
}

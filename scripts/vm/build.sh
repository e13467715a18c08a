#!/usr/bin/env bash
# Build the stage-1 guest: an uncompressed ELF vmlinux and an uncompressed newc cpio
# initramfs (both boot about twice as fast under TCG as bzImage + gzip).
#
# The initramfs holds busybox, the vsock modules, the host's OpenSSH sshd/sftp-server/
# ssh/scp and socat with their ldd libraries, host keys made once per cache, and any
# extra host programs (for later: dist/systemd-ssh inside the guest).
#
# Usage: build.sh [--extra PATH]... [--authorized-keys FILE]
#   env VM_EXTRA="PATH ..."          same as --extra (space separated)
#   env VM_AUTHORIZED_KEYS=FILE      same as --authorized-keys (baked into /etc/ssh/authorized_keys)
# Extras land in the guest as /usr/local/bin/<basename>; an extra that is a symlink to another
# extra (by basename) becomes the same relative symlink there.
#
# Outputs are cached in $VM_CACHE/out (see lib.sh); the initramfs file name carries a hash of all its
# inputs, so it is rebuilt only when one changes. Prints KEY=VALUE lines on stdout
# (VM_VMLINUX, VM_INITRD, VM_VHOST, VM_HOSTKEY_PUB, VM_INITRD_MB) and writes them to
# $VM_CACHE/build.env too.
# shellcheck source=scripts/vm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

extras=()
authkeys=${VM_AUTHORIZED_KEYS:-}
# shellcheck disable=SC2206 # splitting on spaces is the documented format
[[ -n ${VM_EXTRA:-} ]] && extras+=($VM_EXTRA)
while [[ $# -gt 0 ]]; do
	case $1 in
	--extra) extras+=("$2"); shift 2 ;;
	--authorized-keys) authkeys=$2; shift 2 ;;
	*) die "unknown argument: $1 (see the header of $0)" ;;
	esac
done
for x in "${extras[@]}"; do [[ -f $x && -x $x ]] || die "--extra $x is not an executable file"; done
# An extra that is a symlink to another extra (dist/systemd-ssh-proxy -> systemd-ssh) stays a
# symlink in the guest, so argv[0] dispatch works there as on the host.
link_target() {
	local x=$1 t y
	[[ -L $x ]] || return 1
	t=$(basename "$(readlink "$x")")
	for y in "${extras[@]}"; do
		[[ ! -L $y && $(basename "$y") == "$t" ]] && { printf '%s\n' "$t"; return 0; }
	done
	return 1
}
[[ -z $authkeys || -f $authkeys ]] || die "authorized keys file $authkeys not found"

vm_lock stage1
"$VM_SCRIPTS/fetch.sh"
# shellcheck source=/dev/null
source "$VM_CACHE/fetch.env"

out=$VM_CACHE/out
mkdir -p "$out"

vmlinux=$VM_VMLINUX

# --- module load order: dependencies first, read from each .ko's own depends= field
# (the package ships no modules.dep; depmod makes it at install time).
declare -A seen=()
modorder=()
modfile() { find "$VM_MODDIR/kernel" -name "$1.ko" | head -n1; }
add_module() {
	local m=$1 f d
	[[ -n ${seen[$m]:-} ]] && return 0
	seen[$m]=1
	f=$(modfile "$m"); [[ -n $f ]] || die "kernel module $m not unpacked (fetch.sh extracts drivers/virtio and net/vmw_vsock)"
	for d in $(tr '\0' '\n' <"$f" | sed -n 's/^depends=//p' | tr ',' ' '); do add_module "$d"; done
	modorder+=("$m")
}
add_module virtio_pci
add_module vmw_vsock_virtio_transport

# --- host programs that go into the guest, with their shared libraries.
host_bins=(/usr/sbin/sshd /usr/lib/openssh/sftp-server /usr/bin/ssh /usr/bin/scp /usr/bin/socat)
libs_of() { ldd "$1" 2>/dev/null | grep -o '/[^ ]*' | grep -v '^/.*:$' || true; }

# Host keys: made once per cache, so the guest's identity is stable across rebuilds
# and tests can pin it in known_hosts.
keydir=$VM_CACHE/hostkeys
if [[ ! -f $keydir/ssh_host_ed25519_key ]]; then
	mkdir -p "$keydir"
	ssh-keygen -q -t ed25519 -N '' -C vm-stage1 -f "$keydir/ssh_host_ed25519_key"
fi

# --- input hash: everything that ends up in the initramfs, by content.
inputs=$(
	{
		printf 'kernel %s\nbusybox %s\nmodules %s\n' "$(basename "$VM_KERNEL_DEB")" "$(basename "$VM_BUSYBOX_DEB")" "${modorder[*]}"
		sha256sum "$VM_SCRIPTS/build.sh" "$VM_SCRIPTS/guest-init.sh" "$keydir/ssh_host_ed25519_key"
		for b in "${host_bins[@]}" "${extras[@]}"; do
			if t=$(link_target "$b"); then printf 'link %s -> %s\n' "$(basename "$b")" "$t"; continue; fi
			sha256sum "$b"
			libs_of "$b" | sort -u | xargs -r sha256sum
		done
		[[ -n $authkeys ]] && sha256sum "$authkeys"
		printf 'extras %s\n' "${extras[*]}"
	} | sed "s|$VM_REPO|<repo>|g"
)
hash=$(printf '%s' "$inputs" | sha256sum | cut -c1-16)
initrd=$out/initramfs-$hash.cpio

if [[ ! -s $initrd ]]; then
	log "building $(basename "$initrd")"
	stage=$(mktemp -d "$out/stage.XXXXXX")
	trap 'rm -rf "$stage"' EXIT
	mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,lib/modules,etc/ssh,proc,sys,dev,tmp,run/sshd,root,var/log}
	chmod 1777 "$stage/tmp"; chmod 700 "$stage/root"

	install -m 755 "$VM_SCRIPTS/guest-init.sh" "$stage/init"

	# Host programs and libraries keep their host paths (/lib/x86_64-linux-gnu/..., the
	# loader in /lib64) so no RPATH or loader tricks are needed.
	copy_with_libs() {
		local src=$1 dst=$2 l
		mkdir -p "$stage$(dirname "$dst")"
		cp -L "$src" "$stage$dst"
		for l in $(libs_of "$src"); do
			[[ -e $stage$l ]] || { mkdir -p "$stage$(dirname "$l")"; cp -L "$l" "$stage$l"; }
		done
	}
	for b in "${host_bins[@]}"; do copy_with_libs "$b" "$b"; done
	for x in "${extras[@]}"; do
		if t=$(link_target "$x"); then ln -s "$t" "$stage/usr/local/bin/$(basename "$x")"; continue; fi
		copy_with_libs "$x" "/usr/local/bin/$(basename "$x")"
	done

	# busybox last, and only where no real program was put.
	cp "$VM_BUSYBOX" "$stage/bin/busybox"
	while read -r applet; do
		[[ -e $stage/$applet || -L $stage/$applet ]] && continue
		mkdir -p "$stage/$(dirname "$applet")"
		ln -s /bin/busybox "$stage/$applet"
	done < <("$VM_BUSYBOX" --list-full)

	for m in "${modorder[@]}"; do cp "$(modfile "$m")" "$stage/lib/modules/$m.ko"; done
	printf '%s\n' "${modorder[@]}" >"$stage/etc/modules.order"

	# Accounts: root for logins, sshd for privilege separation (Debian's sshd chroots
	# its unprivileged child into /run/sshd). "*" = no password, but not locked.
	cat >"$stage/etc/passwd" <<-'EOF'
		root:x:0:0:root:/root:/bin/sh
		sshd:x:100:65534::/run/sshd:/usr/sbin/nologin
		nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
	EOF
	cat >"$stage/etc/group" <<-'EOF'
		root:x:0:
		tty:x:5:
		nogroup:x:65534:
	EOF
	cat >"$stage/etc/shadow" <<-'EOF'
		root:*:19000:0:99999:7:::
		sshd:*:19000:0:99999:7:::
		nobody:*:19000:0:99999:7:::
	EOF
	chmod 600 "$stage/etc/shadow"
	printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files\n' >"$stage/etc/nsswitch.conf"
	printf '127.0.0.1 localhost vm-stage1\n' >"$stage/etc/hosts"
	printf '/bin/sh\n' >"$stage/etc/shells"
	# sshd records pty logins here and complains on the session's tty when they're missing.
	: >"$stage/var/log/lastlog"; : >"$stage/var/log/wtmp"; : >"$stage/var/log/btmp"; : >"$stage/run/utmp"

	install -m 600 "$keydir/ssh_host_ed25519_key" "$stage/etc/ssh/ssh_host_ed25519_key"
	install -m 644 "$keydir/ssh_host_ed25519_key.pub" "$stage/etc/ssh/ssh_host_ed25519_key.pub"
	[[ -n $authkeys ]] && install -m 644 "$authkeys" "$stage/etc/ssh/authorized_keys"
	cat >"$stage/etc/ssh/sshd_config" <<-'EOF'
		# stage-1 lab guest: root logs in by public key only; sshd runs as `sshd -i` per
		# vsock connection, so there is no listening socket and no pid file.
		HostKey /etc/ssh/ssh_host_ed25519_key
		PermitRootLogin prohibit-password
		PubkeyAuthentication yes
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		UsePAM no
		AuthorizedKeysFile .ssh/authorized_keys /etc/ssh/authorized_keys
		UseDNS no
		PrintMotd no
		PrintLastLog no
		PidFile none
		Subsystem sftp /usr/lib/openssh/sftp-server
	EOF

	(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$initrd.tmp"
	mv "$initrd.tmp" "$initrd"
	printf '%s\n' "$inputs" >"$initrd.inputs"
	# Keep the three newest images: different --extra sets may alternate.
	find "$out" -maxdepth 1 -name 'initramfs-*.cpio' -printf '%T@ %p\n' | sort -rn | tail -n +4 | cut -d' ' -f2- \
		| while read -r old; do rm -f "$old" "$old.inputs"; done
else
	log "up to date: $(basename "$initrd")"
fi

result=$(cat <<EOF
VM_VMLINUX=$vmlinux
VM_INITRD=$initrd
VM_INITRD_MB=$(( $(stat -c %s "$initrd") / 1048576 ))
VM_VHOST=$VM_VHOST
VM_HOSTKEY_PUB=$keydir/ssh_host_ed25519_key.pub
EOF
)
printf '%s\n' "$result" >"$VM_CACHE/build.env"
printf '%s\n' "$result"

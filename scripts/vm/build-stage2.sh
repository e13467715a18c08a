#!/usr/bin/env bash
# Build a stage-2 guest: a real Debian system (mmdebstrap, minbase + systemd + openssh-server)
# booted with systemd as PID 1, its whole tree as the initramfs (no disk image, no switch-root:
# without /etc/initrd-release systemd runs the rootfs as the real system), and our tools
# installed in it with `systemd-ssh install --root`.
#
# Usage: build-stage2.sh SUITE [--binary PATH]
#   SUITE    bookworm (systemd 252, no ssh generator of its own) or trixie (systemd 257, ships one)
#   --binary the systemd-ssh executable to install (default: <repo>/dist/systemd-ssh)
#
# Needs root (mmdebstrap --mode=root, chroot depmod): says so and stops otherwise.
#
# Two layers, cached separately in $VM_CACHE/stage2 (see lib.sh):
#   base-SUITE-HASH/      the mmdebstrap tree plus the guest setup below, and base-SUITE-HASH.cpio.
#                         HASH covers the suite, the package list, the base recipe (marked
#                         below) and the kernel package: rebuilt (30-60 s) only when one changes.
#   image-SUITE-HASH.cpio the base cpio with a second cpio appended that holds what
#                         `systemd-ssh install --root` wrote (the kernel unpacks concatenated
#                         archives in order). HASH adds the binary: a new build of our binary
#                         costs a second or two, not a new mmdebstrap.
# The kernel is bookworm's (from fetch.sh) for both suites: one 400 MB download, and 6.1 is
# new enough for systemd 257.
#
# Prints KEY=VALUE lines on stdout: VM_VMLINUX, VM_INITRD, VM_INITRD_MB, VM_VHOST,
# VM_HOSTKEY_PUB, VM_SUITE, VM_BASE (the tree, for reading; never boot-modified).
# shellcheck source=scripts/vm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

suite=${1:-}
shift || true
binary=$VM_REPO/dist/systemd-ssh
while [[ $# -gt 0 ]]; do
	case $1 in
	--binary) binary=$2; shift 2 ;;
	*) die "unknown argument: $1 (see the header of $0)" ;;
	esac
done
case $suite in
bookworm | trixie) ;;
*) die "usage: build-stage2.sh bookworm|trixie [--binary PATH]" ;;
esac
[[ -f $binary && -x $binary ]] || die "$binary is not an executable file (run scripts/build first, or pass --binary)"
binary=$(realpath "$binary")
if [[ $(id -u) -ne 0 ]]; then
	die "stage-2 images need root: mmdebstrap --mode=root and chroot (to run depmod) are root-only. Run as root, or skip stage 2 (VM_STAGE2=0)."
fi
need_host_cmd mmdebstrap mmdebstrap
need_host_cmd chroot coreutils

vm_lock "stage2-$suite"
"$VM_SCRIPTS/fetch.sh"
# shellcheck source=/dev/null
source "$VM_CACHE/fetch.env"
vmlinux=$VM_VMLINUX
kver=$(basename "$VM_MODDIR")

packages=systemd-sysv,openssh-server,kmod,udev,dbus
out=$VM_CACHE/stage2
mkdir -p "$out"

# The base's recipe is the part of this script between the ">>> base" and "<<< base" marks:
# editing the rest (the install layer, the output) does not cost a new mmdebstrap.
base_id=$(
	printf 'suite %s\npackages %s\nkernel %s\n' "$suite" "$packages" "$(basename "$VM_KERNEL_DEB")"
	sed -n '/^# >>> base/,/^# <<< base/p' "$VM_SCRIPTS/build-stage2.sh" | sha256sum | cut -d' ' -f1
)
base_hash=$(printf '%s' "$base_id" | sha256sum | cut -c1-16)
base=$out/base-$suite-$base_hash

cleanup_dirs=()
cleanup() { local d; for d in "${cleanup_dirs[@]}"; do rm -rf "$d"; done; }
trap cleanup EXIT

# >>> base
if [[ ! -f $base.cpio || ! -f $base/.done ]]; then
	rm -rf "$base" "$base.cpio"
	tree=$(mktemp -d "$out/.base-$suite.XXXXXX")
	cleanup_dirs+=("$tree")
	log "mmdebstrap $suite ($packages); this takes 30-60 s"
	t0=$SECONDS
	mmdebstrap --quiet --mode=root --variant=minbase --include="$packages" \
		--aptopt='Acquire::Retries "3"' \
		"$suite" "$tree" "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main" >&2 \
		|| die "mmdebstrap $suite failed (see above)"
	log "mmdebstrap $suite took $((SECONDS - t0)) s"

	# The vsock modules, where modprobe finds them, with a modules.dep made by the guest's own
	# depmod (the kernel package ships none; depmod makes it at install time).
	moddst=$tree/usr/lib/modules/$kver
	[[ -L $tree/lib ]] || moddst=$tree/lib/modules/$kver
	mkdir -p "$moddst"
	(cd "$VM_MODDIR" && find kernel -name '*.ko' -print0 | cpio -0 -pdm --quiet "$moddst")
	chroot "$tree" depmod -a "$kver" || die "depmod in the $suite tree failed"

	# PID 1 is systemd; before it, load the vsock transport the way an initrd (its udev) would
	# in a real VM, so that systemd's generators (ours!) already see the device and its CID.
	cat >"$tree/init" <<-'EOF'
		#!/bin/sh
		# stage-2 guest: load the virtio vsock transport (an initrd would), then become systemd.
		# The kernel's rootfs is a tmpfs whose root is mode 1777; sshd (StrictModes) refuses keys
		# below a world-writable /. A real root filesystem has 0755.
		chmod 755 /
		mount -t proc proc /proc 2>/dev/null
		mount -t sysfs sysfs /sys 2>/dev/null
		modprobe -a virtio_pci vmw_vsock_virtio_transport || echo "init: modprobe vsock failed"
		i=0
		while [ $i -lt 50 ]; do
			for d in /sys/bus/virtio/drivers/vmw_vsock_virtio_transport/virtio*; do [ -e "$d" ] && i=1000; done
			[ $i -ge 1000 ] && break
			i=$((i + 1)); sleep 0.1
		done
		exec /lib/systemd/systemd "$@"
	EOF
	chmod 755 "$tree/init"
	# Load them again after boot too (harmless; documents the dependency for systemd).
	printf 'virtio_pci\nvmw_vsock_virtio_transport\n' >"$tree/etc/modules-load.d/vsock.conf"

	echo "vm-$suite" >"$tree/etc/hostname"
	printf '127.0.0.1 localhost\n127.0.1.1 vm-%s\n' "$suite" >"$tree/etc/hosts"
	: >"$tree/etc/fstab"
	# The regular TCP sshd (ssh.service) is not what we test, and under TCG every service costs
	# boot time: off. Same for the apt/dpkg timers.
	for u in ssh.service ssh.socket apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer fstrim.timer e2scrub_all.timer e2scrub_reap.service; do
		chroot "$tree" systemctl disable "$u" >/dev/null 2>&1 || true
	done
	# The rootfs is a tmpfs that systemd can't remount or fsck; nothing to grow either.
	chroot "$tree" systemctl mask systemd-remount-fs.service >/dev/null 2>&1 || true
	# sshd logs in root by key only (Debian's default PermitRootLogin prohibit-password).
	# Root has no password ("*": not locked, so key logins work).
	rm -f "$tree/etc/machine-id" && : >"$tree/etc/machine-id"

	(cd "$tree" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$base.cpio.tmp"
	touch "$tree/.done"
	mv "$tree" "$base"
	mv "$base.cpio.tmp" "$base.cpio"
	# Older bases of this suite are dead weight (200+ MB each).
	for old in "$out"/base-"$suite"-*; do
		[[ $old == "$base" || $old == "$base.cpio" ]] && continue
		rm -rf "$old"
	done
fi
# <<< base

# --- our tools, installed the way an image builder would, into a hardlinked copy of the base
# (install writes every file under a temporary name and renames it: the base's inodes stay
# untouched). The overlay cpio holds only what install wrote or created.
# The installer is the binary itself (what an image builder runs), unless VM_INSTALLER names another
# build of ours (e.g. to install a branch's binary with main's install logic).
installer=${VM_INSTALLER:-$binary}
image_hash=$({
	printf '%s\n' "$base_hash"
	sha256sum "$binary" "$installer" | cut -d' ' -f1
} | sha256sum | cut -c1-16)
image=$out/image-$suite-$image_hash.cpio
if [[ ! -s $image ]]; then
	stage=$(mktemp -d "$out/.stage-$suite.XXXXXX")
	cleanup_dirs+=("$stage")
	cp -al "$base/." "$stage/"
	stamp=$stage/.stamp
	touch -d '-2 seconds' "$stamp"
	log "$(basename "$installer") install --root <$suite tree> --binary $binary"
	"$installer" install --root "$stage" --binary "$binary" >"$out/install-$suite.log" 2>&1 \
		|| { cat "$out/install-$suite.log" >&2; die "systemd-ssh install --root failed for $suite"; }
	sed 's/^/[vm]   /' "$out/install-$suite.log" >&2
	(cd "$stage" && find . -mindepth 1 -newer .stamp ! -name .stamp | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$stage.overlay.cpio"
	cleanup_dirs+=("$stage.overlay.cpio")
	cat "$base.cpio" "$stage.overlay.cpio" >"$image.tmp"
	mv "$image.tmp" "$image"
	for old in "$out"/image-"$suite"-*.cpio; do [[ $old == "$image" ]] || rm -f "$old"; done
else
	log "up to date: $(basename "$image")"
fi

cat <<EOF
VM_SUITE=$suite
VM_VMLINUX=$vmlinux
VM_INITRD=$image
VM_INITRD_MB=$(($(stat -c %s "$image") / 1048576))
VM_VHOST=$VM_VHOST
VM_HOSTKEY_PUB=$base/etc/ssh/ssh_host_ed25519_key.pub
VM_BASE=$base
EOF

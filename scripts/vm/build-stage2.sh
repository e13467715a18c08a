#!/usr/bin/env bash
# Build a stage-2 guest: a real Debian system that boots the way Debian boots. mmdebstrap makes the
# tree (minbase + systemd + openssh-server + the suite's own kernel, whose postinst runs
# update-initramfs with initramfs-tools' default settings); mke2fs -d turns it into an ext4 root
# disk; QEMU boots the tree's own kernel and initramfs, which mounts that disk (virtio-blk) and
# switches root to it; PID 1 is the image's systemd. Nothing of ours runs before it: no init shim,
# no module preloading. Our tools are installed in the tree the way a user or an image builder would.
#
# Usage: build-stage2.sh SUITE [--via install|deb] [--binary PATH] [--deb PATH]
#   SUITE     bookworm (systemd 252, no ssh generator of its own) or trixie (systemd 257, ships one)
#   --via     install: `systemd-ssh install --root TREE` (what an image builder runs; the default)
#             deb:     `dpkg -i` of our .deb in a chroot of the tree (what a user runs)
#   --binary  the systemd-ssh executable to install (default: <repo>/dist/systemd-ssh)
#   --deb     the .deb for --via deb (default: built from --binary with scripts/make-deb)
#
# Needs root (mmdebstrap --mode=root, chroot): says so and stops otherwise.
#
# Two layers, cached separately in $VM_CACHE/stage2 (see lib.sh):
#   base-SUITE-HASH/          the mmdebstrap tree plus the guest setup below. HASH covers the suite,
#                             the package list and the base recipe (marked below): rebuilt (1-3 min,
#                             mostly the kernel download and update-initramfs) only when one changes.
#                             The archive's newest kernel of the day comes with it.
#   image-SUITE-VIA-HASH/     root.img (ext4, sparse), and the kernel (as an ELF vmlinux, which boots
#                             about twice as fast under TCG as the bzImage; same kernel) and the
#                             initrd.img, both taken from the installed tree's /boot. HASH adds the
#                             way of installing and what was installed (binary, installer or .deb) and
#                             the image recipe: a new build of our binary costs a copy of the tree and
#                             an mke2fs (~10-20 s), not a new mmdebstrap.
# The guest boots with the disk as `-drive ...,snapshot=on`: the cached image is never written.
#
# Prints KEY=VALUE lines on stdout: VM_VMLINUX, VM_INITRD, VM_DISK, VM_INITRD_MB, VM_VHOST,
# VM_HOSTKEY_PUB, VM_SUITE, VM_VIA, VM_BASE (the tree, for reading; never boot-modified).
# shellcheck source=scripts/vm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

suite=${1:-}
shift || true
binary=$VM_REPO/dist/systemd-ssh
via=install
deb=
while [[ $# -gt 0 ]]; do
	case $1 in
	--binary) binary=$2; shift 2 ;;
	--via) via=$2; shift 2 ;;
	--deb) deb=$2; shift 2 ;;
	*) die "unknown argument: $1 (see the header of $0)" ;;
	esac
done
case $suite in
bookworm | trixie) ;;
*) die "usage: build-stage2.sh bookworm|trixie [--via install|deb] [--binary PATH] [--deb PATH]" ;;
esac
case $via in
install | deb) ;;
*) die "--via must be install or deb, not '$via'" ;;
esac
[[ -f $binary && -x $binary ]] || die "$binary is not an executable file (run scripts/build first, or pass --binary)"
binary=$(realpath "$binary")
if [[ $(id -u) -ne 0 ]]; then
	die "stage-2 images need root: mmdebstrap --mode=root and chroot are root-only. Run as root, or skip stage 2 (VM_STAGE2=0)."
fi
need_host_cmd mmdebstrap mmdebstrap
need_host_cmd chroot coreutils
need_host_cmd mke2fs e2fsprogs

vm_lock "stage2-$suite"
"$VM_SCRIPTS/fetch.sh"
# shellcheck source=/dev/null
source "$VM_CACHE/fetch.env"

# The suite's own kernel (linux-image-amd64 pulls initramfs-tools); e2fsprogs gives the initramfs
# its fsck.ext4, as on any Debian with an ext4 root.
packages=systemd-sysv,openssh-server,kmod,udev,dbus,linux-image-amd64,initramfs-tools,e2fsprogs
out=$VM_CACHE/stage2
mkdir -p "$out"

# The base's recipe is the part of this script between the ">>> base" and "<<< base" marks:
# editing the rest (the install layer, the output) does not cost a new mmdebstrap.
base_id=$(
	printf 'suite %s\npackages %s\n' "$suite" "$packages"
	sed -n '/^# >>> base/,/^# <<< base/p' "$VM_SCRIPTS/build-stage2.sh" | sha256sum | cut -d' ' -f1
)
base_hash=$(printf '%s' "$base_id" | sha256sum | cut -c1-16)
base=$out/base-$suite-$base_hash

cleanup_dirs=()
cleanup() { local d; for d in "${cleanup_dirs[@]}"; do rm -rf "$d"; done; }
trap cleanup EXIT

# >>> base
if [[ ! -f $base/.done ]]; then
	rm -rf "$base"
	tree=$(mktemp -d "$out/.base-$suite.XXXXXX")
	cleanup_dirs+=("$tree")
	log "mmdebstrap $suite ($packages); this takes 1-3 min (kernel, update-initramfs)"
	t0=$SECONDS
	mmdebstrap --quiet --mode=root --variant=minbase --include="$packages" \
		--aptopt='Acquire::Retries "3"' \
		"$suite" "$tree" "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main" >&2 \
		|| die "mmdebstrap $suite failed (see above)"
	log "mmdebstrap $suite took $((SECONDS - t0)) s"
	# The kernel's postinst ran update-initramfs (initramfs-tools' defaults: MODULES=most, no hooks
	# of ours). Without its initrd the image could not boot: stop here rather than later.
	compgen -G "$tree/boot/initrd.img-*" >/dev/null || die "the $suite tree has no /boot/initrd.img-* (update-initramfs did not run?)"
	compgen -G "$tree/boot/vmlinuz-*" >/dev/null || die "the $suite tree has no /boot/vmlinuz-*"

	echo "vm-$suite" >"$tree/etc/hostname"
	printf '127.0.0.1 localhost\n127.0.1.1 vm-%s\n' "$suite" >"$tree/etc/hosts"
	printf 'LABEL=vm-root / ext4 errors=remount-ro 0 1\n' >"$tree/etc/fstab"
	# The regular TCP sshd (ssh.service) is not what we test, and under TCG every service costs
	# boot time: off. Same for the apt/dpkg timers.
	for u in ssh.service ssh.socket apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer fstrim.timer e2scrub_all.timer e2scrub_reap.service; do
		chroot "$tree" systemctl disable "$u" >/dev/null 2>&1 || true
	done
	# sshd logs in root by key only (Debian's default PermitRootLogin prohibit-password).
	# Root has no password ("*": not locked, so key logins work). A new machine-id every boot.
	rm -f "$tree/etc/machine-id" && : >"$tree/etc/machine-id"
	touch "$tree/.done"
	mv "$tree" "$base"
	# Older bases of this suite are dead weight (500+ MB each), and so are their images.
	for old in "$out"/base-"$suite"-* "$out"/image-"$suite"-*; do
		[[ $old == "$base" ]] && continue
		[[ $old == "$out/image-$suite-"* && $(cat "$old/.base" 2>/dev/null) == "$base_hash" ]] && continue
		rm -rf "$old"
	done
fi
# <<< base

# --- our tools, installed into a copy of the base (the base stays as mmdebstrap left it).
# The installer is the binary itself (what an image builder runs), unless VM_INSTALLER names another
# build of ours (e.g. to install a branch's binary with main's install logic).
installer=${VM_INSTALLER:-$binary}
if [[ $via == deb && -z $deb ]]; then
	[[ -x $VM_REPO/scripts/make-deb ]] || die "--via deb needs scripts/make-deb (the packaging branch) or --deb PATH"
	# One .deb per binary and packaging code, shared by the suites (xz over 100 MB is not cheap).
	deb_hash=$(cat "$binary" "$VM_REPO/scripts/make-deb" "$VM_REPO"/scripts/make-deb.ts "$VM_REPO"/src/install/*.ts 2>/dev/null | sha256sum | cut -c1-16)
	debdir=$VM_CACHE/deb/$deb_hash
	vm_lock deb
	if [[ ! -f $debdir/.done ]]; then
		rm -rf "$debdir" && mkdir -p "$debdir"
		log "scripts/make-deb --binary $binary"
		"$VM_REPO/scripts/make-deb" --arch amd64 --binary "$binary" --out "$debdir" --fast >"$debdir/path" || die "scripts/make-deb failed"
		touch "$debdir/.done"
		for old in "$VM_CACHE"/deb/*; do [[ $old == "$debdir" ]] || rm -rf "$old"; done
	fi
	deb=$(tail -n1 "$debdir/path")
fi
if [[ $via == deb ]]; then
	[[ -f $deb ]] || die "--deb $deb: no such file"
	deb=$(realpath "$deb")
fi
image_hash=$({
	printf '%s\n%s\n' "$base_hash" "$via"
	if [[ $via == install ]]; then sha256sum "$binary" "$installer" | cut -d' ' -f1; else sha256sum "$deb" | cut -d' ' -f1; fi
	sed -n '/^# >>> image/,/^# <<< image/p' "$VM_SCRIPTS/build-stage2.sh" | sha256sum | cut -d' ' -f1
} | sha256sum | cut -c1-16)
image=$out/image-$suite-$via-$image_hash
# >>> image
if [[ ! -f $image/.done ]]; then
	rm -rf "$image"
	stage=$(mktemp -d "$out/.stage-$suite.XXXXXX")
	cleanup_dirs+=("$stage")
	t0=$SECONDS
	cp -a "$base/." "$stage/tree"
	rm -f "$stage/tree/.done"
	if [[ $via == install ]]; then
		log "$(basename "$installer") install --root <$suite tree> --binary $binary"
		"$installer" install --root "$stage/tree" --binary "$binary" >"$stage/install.log" 2>&1 \
			|| { cat "$stage/install.log" >&2; die "systemd-ssh install --root failed for $suite"; }
	else
		log "dpkg -i $(basename "$deb") in a chroot of the $suite tree"
		cp "$deb" "$stage/tree/tmp/"
		# With /proc, as image builders (mmdebstrap, debootstrap) give their chroots: the postinst runs our
		# binary, and a Bun executable finds its own code through /proc/self/exe (without it, it aborts).
		# The mount lives in a private mount namespace and ends with dpkg.
		unshare --mount --propagation private sh -c 'mount -t proc proc "$1/proc" && exec chroot "$1" dpkg -i "$2"' \
			sh "$stage/tree" "/tmp/$(basename "$deb")" >"$stage/install.log" 2>&1 \
			|| { cat "$stage/install.log" >&2; die "dpkg -i of our .deb failed in the $suite tree"; }
		rm -f "$stage/tree/tmp/$(basename "$deb")"
	fi
	sed 's/^/[vm]   /' "$stage/install.log" >&2
	mkdir -p "$stage/img"
	kver=$(basename "$(ls "$stage/tree"/boot/vmlinuz-* | sort -V | tail -n1)" | sed 's/^vmlinuz-//')
	cp "$stage/tree/boot/initrd.img-$kver" "$stage/img/initrd.img"
	vmlinux=$(ensure_vmlinux "$stage/tree/boot/vmlinuz-$kver" "$stage/img")
	mv "$vmlinux" "$stage/img/vmlinux"
	# Room for the journal and whatever the guest writes during a test (it boots a snapshot anyway).
	mb=$(($(du -sm "$stage/tree" | cut -f1) + 512))
	mke2fs -q -F -t ext4 -L vm-root -d "$stage/tree" "$stage/img/root.img" "${mb}M" \
		|| die "mke2fs -d of the $suite tree failed"
	printf '%s\n' "$base_hash" >"$stage/img/.base"
	cp "$stage/install.log" "$stage/img/install.log"
	touch "$stage/img/.done"
	mv "$stage/img" "$image"
	log "image $(basename "$image"): $((SECONDS - t0)) s (kernel $kver)"
	for old in "$out"/image-"$suite"-"$via"-*; do [[ $old == "$image" ]] || rm -rf "$old"; done
else
	log "up to date: $(basename "$image")"
fi
# <<< image

cat <<EOF
VM_SUITE=$suite
VM_VIA=$via
VM_VMLINUX=$image/vmlinux
VM_INITRD=$image/initrd.img
VM_DISK=$image/root.img
VM_INITRD_MB=$(($(stat -c %s "$image/initrd.img") / 1048576))
VM_VHOST=$VM_VHOST
VM_HOSTKEY_PUB=$base/etc/ssh/ssh_host_ed25519_key.pub
VM_BASE=$base
EOF

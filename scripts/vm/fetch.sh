#!/usr/bin/env bash
# Fetch what the VM lab needs from Debian's archive into $VM_CACHE (see lib.sh):
#   - the bookworm kernel (linux-image-amd64 -> linux-image-6.1.0-N-amd64), unpacked partially,
#     and its uncompressed ELF vmlinux (boots about twice as fast under TCG as the bzImage)
#   - busybox-static from bookworm (the guest's /bin/sh and tools)
#   - vhost-device-vsock from trixie, else sid (not in bookworm; it runs on bookworm's glibc
#     as is; the archive's trixie has dropped it at times, so sid is the fallback)
# and checks the host tools (qemu, cpio, sshd, socat, ssh-keygen), installing the
# missing bookworm packages when root.
#
# Prints nothing on stdout; writes $VM_CACHE/fetch.env with the paths it produced.
# shellcheck source=scripts/vm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_host_cmd qemu-system-x86_64 qemu-system-x86
need_host_cmd cpio cpio
need_host_cmd socat socat
need_host_cmd ssh-keygen openssh-client
need_host_cmd ssh openssh-client
need_host_cmd /usr/sbin/sshd openssh-server
[[ -x /usr/lib/openssh/sftp-server ]] || need_host_cmd /usr/lib/openssh/sftp-server openssh-sftp-server
need_host_cmd xz xz-utils
need_host_cmd dpkg-deb dpkg
need_host_cmd flock util-linux
vm_lock fetch

mkdir -p "$VM_CACHE/debs"

BOOKWORM=(bookworm bookworm-updates bookworm-security)
apt_private_update bookworm "${BOOKWORM[@]}"
apt_private_update trixie trixie
apt_private_update sid sid

# Download one package (newest candidate of that index) unless already there;
# echo the .deb path. apt-get download writes into the current directory.
fetch_deb() {
	local name=$1 pkg=$2 ver file
	shift 2
	ver=$(apt_private "$name" "$@" -- -qq --print-uris download "$pkg" 2>/dev/null | awk '{print $2}') || true
	[[ -n $ver ]] || { log "$pkg: not in $name"; return 1; }
	file=$VM_CACHE/debs/$ver
	if [[ ! -s $file ]]; then
		log "downloading $ver"
		(cd "$VM_CACHE/debs" && apt_private "$name" "$@" -- -qq download "$pkg" >&2)
	fi
	[[ -s $file ]] || die "download of $pkg did not produce $file"
	printf '%s\n' "$file"
}

# linux-image-amd64 is a metapackage: follow it to the versioned image package.
kpkg=$(APT_TOOL=apt-cache apt_private bookworm "${BOOKWORM[@]}" -- depends linux-image-amd64 \
	| awk '/Depends: linux-image-/{print $2; exit}')
[[ -n $kpkg ]] || die "cannot resolve linux-image-amd64 to a kernel package"

kernel_deb=$(fetch_deb bookworm "$kpkg" "${BOOKWORM[@]}") || die "no kernel package $kpkg"
busybox_deb=$(fetch_deb bookworm busybox-static "${BOOKWORM[@]}") || die "no busybox-static"
vhost_deb=$(fetch_deb trixie vhost-device-vsock trixie || fetch_deb sid vhost-device-vsock sid) \
	|| die "vhost-device-vsock is in neither trixie nor sid"

# Unpack only what we use from the 400 MB kernel package: the bzImage and the
# virtio/vsock modules (modules.dep is made by depmod at install, not shipped).
kdir=$VM_CACHE/unpacked/$(basename "$kernel_deb" .deb)
if [[ ! -f $kdir/.done ]]; then
	log "unpacking $(basename "$kernel_deb")"
	rm -rf "$kdir"; mkdir -p "$kdir"
	dpkg-deb --fsys-tarfile "$kernel_deb" | tar -x -C "$kdir" --wildcards \
		'./boot/vmlinuz-*' \
		'./lib/modules/*/kernel/drivers/virtio/*' './lib/modules/*/kernel/net/vmw_vsock/*'
	touch "$kdir/.done"
fi

unpack_all() {
	local deb=$1 dir
	dir=$VM_CACHE/unpacked/$(basename "$deb" .deb)
	if [[ ! -f $dir/.done ]]; then
		rm -rf "$dir"; mkdir -p "$dir"
		dpkg-deb -x "$deb" "$dir"
		touch "$dir/.done"
	fi
	printf '%s\n' "$dir"
}
bbdir=$(unpack_all "$busybox_deb")
vhdir=$(unpack_all "$vhost_deb")

bzimage=$(ls "$kdir"/boot/vmlinuz-*)
moddir=$(ls -d "$kdir"/lib/modules/*)
[[ -x $bbdir/bin/busybox ]] || die "busybox-static has no bin/busybox"
vhost=$vhdir/usr/bin/vhost-device-vsock
[[ -x $vhost ]] || die "vhost-device-vsock package has no usr/bin/vhost-device-vsock"

vmlinux=$(ensure_vmlinux "$bzimage" "$VM_CACHE/out")

cat >"$VM_CACHE/fetch.env" <<EOF
VM_KERNEL_DEB=$kernel_deb
VM_BZIMAGE=$bzimage
VM_VMLINUX=$vmlinux
VM_MODDIR=$moddir
VM_BUSYBOX=$bbdir/bin/busybox
VM_BUSYBOX_DEB=$busybox_deb
VM_VHOST=$vhost
EOF
log "fetched: $(basename "$kernel_deb") $(basename "$busybox_deb") $(basename "$vhost_deb")"

#!/bin/sh
# PID 1 of the stage-1 guest (busybox sh). Copied into the initramfs as /init by build.sh.
#
# The guest exists only to offer a real OpenSSH server over virtio-vsock port 22, so this
# does the minimum: mount the API filesystems, load the vsock driver, install the
# authorized key handed over on the kernel command line, and run one `sshd -i` per
# vsock connection. Everything it prints goes to the serial console (a log file on the host).
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
hostname vm-stage1
ip link set lo up

# Order computed at build time from each module's depends= field.
for m in $(cat /etc/modules.order); do
	insmod "/lib/modules/$m.ko" || echo "stage1: insmod $m failed"
done

# ssh.authorized_key=<base64 of one authorized_keys line>: base64 because the line has
# spaces, and the kernel command line is split on them.
mkdir -p /root/.ssh
chmod 700 /root /root/.ssh
for arg in $(cat /proc/cmdline); do
	case $arg in
	ssh.authorized_key=*) echo "${arg#*=}" | base64 -d >>/root/.ssh/authorized_keys && echo >>/root/.ssh/authorized_keys ;;
	esac
done
[ -f /root/.ssh/authorized_keys ] && chmod 600 /root/.ssh/authorized_keys

# The virtio driver binds a moment after insmod returns; a listener started before that
# would fail its bind. Wait up to ~5 s, then start anyway (the loop below retries).
bound() {
	for d in /sys/bus/virtio/drivers/vmw_vsock_virtio_transport/virtio*; do [ -e "$d" ] && return 0; done
	return 1
}
i=0
while ! bound; do
	i=$((i + 1)); [ $i -gt 50 ] && break
	sleep 0.1
done
echo "stage1: vsock driver bound after $i polls"

# socat (copied from the host, 1.7.4 speaks VSOCK) accepts on vsock port 22 and, with
# `nofork`, execs sshd in the accepting child so sshd's stdin/stdout ARE the vsock
# socket: no relay process in the data path.
(
	while :; do
		socat VSOCK-LISTEN:22,reuseaddr,fork EXEC:"/usr/sbin/sshd -i -e",nofork
		echo "stage1: vsock listener exited ($?), restarting"
		sleep 0.5
	done
) &
echo "stage1: ready"

# PID 1 must never exit (the kernel would panic) and should reap orphans.
while :; do
	wait
	sleep 1
done

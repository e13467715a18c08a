#!/bin/sh
# Run a command in a throw-away root that looks like this machine minus Docker's marks, so that the VM and
# container branches of the generators can be compared for real. Must run inside `unshare -m` (a private mount
# namespace: every mount below disappears with the process). Writes only under $1 (a temp dir).
#   sandbox.sh ROOT MODE CMD...
#   MODE: vm         no container marks: systemd sees the VM this machine is (kvm)
#         nspawn     /run/systemd/container says systemd-nspawn, /run/host/unix-export/ writable
#         nspawn-ro  the same with /run/host/unix-export/ read-only
#         nspawn-none  the same without /run/host/unix-export/
set -eu
R=$1; MODE=$2; shift 2
mkdir -p "$R/usr" "$R/etc" "$R/proc" "$R/sys" "$R/dev" "$R/run" "$R/tmp" "$R/work"
for l in bin lib lib64 sbin; do [ -L "$R/$l" ] || ln -s "usr/$l" "$R/$l"; done
for d in usr etc work; do
  mount --rbind "/$d" "$R/$d"
  mount -o remount,ro,bind "$R/$d" 2>/dev/null || true
done
for d in proc sys dev; do mount --rbind "/$d" "$R/$d"; done
mount --bind /tmp "$R/tmp"
mount -t tmpfs -o mode=0755 sandbox-run "$R/run"
case "$MODE" in
  vm) ;;
  nspawn*)
    mkdir -p "$R/run/systemd" "$R/run/host"
    printf 'systemd-nspawn\n' > "$R/run/systemd/container"
    case "$MODE" in
      nspawn) mkdir -p "$R/run/host/unix-export" ;;
      nspawn-ro) mkdir -p "$R/run/host/unix-export"; mount -t tmpfs -o ro sandbox-export "$R/run/host/unix-export" ;;
    esac ;;
  *) echo "sandbox.sh: unknown mode $MODE" >&2; exit 2 ;;
esac
exec chroot "$R" "$@"

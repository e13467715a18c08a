#!/bin/sh
# Run a command in a throw-away root that looks like this machine minus Docker's marks, so that the VM and
# container branches of the generators can be compared for real. Must run inside `unshare -m` (a private mount
# namespace: every mount below disappears with the process). Writes only under $1 (a temp dir).
#   sandbox.sh ROOT MODE CMD...
#   MODE: vm         no container marks: systemd sees what this machine is under its container (VM or metal)
#         nspawn     /run/systemd/container says systemd-nspawn, /run/host/unix-export/ writable
#         nspawn-ro  the same with /run/host/unix-export/ read-only
#         nspawn-none  the same without /run/host/unix-export/
set -eu
R=$1; MODE=$2; shift 2
# Every top-level directory of this machine, wherever the checkout, the reference and $TMPDIR live (CI clones
# outside /work), but /run (replaced below) and Docker's /.dockerenv (a file: only directories and links are
# taken). /usr and /etc are read-only: nothing run here may write the system.
mkdir -p "$R/run"
for e in /* /.[!.]*; do
  n=${e#/}
  case "$n" in run|'*'|'.[!.]*') continue ;; esac
  if [ -L "$e" ]; then [ -L "$R/$n" ] || ln -s "$(readlink "$e")" "$R/$n"; continue; fi
  [ -d "$e" ] || continue
  mkdir -p "$R/$n"
  mount --rbind "$e" "$R/$n"
  case "$n" in usr|etc) mount -o remount,ro,bind "$R/$n" 2>/dev/null || true ;; esac
done
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

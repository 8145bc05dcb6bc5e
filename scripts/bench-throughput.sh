#!/usr/bin/env bash
# bench-throughput.sh: sandboxes per second, N runs of /bin/true in a busybox
# root, P at a time: nook with limits on (memory, pids, CPU time), bubblewrap
# (which sets no limits) and runc (an OCI bundle with the same limits).
#
#   scripts/bench-throughput.sh [-n N] [-p P] NOOK_BINARY
#
# Needs root, busybox-static, bubblewrap and runc (Debian packages).
set -euo pipefail
n=1000 p=2
while getopts n:p: opt; do
  case $opt in
    n) n=$OPTARG ;;
    p) p=$OPTARG ;;
    *) echo "usage: $0 [-n N] [-p P] NOOK_BINARY" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
nook=$(readlink -f "${1:?usage: $0 [-n N] [-p P] NOOK_BINARY}")
w=$(mktemp -d /tmp/nook-tput.XXXXXX)
trap 'rm -rf "$w"' EXIT
b=$w/bundle
mkdir -p "$b/rootfs"/{bin,proc,dev,sys,tmp,etc}
cp /bin/busybox "$b/rootfs/bin/"
ln -s busybox "$b/rootfs/bin/true"
(cd "$b" && runc spec)
python3 - "$b/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
c["linux"]["resources"] = {"memory": {"limit": 268435456}, "pids": {"limit": 64},
                           "cpu": {"quota": 100000, "period": 100000}}
json.dump(c, open(p, "w"))
PY

rate() { # name, command with {} for a unique number
  local name=$1 cmd=$2 t0 t1
  t0=$(date +%s.%N)
  seq "$n" | xargs -P "$p" -I{} sh -c "$cmd >/dev/null 2>&1 || echo fail" | (grep -c fail || true) >"$w/fails"
  t1=$(date +%s.%N)
  python3 -c "import sys; n=$n; t=$t1-$t0; print(f'{sys.argv[1]:12} {n/t:8.1f} sandboxes/s  ({t:.1f} s for {n}, {sys.argv[2]} failed)')" "$name" "$(cat "$w/fails")"
}
rate nook "$nook run --rootfs $b/rootfs --memory 256m --pids 64 --cpu-time-limit 10s -- /bin/true"
rate bwrap "bwrap --unshare-pid --unshare-net --unshare-ipc --unshare-uts --unshare-cgroup --bind $b/rootfs / --proc /proc --dev /dev /bin/true"
rate runc "runc --root $w/runc run --bundle $b tput-{}"

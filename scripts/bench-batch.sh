#!/usr/bin/env bash
# bench-batch.sh: sandboxes per second for a judge that stays up: N runs
# of /bin/true in a busybox root, P at a time, through one `nook batch`
# process with limits on (memory, pids, CPU time), beside `nook run` per
# sandbox with the same limits and bubblewrap per sandbox (no limits), as
# scripts/bench-throughput.sh runs them.
#
#   scripts/bench-batch.sh [-n N] [-p P] NOOK_BINARY
#
# Needs root, busybox-static and bubblewrap (Debian packages).
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
w=$(mktemp -d /tmp/nook-batch.XXXXXX)
trap 'rm -rf "$w"' EXIT
r=$w/rootfs
mkdir -p "$r"/{bin,proc,dev,sys,tmp,etc}
cp /bin/busybox "$r/bin/"
ln -s busybox "$r/bin/true"

python3 - "$r" "$n" >"$w/requests" <<'PY'
import json, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    print(json.dumps({"id": str(i), "args": ["/bin/true"], "rootfs": root,
                      "limits": {"memory_bytes": 268435456, "pids": 64, "cpu_time_ms": 10000}}))
PY

report() { # name, t0, t1, failures
  python3 -c "import sys; n=$n; t=$3-$2; print(f'{sys.argv[1]:16} {n/t:8.1f} sandboxes/s  ({t:.1f} s for {n}, {sys.argv[2]} failed)')" "$1" "$4"
}
rate() { # name, command with {} for a unique number
  local t0 t1
  t0=$(date +%s.%N)
  seq "$n" | xargs -P "$p" -I{} sh -c "$2 >/dev/null 2>&1 || echo fail" | (grep -c fail || true) >"$w/fails"
  t1=$(date +%s.%N)
  report "$1" "$t0" "$t1" "$(cat "$w/fails")"
}

t0=$(date +%s.%N)
"$nook" batch --parallel "$p" <"$w/requests" >"$w/verdicts"
t1=$(date +%s.%N)
fails=$(grep -vc '"status":"OK"' "$w/verdicts" || true)
[ "$(wc -l <"$w/verdicts")" -eq "$n" ] || fails="$fails (and $((n - $(wc -l <"$w/verdicts")))) verdicts missing)"
report "nook batch" "$t0" "$t1" "$fails"
rate "nook run" "$nook run --rootfs $r --memory 256m --pids 64 --cpu-time-limit 10s -- /bin/true"
rate bwrap "bwrap --unshare-pid --unshare-net --unshare-ipc --unshare-uts --unshare-cgroup --bind $r / --proc /proc --dev /dev /bin/true"

#!/usr/bin/env bash
# bench-batch.sh: sandboxes per second for a judge that stays up: N runs
# of /bin/true in a busybox root, P at a time, through one `nook batch`
# process with limits on (memory, pids, CPU time), beside `nook run` per
# sandbox with the same limits and bubblewrap per sandbox (no limits), as
# scripts/bench-throughput.sh runs them. The three take turns, R rounds of
# N runs each, so that a shared machine's changing load falls on all
# three alike; each line is the rate over all rounds.
#
#   scripts/bench-batch.sh [-n N] [-p P] [-r R] NOOK_BINARY
#
# Needs root, busybox-static and bubblewrap (Debian packages).
set -euo pipefail
n=500 p=2 rounds=3
while getopts n:p:r: opt; do
  case $opt in
    n) n=$OPTARG ;;
    p) p=$OPTARG ;;
    r) rounds=$OPTARG ;;
    *) echo "usage: $0 [-n N] [-p P] [-r R] NOOK_BINARY" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
nook=$(readlink -f "${1:?usage: $0 [-n N] [-p P] [-r R] NOOK_BINARY}")
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

# each adds its seconds and failures to $w/NAME.time and $w/NAME.fails
timed() { # name, then the command
  local name=$1 t0 t1 f
  shift
  t0=$(date +%s.%N)
  f=$("$@")
  t1=$(date +%s.%N)
  echo "$t1 - $t0" >>"$w/$name.time"
  echo "${f:-0}" >>"$w/$name.fails"
}
xa() { # a command line with {} for a unique number, n times, p at a time
  seq "$n" | xargs -P "$p" -I{} sh -c "$1 >/dev/null 2>&1 || echo fail" | (grep -c fail || true)
}
batch() {
  "$nook" batch --parallel "$p" <"$w/requests" >"$w/verdicts"
  local ok
  ok=$(grep -c '"status":"OK"' "$w/verdicts" || true)
  echo $((n - ok))
}
for _ in $(seq "$rounds"); do
  timed nook-batch batch
  timed nook-run xa "$nook run --rootfs $r --memory 256m --pids 64 --cpu-time-limit 10s -- /bin/true"
  timed bwrap xa "bwrap --unshare-pid --unshare-net --unshare-ipc --unshare-uts --unshare-cgroup --bind $r / --proc /proc --dev /dev /bin/true"
done
python3 - "$w" "$n" "$rounds" "$p" <<'PY'
import sys
w, n, rounds, p = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rate = {}
for name in ["nook-batch", "nook-run", "bwrap"]:
    t = sum(eval(l) for l in open(f"{w}/{name}.time"))
    fails = sum(int(l) for l in open(f"{w}/{name}.fails"))
    rate[name] = n * rounds / t
    print(f"{name:12} {rate[name]:8.1f} sandboxes/s  ({t:.1f} s for {n * rounds}, {fails} failed)")
print(f"nook batch / bwrap: {rate['nook-batch'] / rate['bwrap']:.2f}x; nook run / bwrap: {rate['nook-run'] / rate['bwrap']:.2f}x ({p} at a time)")
PY

#!/usr/bin/env bash
# bench-exec-ab.sh: `nook exec NAME /bin/true` of two nook binaries side by
# side, with `nsenter -t PID -a /bin/true` into the same sandbox as the
# yardstick: N rounds, each running the three in a rotating order (so that
# a shared machine's load falls on all alike), GAP seconds apart. Prints
# each one's median, quartiles, 95th percentile and mean in ms, the
# medians of its CPU time (of the command and everything it reaped) and
# minor page faults, and the ratios B/A and each nook's to nsenter's.
#
#   scripts/bench-exec-ab.sh [-n N] [-g GAP] NOOK_A NOOK_B
#
# Needs root and busybox-static. The sandbox is started by NOOK_A.
set -euo pipefail
n=60 gap=0.02
while getopts n:g: opt; do
  case $opt in
    n) n=$OPTARG ;;
    g) gap=$OPTARG ;;
    *) echo "usage: $0 [-n N] [-g GAP] NOOK_A NOOK_B" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
a=$(readlink -f "${1:?usage: $0 [-n N] [-g GAP] NOOK_A NOOK_B}")
b=$(readlink -f "${2:?usage: $0 [-n N] [-g GAP] NOOK_A NOOK_B}")
w=$(mktemp -d /tmp/nook-exec-ab.XXXXXX)
id=execab$$
trap '"$a" --root "$w/state" rm -f "$id" >/dev/null 2>&1 || true; rm -rf "$w"' EXIT
mkdir -p "$w/rootfs"/{bin,proc,dev,sys,tmp,etc}
cp /bin/busybox "$w/rootfs/bin/"
for c in true sleep; do ln -s busybox "$w/rootfs/bin/$c"; done
"$a" --root "$w/state" run -d --name "$id" --rootfs "$w/rootfs" -- sleep 3600 >/dev/null
pid=$("$a" --root "$w/state" inspect "$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["init"]["pid"])')
python3 - "$n" "$gap" "$w/state" "$id" "$pid" "$a" "$b" <<'PY'
import os, statistics, subprocess, sys, time
n, gap, root, id, pid, a, b = int(sys.argv[1]), float(sys.argv[2]), *sys.argv[3:]
cmds = {
    "A": [a, "--root", root, "exec", id, "/bin/true"],
    "B": [b, "--root", root, "exec", id, "/bin/true"],
    "nsenter": ["nsenter", "-t", pid, "-a", "/bin/true"],
}
names = list(cmds)
times, cpu, faults = ({k: [] for k in names} for _ in range(3))
for i in range(n):
    for k in names[i % 3:] + names[:i % 3]:
        t = time.perf_counter()
        p = subprocess.Popen(cmds[k])
        _, status, ru = os.wait4(p.pid, 0)
        times[k].append((time.perf_counter() - t) * 1000)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"{k} failed: {os.waitstatus_to_exitcode(status)}")
        cpu[k].append((ru.ru_utime + ru.ru_stime) * 1000)
        faults[k].append(ru.ru_minflt)
        time.sleep(gap)
med = {k: statistics.median(times[k]) for k in names}
for k in names:
    q = statistics.quantiles(times[k], n=20)
    print(f"{k:8} {cmds[k][0]}: median {q[9]:.2f} ms (quartiles {q[4]:.2f}-{q[14]:.2f}, p95 {q[18]:.2f}, mean {statistics.mean(times[k]):.2f}), {n} runs; "
          f"CPU median {statistics.median(cpu[k]):.2f} ms, page faults median {statistics.median(faults[k]):.0f}")
print(f"B/A {med['B'] / med['A']:.2f} (CPU {statistics.median(cpu['B']) / statistics.median(cpu['A']):.2f}); "
      f"A/nsenter {med['A'] / med['nsenter']:.2f}, B/nsenter {med['B'] / med['nsenter']:.2f}")
PY

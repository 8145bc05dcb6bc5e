#!/usr/bin/env bash
# bench-start-ab.sh: start-up of two nook binaries side by side: N runs of
# `nook run --rootfs R [FLAGS] -- /bin/true` each, in turns (A, B, B, A...)
# so that a shared machine's load falls on both alike, GAP seconds apart
# (a judge that starts a sandbox now and then, not back to back: some of
# the kernel's costs, such as an RCU grace period, show only then).
# Prints each one's median and quartiles, in ms, and the medians of its CPU
# time (user and system, of nook and everything it reaped) and of its
# minor page faults: CPU is less at the mercy of a shared machine's load.
#
#   scripts/bench-start-ab.sh [-n N] [-g GAP] NOOK_A NOOK_B [FLAGS...]
#
# Needs root and busybox-static.
set -euo pipefail
n=60 gap=0.05
while getopts n:g: opt; do
  case $opt in
    n) n=$OPTARG ;;
    g) gap=$OPTARG ;;
    *) echo "usage: $0 [-n N] [-g GAP] NOOK_A NOOK_B [FLAGS...]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
a=$(readlink -f "${1:?usage: $0 [-n N] [-g GAP] NOOK_A NOOK_B [FLAGS...]}")
b=$(readlink -f "${2:?usage: $0 [-n N] [-g GAP] NOOK_A NOOK_B [FLAGS...]}")
shift 2
w=$(mktemp -d /tmp/nook-ab.XXXXXX)
trap 'rm -rf "$w"' EXIT
mkdir -p "$w/rootfs"/{bin,proc,dev,sys,tmp,etc}
cp /bin/busybox "$w/rootfs/bin/"
ln -s busybox "$w/rootfs/bin/true"
python3 - "$n" "$gap" "$w/rootfs" "$a" "$b" "$@" <<'PY'
import os, statistics, subprocess, sys, time
n, gap, root, a, b, flags = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6:]
times, cpu, faults = {a: [], b: []}, {a: [], b: []}, {a: [], b: []}
for i in range(n):
    # each goes first in every other round, so that neither always runs on
    # a machine the other has just woken (the same binary under two names,
    # A always first: B/A 0.85 and 0.87 in two runs of 100)
    for nook in ((a, b) if i % 2 == 0 else (b, a)):
        t = time.perf_counter()
        p = subprocess.Popen([nook, "run", "--rootfs", root, *flags, "--", "/bin/true"])
        # the rusage of nook and all it reaped: the sandbox and the janitor
        _, status, ru = os.wait4(p.pid, 0)
        times[nook].append((time.perf_counter() - t) * 1000)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"{nook} failed: {os.waitstatus_to_exitcode(status)}")
        cpu[nook].append((ru.ru_utime + ru.ru_stime) * 1000)
        faults[nook].append(ru.ru_minflt)
        time.sleep(gap)
for name, nook in (("A", a), ("B", b)):
    q = statistics.quantiles(times[nook], n=4)
    print(f"{name} {nook}: median {q[1]:.2f} ms (quartiles {q[0]:.2f}-{q[2]:.2f}), {n} runs; "
          f"CPU median {statistics.median(cpu[nook]):.2f} ms, page faults median {statistics.median(faults[nook]):.0f}")
print(f"B/A: {statistics.median(times[b]) / statistics.median(times[a]):.2f}, "
      f"CPU {statistics.median(cpu[b]) / statistics.median(cpu[a]):.2f}")
PY

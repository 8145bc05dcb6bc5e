#!/usr/bin/env bash
# bench-cmd-ab.sh: any nook command line run by two nook binaries side by
# side: N rounds of `NOOK ARGS...` for each, in turns (A, B, B, A...) so
# that a shared machine's load falls on both alike, GAP seconds apart.
# Prints each one's median wall time, the mean and median of its CPU time
# (user and system, of nook and everything it reaped), and the medians of
# its minor page faults and context switches (voluntary and not), which
# the machine's load moves least; then B's ratios to A's. Where
# bench-start-ab.sh times `nook run --rootfs` only, this times whatever
# ARGS say: `--version`, `run --bundle B ID`, `--root S exec NAME CMD`.
#
#   scripts/bench-cmd-ab.sh [-n N] [-g GAP] NOOK_A NOOK_B -- ARGS...
#
# ARGS are given as they are; a sandbox they name must exist, a rootfs or
# bundle they name is the caller's.
set -euo pipefail
n=100 gap=0.02
usage="usage: $0 [-n N] [-g GAP] NOOK_A NOOK_B -- ARGS..."
while getopts n:g: opt; do
  case $opt in
    n) n=$OPTARG ;;
    g) gap=$OPTARG ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
(($# >= 3)) && [[ $3 == -- ]] || { echo "$usage" >&2; exit 2; }
a=$(readlink -f "$1") b=$(readlink -f "$2")
shift 3
python3 - "$n" "$gap" "$a" "$b" "$@" <<'PY'
import os, statistics, subprocess, sys, time
n, gap, a, b, args = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:]
res = {a: ([], [], [], []), b: ([], [], [], [])}
for i in range(n):
    for nook in ((a, b) if i % 2 == 0 else (b, a)):
        t = time.perf_counter()
        p = subprocess.Popen([nook, *args], stdout=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        wall, cpu, faults, csw = res[nook]
        wall.append((time.perf_counter() - t) * 1000)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"{nook} failed: {os.waitstatus_to_exitcode(status)}")
        cpu.append((ru.ru_utime + ru.ru_stime) * 1000)
        faults.append(ru.ru_minflt)
        csw.append(ru.ru_nvcsw + ru.ru_nivcsw)
        time.sleep(gap)
med = statistics.median
for name, nook in (("A", a), ("B", b)):
    wall, cpu, faults, csw = res[nook]
    print(f"{name} {nook}: wall median {med(wall):.2f} ms; CPU mean {statistics.mean(cpu):.2f}, "
          f"median {med(cpu):.2f} ms; page faults {med(faults):.0f}; context switches {med(csw):.0f} ({n} runs)")
(wa, ca, fa, sa), (wb, cb, fb, sb) = res[a], res[b]
print(f"B/A: wall {med(wb) / med(wa):.3f}, CPU mean {statistics.mean(cb) / statistics.mean(ca):.3f}, "
      f"CPU median {med(cb) / med(ca):.3f}, page faults {med(fb) - med(fa):+.0f}, context switches {med(sb) - med(sa):+.0f}")
PY

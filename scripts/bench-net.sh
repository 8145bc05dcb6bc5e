#!/usr/bin/env bash
# bench-net.sh: what nook's networking costs, as medians of R runs (R=30):
#   1. two fresh namespaces joined by a veth pair with addresses, links up:
#      iproute2 (ip netns add x2, link add, set netns x2, addr add x2,
#      link set up x4) against one `nook net connect --create`;
#   2. `nook run --net bridge -- /bin/true` against `--net none`, run in
#      turns so that the host's load falls on both alike;
#   3. N `nook run -- /bin/true` at once (N = 1, 2, 8; --net none, then
#      --net bridge): wall time per batch and per sandbox.
#
#   scripts/bench-net.sh [-r R] NOOK_BINARY
#
# Needs root and iproute2. Uses a bridge of its own (removed at the end)
# and namespaces named nkbench-*.
set -euo pipefail
r=30
while getopts r: opt; do
  case $opt in
    r) r=$OPTARG ;;
    *) echo "usage: $0 [-r R] NOOK_BINARY" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
nook=$(readlink -f "${1:?usage: $0 [-r R] NOOK_BINARY}")
br=nkbench$$
trap '"$nook" net reset $br >/dev/null 2>&1 || true; ip netns del nkbench-a 2>/dev/null || true; ip netns del nkbench-b 2>/dev/null || true' EXIT
"$nook" net bridge $br >/dev/null

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f", m/1e6}'; }

iproute() {
  ip netns add nkbench-a; ip netns add nkbench-b
  ip link add nkb-veth0 type veth peer name nkb-veth1
  ip link set nkb-veth0 netns nkbench-a; ip link set nkb-veth1 netns nkbench-b
  ip -n nkbench-a addr add 10.249.0.1/30 dev nkb-veth0
  ip -n nkbench-b addr add 10.249.0.2/30 dev nkb-veth1
  ip -n nkbench-a link set nkb-veth0 up; ip -n nkbench-b link set nkb-veth1 up
  ip -n nkbench-a link set lo up; ip -n nkbench-b link set lo up
}
nookconnect() {
  "$nook" net connect nkbench-a nkbench-b --create --addr 10.249.0.1/30,10.249.0.2/30
}
cleanup() { ip netns del nkbench-a; ip netns del nkbench-b; }

: >/tmp/nkbench.ip; : >/tmp/nkbench.nook
for _ in $(seq "$r"); do
  t=$(now); iproute; echo $(($(now) - t)) >>/tmp/nkbench.ip; cleanup
  t=$(now); nookconnect; echo $(($(now) - t)) >>/tmp/nkbench.nook; cleanup
done
ipm=$(median </tmp/nkbench.ip); nkm=$(median </tmp/nkbench.nook)
echo "connect two new namespaces: iproute2 ${ipm} ms, nook ${nkm} ms ($(awk -v a="$ipm" -v b="$nkm" 'BEGIN {printf "%.1f", a/b}')x)"

: >/tmp/nkbench.none; : >/tmp/nkbench.bridge
for _ in $(seq "$r"); do
  t=$(now); "$nook" run -- /bin/true; echo $(($(now) - t)) >>/tmp/nkbench.none
  t=$(now); "$nook" run --net bridge:$br -- /bin/true; echo $(($(now) - t)) >>/tmp/nkbench.bridge
done
nm=$(median </tmp/nkbench.none); bm=$(median </tmp/nkbench.bridge)
echo "nook run -- /bin/true: --net none ${nm} ms, --net bridge ${bm} ms (+$(awk -v a="$bm" -v b="$nm" 'BEGIN {printf "%.2f", a-b}') ms)"

for net in none bridge:$br; do
  for n in 1 2 8; do
    : >/tmp/nkbench.par
    for _ in $(seq $((r / 3 + 1))); do
      t=$(now)
      for _ in $(seq $n); do "$nook" run --net "$net" -- /bin/true & done
      wait
      echo $(($(now) - t)) >>/tmp/nkbench.par
    done
    pm=$(median </tmp/nkbench.par)
    echo "$n at once, --net ${net%%:*}: ${pm} ms a batch, $(awk -v a="$pm" -v n="$n" 'BEGIN {printf "%.2f", a/n}') ms a sandbox"
  done
done
rm -f /tmp/nkbench.*

#!/usr/bin/env bash
# bench-oci.sh: nook as an OCI runtime beside runc and crun, on the same
# bundle (runc spec's, running /bin/true in a busybox root):
#   1. create, start and delete as three separate commands, each timed
#      alone (hyperfine medians; what is needed before each run is done in
#      --prepare, outside the time): the three calls containerd's shim
#      makes for every container;
#   2. `ctr run --rm` end to end through a private containerd, with runc
#      and with nook as the runc binary;
#   3. the peak RSS (/usr/bin/time's maximum resident set) of each of
#      create, start and delete: the runtime's own process, not the
#      container's.
# Start-up as a whole (`nook run --bundle` beside `runc run`, `crun run`)
# is ../shared/bench/compare.sh's nook-oci line.
#
#   scripts/bench-oci.sh [-n RUNS] NOOK_BINARY
#
# Needs root. Installs what it lacks from Debian's packages (runc crun
# hyperfine busybox-static umoci containerd time). crun refuses a hybrid
# cgroup machine, so there it runs inside `unshare -m` with the empty
# unified hierarchy unmounted, and the line "crun-wrapper" times that
# wrapper alone (subtract it to compare).
set -euo pipefail
runs=30
while getopts n: opt; do
  case $opt in
    n) runs=$OPTARG ;;
    *) echo "usage: $0 [-n RUNS] NOOK_BINARY" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
nook=$(readlink -f "${1:?usage: $0 [-n RUNS] NOOK_BINARY}")

need=()
for pair in runc:runc crun:crun hyperfine:hyperfine umoci:umoci containerd:containerd ctr:containerd /usr/bin/time:time; do
  command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
done
[[ -x /bin/busybox ]] || need+=(busybox-static)
if ((${#need[@]})); then
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# short: containerd's socket path must fit in sun_path
w=$(mktemp -d /tmp/nkob.XXXXXX)
id=ocibench$$
ctrd=""
cleanup() {
  for rt in nook runc crun; do
    [[ -x $w/$rt ]] && "$w/$rt" delete -f "$id" >/dev/null 2>&1 || true
  done
  if [[ -n $ctrd ]]; then
    kill "$ctrd" 2>/dev/null || true
    wait "$ctrd" 2>/dev/null || true
  fi
  for d in /sys/fs/cgroup/*/nookbench /sys/fs/cgroup/unified/nookbench; do
    [[ -d $d ]] && rmdir "$d" 2>/dev/null || true
  done
  rm -rf "$w"
}
trap cleanup EXIT

b=$w/bundle
mkdir -p "$b/rootfs"/{bin,proc,dev,sys,tmp,etc}
cp /bin/busybox "$b/rootfs/bin/"
for a in sh true; do ln -s busybox "$b/rootfs/bin/$a"; done
(cd "$b" && runc spec)
sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"\/bin\/true"/' "$b/config.json"
grep -q '"/bin/true"' "$b/config.json" || { echo "bench-oci.sh: could not set args in config.json" >&2; exit 1; }

# one executable per runtime, taking the runtime's own arguments, each
# with a state directory of its own
printf '#!/bin/sh\nexec %s --root %s "$@"\n' "$nook" "$w/state-nook" >"$w/nook"
printf '#!/bin/sh\nexec runc --root %s "$@"\n' "$w/state-runc" >"$w/runc"
if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
  printf '#!/bin/sh\nexec crun --root %s "$@"\n' "$w/state-crun" >"$w/crun"
  printf '#!/bin/sh\nexec "$@"\n' >"$w/crun-wrapper"
else
  printf '#!/bin/sh\nexec unshare -m sh -c '\''umount /sys/fs/cgroup/unified 2>/dev/null; exec crun --root %s "$@"'\'' crun "$@"\n' "$w/state-crun" >"$w/crun"
  printf '#!/bin/sh\nexec unshare -m sh -c '\''umount /sys/fs/cgroup/unified 2>/dev/null; exec "$@"'\'' sh "$@"\n' >"$w/crun-wrapper"
fi
chmod +x "$w/nook" "$w/runc" "$w/crun" "$w/crun-wrapper"
# and what each measurement needs done first, outside the time
for rt in nook runc crun; do
  r=$w/$rt
  printf '#!/bin/sh\n%s delete -f %s >/dev/null 2>&1\nexit 0\n' "$r" "$id" >"$w/$rt-fresh"
  printf '#!/bin/sh\n%s delete -f %s >/dev/null 2>&1\nexec %s create --bundle %s %s >/dev/null 2>&1 </dev/null\n' "$r" "$id" "$r" "$b" "$id" >"$w/$rt-created"
  printf '#!/bin/sh\n%s && %s start %s || exit 1\nfor i in $(seq 500); do %s state %s | grep -q "\\"stopped\\"" && exit 0; sleep 0.01; done\nexit 1\n' \
    "$w/$rt-created" "$r" "$id" "$r" "$id" >"$w/$rt-stopped"
  chmod +x "$w/$rt-fresh" "$w/$rt-created" "$w/$rt-stopped"
done
# a runtime that cannot run the bundle here is left out, with a word
rts=()
for rt in nook runc crun; do
  if "$w/$rt-stopped" && "$w/$rt" delete "$id" >/dev/null 2>&1; then
    rts+=("$rt")
  else
    echo "bench-oci.sh: $rt left out: it cannot create, start and delete the bundle here" >&2
    "$w/$rt-fresh"
  fi
done

# the timed commands call nook and runc straight, not through the scripts
declare -A timed=([nook]="$nook --root $w/state-nook" [runc]="runc --root $w/state-runc" [crun]="$w/crun")

hf() {
  local json=$w/$1.json
  shift
  hyperfine -N -w 3 -r "$runs" --export-json "$json" "$@" >/dev/null 2>&1
  python3 - "$json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f'{r["command"]:16} {r["median"]*1e3:8.2f} ms')
PY
}

echo "== create, start and delete, each alone (median of $runs)"
for step in create start delete; do
  args=()
  for rt in "${rts[@]}"; do
    case $step in
      create) args+=(-n "$rt-create" --prepare "$w/$rt-fresh" "${timed[$rt]} create --bundle $b $id") ;;
      start) args+=(-n "$rt-start" --prepare "$w/$rt-created" "${timed[$rt]} start $id") ;;
      delete) args+=(-n "$rt-delete" --prepare "$w/$rt-stopped" "${timed[$rt]} delete $id") ;;
    esac
  done
  hf "$step" "${args[@]}"
  for rt in "${rts[@]}"; do "$w/$rt-fresh"; done
done
[[ " ${rts[*]} " == *" crun "* ]] && hf wrapper -n "crun-wrapper" "$w/crun-wrapper /bin/true"

echo "== peak RSS of each command (KiB, median of 10)"
rss() { # rt step: the median of 10 maximum resident sets
  local rt=$1 step=$2 i out=()
  for i in $(seq 10); do
    case $step in
      create) "$w/$rt-fresh"; set -- create --bundle "$b" "$id" ;;
      start) "$w/$rt-created"; set -- start "$id" ;;
      delete) "$w/$rt-stopped"; set -- delete "$id" ;;
    esac
    # to a file: create's init keeps create's stdio, so a pipe would
    # stay open until the container ends
    # shellcheck disable=SC2086 # the timed command line is words
    /usr/bin/time -o "$w/rss" -f %M ${timed[$rt]} "$@" >/dev/null 2>&1 </dev/null
    out+=("$(tail -1 "$w/rss")")
  done
  printf '%s\n' "${out[@]}" | sort -n | sed -n 5p
}
printf '%-8s %8s %8s %8s\n' runtime create start delete
for rt in "${rts[@]}"; do
  printf '%-8s %8s %8s %8s\n' "$rt" "$(rss "$rt" create)" "$(rss "$rt" start)" "$(rss "$rt" delete)"
  "$w/$rt-fresh"
done

echo "== ctr run --rm end to end, through a private containerd (median of $runs)"
layout=$w/img
umoci init --layout "$layout" >/dev/null
umoci new --image "$layout:bench" >/dev/null
umoci insert --image "$layout:bench" "$b/rootfs" / >/dev/null
umoci config --image "$layout:bench" --config.cmd /bin/true --os linux --architecture amd64 >/dev/null
tar -C "$layout" -cf "$w/img.tar" .
sock=$w/c.sock
cat >"$w/containerd.toml" <<EOF
version = 2
disabled_plugins = ["io.containerd.grpc.v1.cri"]
root = "$w/ctrd-root"
state = "$w/ctrd-state"
[grpc]
  address = "$sock"
[ttrpc]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$w/ctrd-opt"
EOF
# its own mount namespace: the snapshots it mounts die with it
setsid unshare -m --propagation private containerd --config "$w/containerd.toml" >"$w/containerd.log" 2>&1 &
ctrd=$!
for i in $(seq 200); do ctr -a "$sock" version >/dev/null 2>&1 && break; sleep 0.05; done
ctr -a "$sock" -n nookbench images import --base-name localhost/bench "$w/img.tar" >/dev/null
img=localhost/bench:bench
run_with() { echo "ctr -a $sock -n nookbench run --rm --fifo-dir $w/fifo --runc-root $w/ctr-$1 --runc-binary $2 $img $1-once /bin/true"; }
hf ctr -n "ctr-run-runc" "$(run_with runc "$(command -v runc)")" -n "ctr-run-nook" "$(run_with nook "$nook")"

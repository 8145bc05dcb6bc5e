#!/usr/bin/env bash
# bench-life.sh: the cost of a sandbox that outlives its starter, and of
# entering one: `nook run -d` then `nook rm -f`, beside `runc run -d` then
# `runc delete -f`; `nook exec NAME /bin/true` beside `nsenter -t PID -a
# /bin/true` and `runc exec ID /bin/true`; `nook ns ls` beside `lsns`. All
# in a busybox root, medians of hyperfine runs.
#
#   scripts/bench-life.sh [-r RUNS] NOOK_BINARY
#
# Needs root, busybox-static, runc, util-linux and hyperfine.
set -euo pipefail
runs=50
while getopts r: opt; do
  case $opt in
    r) runs=$OPTARG ;;
    *) echo "usage: $0 [-r RUNS] NOOK_BINARY" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
nook=$(readlink -f "${1:?usage: $0 [-r RUNS] NOOK_BINARY}")
w=$(mktemp -d /tmp/nook-life-bench.XXXXXX)
id=bench$$
cleanup() {
  "$nook" --root "$w/state" rm -f "$id" >/dev/null 2>&1 || true
  runc --root "$w/runc" delete -f "$id" >/dev/null 2>&1 || true
  runc --root "$w/runc" delete -f "$id-d" >/dev/null 2>&1 || true
  rm -rf "$w"
}
trap cleanup EXIT
b=$w/bundle
mkdir -p "$b/rootfs"/{bin,proc,dev,sys,tmp,etc}
cp /bin/busybox "$b/rootfs/bin/"
for a in true sh sleep; do ln -s busybox "$b/rootfs/bin/$a"; done
(cd "$b" && runc spec)
python3 - "$b/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["sleep", "3600"]
c["root"]["readonly"] = True
json.dump(c, open(p, "w"))
PY

"$nook" --root "$w/state" run -d --name "$id" --rootfs "$b/rootfs" -- sleep 3600 >/dev/null
pid=$("$nook" --root "$w/state" inspect "$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["init"]["pid"])')
runc --root "$w/runc" run -d -b "$b" "$id" >/dev/null </dev/null

hf() { hyperfine -N -w 3 -r "$runs" --export-json "$w/$1.json" "${@:2}" >/dev/null; python3 - "$w/$1.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f'{r["median"]*1000:8.2f} ms  {r["command"]}')
PY
}
echo "== entering a running sandbox (/bin/true)"
hf exec "$nook --root $w/state exec $id /bin/true" "nsenter -t $pid -a /bin/true" "runc --root $w/runc exec $id /bin/true"
echo "== a detached sandbox: start, then remove"
hf detach \
  "sh -c '$nook --root $w/state run -d --name $id-d --rootfs $b/rootfs -- sleep 3600 >/dev/null && $nook --root $w/state rm -f $id-d'" \
  "sh -c 'runc --root $w/runc run -d -b $b $id-d >/dev/null </dev/null && runc --root $w/runc delete -f $id-d'"
echo "== listing namespaces"
hf ns "$nook ns ls" "lsns"

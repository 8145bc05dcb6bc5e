#!/usr/bin/env bash
# bench-image.sh: start-up of `nook run --image REF -- /bin/true` against
# `nook run --rootfs DIR -- /bin/true` on the same files: a busybox image
# (one layer: /bin/busybox, its applet links, /etc/passwd), written by
# this script as a docker-save tarball, imported into a store of its own,
# and the same tree as a plain directory.
#
#   scripts/bench-image.sh [-n RUNS] NOOK_BINARY
#
# Needs root, busybox-static and hyperfine (Debian packages).
set -euo pipefail
runs=50
while getopts n: opt; do
  case $opt in
    n) runs=$OPTARG ;;
    *) echo "usage: $0 [-n RUNS] NOOK_BINARY" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
nook=$(readlink -f "${1:?usage: $0 [-n RUNS] NOOK_BINARY}")
w=$(mktemp -d /tmp/nook-bench-image.XXXXXX)
trap 'rm -rf "$w"' EXIT

# the tree
r=$w/rootfs
mkdir -p "$r"/{bin,proc,dev,sys,tmp,etc}
cp /bin/busybox "$r/bin/"
for a in $(/bin/busybox --list); do [[ $a == busybox ]] || ln -sf busybox "$r/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$r/etc/passwd"
echo 'root:x:0:' >"$r/etc/group"

# the same tree as a docker-save tarball: layer.tar, config.json,
# manifest.json
a=$w/archive
mkdir -p "$a"
tar -C "$r" --numeric-owner -cf "$a/layer.tar" .
diff_id=sha256:$(sha256sum "$a/layer.tar" | cut -d' ' -f1)
arch=$(go env GOARCH 2>/dev/null || dpkg --print-architecture)
cat >"$a/config.json" <<EOF
{"architecture":"$arch","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":["$diff_id"]}}
EOF
echo '[{"Config":"config.json","RepoTags":["bench/busybox:latest"],"Layers":["layer.tar"]}]' >"$a/manifest.json"
tar -C "$a" -cf "$w/busybox.tar" manifest.json config.json layer.tar
"$nook" image import -q --store "$w/store" "$w/busybox.tar" >/dev/null

hyperfine -N -w 5 -r "$runs" --export-json "$w/out.json" \
  -n rootfs "$nook run --rootfs $r -- /bin/true" \
  -n image "$nook run --store $w/store --image bench/busybox -- /bin/true" \
  -n image-ro "$nook run --store $w/store --image bench/busybox --read-only -- /bin/true" >/dev/null
python3 - "$w/out.json" <<'PY'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
base = res["rootfs"]["median"]
print(f"{'what':<10} {'median ms':>10} {'vs rootfs':>10}")
for name in ("rootfs", "image", "image-ro"):
    m = res[name]["median"]
    print(f"{name:<10} {m*1000:>10.2f} {(m-base)*1000:>+9.2f}")
PY

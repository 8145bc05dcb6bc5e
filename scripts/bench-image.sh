#!/usr/bin/env bash
# bench-image.sh: start-up of `nook run --image REF -- /bin/true` against
# `nook run --rootfs DIR -- /bin/true` on the same files: a busybox image
# (one layer: /bin/busybox, its applet links, /etc/passwd), written by
# this script as a docker-save tarball, imported into a store of its own,
# and the same tree as a plain directory.
#
#   scripts/bench-image.sh [-n RUNS] NOOK_BINARY
#
# Also times `podman run --rm` and `ctr run --rm` (a containerd of its
# own) of the same image where podman and containerd are there
# (NO_PODMAN=1, NO_CONTAINERD=1: not).
# Needs root and busybox-static.
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

cmds=(-n rootfs "$nook run --rootfs $r -- /bin/true"
  -n image "$nook run --store $w/store --image bench/busybox -- /bin/true"
  -n image-ro "$nook run --store $w/store --image bench/busybox --read-only -- /bin/true")

# podman run --rm of the same image, with a store and config of its own
# (overlay storage, cgroupfs, no events, ulimits this host's hard limits
# allow), no network
if [[ -z ${NO_PODMAN:-} ]] && command -v podman >/dev/null; then
  run=$(mktemp -d /tmp/pm.XXXXXX)
  pm="--root $w/podman --runroot $run --storage-driver overlay"
  # its overlay driver leaves its home bind-mounted on itself
  trap 'podman $pm system reset -f >/dev/null 2>&1 || :; umount -l "$w/podman/overlay" 2>/dev/null || :; rm -rf "$w" "$run"' EXIT
  printf '%s\n' '[engine]' 'cgroup_manager = "cgroupfs"' 'events_logger = "none"' \
    '[containers]' 'default_ulimits = ["nofile=1024:1024", "nproc=32768:32768"]' >"$w/containers.conf"
  export CONTAINERS_CONF=$w/containers.conf
  podman $pm load -q -i "$w/busybox.tar" >/dev/null
  # runc: crun refuses a hybrid cgroup host
  cmds+=(-n podman "podman $pm --runtime runc run --rm --network none bench/busybox /bin/true")
fi

# ctr run --rm of the same image, from a containerd of its own, in a
# mount namespace of its own so that its overlay mounts die with it
if [[ -z ${NO_CONTAINERD:-} ]] && command -v containerd >/dev/null && command -v ctr >/dev/null; then
  c=$w/ctr
  mkdir -p "$c"
  printf '%s\n' 'version = 2' "root = \"$c/root\"" "state = \"$c/state\"" \
    '[grpc]' "address = \"$c/sock\"" '[ttrpc]' 'address = ""' \
    '[plugins."io.containerd.internal.v1.opt"]' "path = \"$c/opt\"" >"$c/config.toml"
  setsid unshare -m --propagation private containerd --config "$c/config.toml" >"$c/log" 2>&1 &
  ctrd=$!
  prev_trap=$(trap -p EXIT | sed "s/^trap -- '//; s/' EXIT\$//")
  trap "kill $ctrd 2>/dev/null; wait $ctrd 2>/dev/null; rmdir /sys/fs/cgroup/*/default /run/containerd/s /run/containerd 2>/dev/null || :; $prev_trap" EXIT
  for _ in $(seq 100); do [[ -S $c/sock ]] && break; sleep 0.1; done
  ctr -a "$c/sock" images import -q "$w/busybox.tar" >/dev/null 2>&1 || ctr -a "$c/sock" images import "$w/busybox.tar" >/dev/null
  cmds+=(-n ctr "sh -c 'exec ctr -a $c/sock run --rm --fifo-dir $c/fifo --runc-root $c/runc docker.io/bench/busybox:latest c\$\$ /bin/true'")
fi

# interleaved: one run of each in turn, so that the machine's load
# changes weigh on all of them alike; medians of the wall-clock time and
# of the CPU time (user and system, of nook and everything it waited
# for), which a loaded machine disturbs less
python3 - "$runs" "${cmds[@]}" <<'PY'
import resource, shlex, statistics, subprocess, sys, time
runs, args = int(sys.argv[1]), sys.argv[2:]
cmds = [(args[i + 1], shlex.split(args[i + 2])) for i in range(0, len(args), 3)]
wall = {n: [] for n, _ in cmds}
cpu = {n: [] for n, _ in cmds}
for r in range(runs + 3):
    for n, c in cmds:
        r0, t = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        subprocess.run(c, check=True, stdout=subprocess.DEVNULL)
        t, r1 = time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN)
        if r >= 3:  # warm-up
            wall[n].append(t)
            cpu[n].append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
bw, bc = statistics.median(wall["rootfs"]), statistics.median(cpu["rootfs"])
print(f"{'what':<10} {'wall ms':>9} {'vs rootfs':>10} {'CPU ms':>8} {'vs rootfs':>10}   ({runs} runs each, interleaved)")
for n, _ in cmds:
    w, c = statistics.median(wall[n]), statistics.median(cpu[n])
    print(f"{n:<10} {w*1000:>9.2f} {(w-bw)*1000:>+10.2f} {c*1000:>8.2f} {(c-bc)*1000:>+10.2f}")
PY

#!/usr/bin/env bash
# bench-pull.sh: `nook image pull` and `nook image import` against skopeo
# copy, podman pull and umoci unpack, for a 100 MB image (4 layers, half
# random, half text) served by an in-process registry on loopback. The
# image and the registry are made by the Go benchmark in tests/imagebench.
#
#   scripts/bench-pull.sh [NOOK_BINARY]
#
# Needs root, Go, and skopeo, podman and umoci (Debian packages) for the
# comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -n ${1:-} ]] && export NOOK_BINARY=$(readlink -f "$1")
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
NOOK_BENCH_PULL=1 "$GO" test -tags osusergo,netgo -count=1 -run TestPullBench ./tests/imagebench/ -v |
  sed -n '/^image: /,/^[^ ]*$/p' | grep -v '^\(PASS\|ok\|---\)'

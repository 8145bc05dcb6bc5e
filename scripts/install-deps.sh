#!/usr/bin/env bash
# Installs what building and testing nook needs on a Debian machine, as root:
# Go (when missing), gcc, binutils and libc's development files (make child, which
# rebuilds the sandbox's libc-free child, and make test's externally linked
# check; building nook itself needs only Go), and
# the tools the tests use.
set -euo pipefail
pkgs=(gcc binutils libc6-dev libseccomp-dev busybox-static iproute2 nftables passt procps util-linux uidmap passwd make git
  umoci skopeo podman # images made by other tools, for the image tests
  zstd # nook decompresses zstd layers with it (image/doc.go says why)
  containerd conmon containernetworking-plugins) # engines that drive nook as their OCI runtime (tests/oci)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! command -v go >/dev/null; then
  if [[ -x /usr/local/go/bin/go ]]; then
    echo "install-deps: Go is at /usr/local/go/bin; add it to PATH" >&2
  else
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >/dev/null
  fi
fi

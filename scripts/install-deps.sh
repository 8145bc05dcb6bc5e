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
# crictl, the Kubernetes side of tests/oci's TestCRI: no Debian package, so
# it is built from the Go module proxy into the user's cache (never into
# the tree), where the test looks for it
crictl_version=v1.37.0
tools="${XDG_CACHE_HOME:-$HOME/.cache}/nook-tools"
go=$(command -v go || echo /usr/local/go/bin/go)
# (crictl --version says "unknown" when built this way: the module's
# version is in the binary's build information)
if ! "$go" version -m "$tools/crictl" 2>/dev/null | grep -q "mod[[:space:]]*sigs.k8s.io/cri-tools[[:space:]]*$crictl_version[[:space:]]"; then
  GOBIN="$tools" "$go" install "sigs.k8s.io/cri-tools/cmd/crictl@$crictl_version"
fi

# nook: build, test, benchmark. Everything runs as root on Linux.
GO      ?= $(shell command -v go || echo /usr/local/go/bin/go)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# static: the sandbox child must not start a dynamic loader, and the binary
# must run on hosts without Go or the same libc
TAGS    := osusergo,netgo
LDFLAGS := -s -w -X github.com/nookrun/nook/internal/cli.Version=$(VERSION) -extldflags -static

.PHONY: nook test test-vm test-deps bench clean

nook:
	CGO_ENABLED=1 $(GO) build -trimpath -tags $(TAGS) -ldflags '$(LDFLAGS)' -o nook ./cmd/nook

# what the tests need from Debian: a static busybox for test root file
# systems, iproute2, a C compiler for cgo, and bubblewrap/runc/crun/hyperfine
# for the benchmark
test-deps:
	./scripts/install-deps.sh

test: nook
	$(GO) vet -tags $(TAGS) ./...
	$(GO) test -tags $(TAGS) -count=1 -timeout 20m ./...

# every test again inside a VM that runs Debian's stock kernel, once per
# cgroup layout (pure v2, pure v1, hybrid): see scripts/vm/run.sh
VM_MODES ?= v1
test-vm:
	./scripts/vm/run.sh -m $(VM_MODES)

# start-up beside the C floor, bubblewrap, runc, crun and unshare(1), then
# throughput with limits on
bench: nook
	../shared/bench/compare.sh ./nook
	./scripts/bench-throughput.sh ./nook

clean:
	rm -f nook

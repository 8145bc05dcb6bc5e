# nook: build, test, benchmark. Everything runs as root on Linux.
GO      ?= $(shell command -v go || echo /usr/local/go/bin/go)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# static: the sandbox child must not start a dynamic loader, and the binary
# must run on hosts without Go or the same libc
TAGS    := osusergo,netgo
LDFLAGS := -s -w -X github.com/nookrun/nook/internal/cli.Version=$(VERSION) -extldflags -static

# make install: where, and the binary to install (BIN=path installs one
# built elsewhere, without building)
PREFIX  ?= /usr/local
DESTDIR ?=
BIN     ?= nook
BINDIR  := $(DESTDIR)$(PREFIX)/bin
DATADIR := $(DESTDIR)$(PREFIX)/share
MANDIR  := $(DATADIR)/man

.PHONY: nook test test-vm test-deps bench clean install

nook:
	CGO_ENABLED=1 $(GO) build -trimpath -tags $(TAGS) -ldflags '$(LDFLAGS)' -o nook ./cmd/nook

# the binary, shell completions for bash, zsh and fish where each shell
# looks for them, and man pages generated from the command definitions
install: $(BIN)
	install -d $(BINDIR) $(DATADIR)/bash-completion/completions $(DATADIR)/zsh/site-functions $(DATADIR)/fish/vendor_completions.d $(MANDIR)/man1
	install -m 0755 $(BIN) $(BINDIR)/nook
	$(BINDIR)/nook completion bash > $(DATADIR)/bash-completion/completions/nook
	$(BINDIR)/nook completion zsh > $(DATADIR)/zsh/site-functions/_nook
	$(BINDIR)/nook completion fish > $(DATADIR)/fish/vendor_completions.d/nook.fish
	$(GO) run ./cmd/nook-mangen -version $(VERSION) $(MANDIR)/man1

# what building and testing need from Debian (scripts/install-deps.sh says
# which): gcc and libc's static archive for the cgo child, libseccomp for
# the seccomp compiler's comparison tests, a static busybox for test root
# file systems, and the tools the tests check nook against (iproute2,
# nftables, util-linux, uidmap...). The benchmark installs its own peers
# (bubblewrap, runc, crun, hyperfine) when it runs.
test-deps:
	./scripts/install-deps.sh

# every test as root against the real kernel; then the same code without
# cgo: everything builds and vets, the packages that start no process pass
# their tests, and the start path says "not supported"
test: nook
	$(GO) vet -tags $(TAGS) ./...
	$(GO) test -tags $(TAGS) -count=1 -timeout 20m ./...
	CGO_ENABLED=0 $(GO) build -tags $(TAGS) ./...
	CGO_ENABLED=0 $(GO) vet -tags $(TAGS) ./...
	CGO_ENABLED=0 $(GO) test -tags $(TAGS) -count=1 -run "^Test" ./verdict ./caps ./seccomp ./namespaces ./spec ./state ./container ./internal/spawn ./sandbox ./netns ./network

# every test again inside a VM that runs Debian's stock kernel, once per
# cgroup layout (pure v2, pure v1, hybrid): see scripts/vm/run.sh
VM_MODES ?= v2,v1,hybrid
test-vm:
	./scripts/vm/run.sh -m $(VM_MODES)

# start-up beside the C floor, bubblewrap, runc, crun and unshare(1), then
# throughput with limits on, then nook as an OCI runtime (create, start,
# delete, ctr run, peak RSS) beside runc and crun
bench: nook
	../shared/bench/compare.sh ./nook
	./scripts/bench-throughput.sh ./nook
	./scripts/bench-oci.sh ./nook

clean:
	rm -f nook

# nook: build, test, benchmark. Everything runs as root on Linux.
GO      ?= $(shell command -v go || echo /usr/local/go/bin/go)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# pure Go, linked by Go's own linker: a static binary that runs on hosts
# without Go or any libc. The sandbox's child is C, but compiled without
# libc beforehand into a committed object (make child), so building nook
# needs no C compiler.
TAGS    := osusergo,netgo
# -E: the ELF entry point is entry_amd64.s's, which may start a plain nook
# exec before Go's runtime (internal/spawn/entry.c) and otherwise hands
# over to Go's own
LDFLAGS := -s -w -E nook_rt0 -X github.com/nookrun/nook/internal/cli.Version=$(VERSION)

# make install: where, and the binary to install (BIN=path installs one
# built elsewhere, without building)
PREFIX  ?= /usr/local
DESTDIR ?=
BIN     ?= nook
BINDIR  := $(DESTDIR)$(PREFIX)/bin
DATADIR := $(DESTDIR)$(PREFIX)/share
MANDIR  := $(DATADIR)/man

.PHONY: nook child test test-vm test-deps bench clean install

# The linker writes its output through a shared mapping, which leaves
# most of the file in the page cache in 4 KiB pages; a copy written with
# write(2), as cp, install and package managers write, is cached in large
# folios, and every start of it maps them with cheaper faults: nook
# --version starts 0.4 ms sooner (/proc/kpageflags: 1,000 of 3,049 pages
# in large folios against 3,048; 200 alternated runs). Hence the copy.
nook:
	CGO_ENABLED=0 $(GO) build -trimpath -tags $(TAGS) -ldflags '$(LDFLAGS)' -o nook.link ./cmd/nook
	cp nook.link nook.copy && mv -f nook.copy nook && rm -f nook.link

# the sandbox's child (internal/spawn/*.c), compiled freestanding into
# internal/spawn/child_linux_amd64.syso: after changing the C, run this
# (gcc and binutils) and commit the object; the tests fail while it is
# older than its sources. Same as go generate ./internal/spawn.
child:
	./internal/spawn/mkchild.sh

# the binary, shell completions for bash, zsh and fish where each shell
# looks for them, and man pages generated from the command definitions
install: $(BIN)
	install -d $(BINDIR) $(DATADIR)/bash-completion/completions $(DATADIR)/zsh/site-functions $(DATADIR)/fish/vendor_completions.d $(MANDIR)/man1
	install -m 0755 $(BIN) $(BINDIR)/nook
	$(BINDIR)/nook completion bash > $(DATADIR)/bash-completion/completions/nook
	$(BINDIR)/nook completion zsh > $(DATADIR)/zsh/site-functions/_nook
	$(BINDIR)/nook completion fish > $(DATADIR)/fish/vendor_completions.d/nook.fish
	$(GO) run ./cmd/nook-mangen -version $(VERSION) $(MANDIR)/man1

# what testing needs from Debian (scripts/install-deps.sh says which): gcc
# and libc's development files for make child and the externally linked
# check in make test, libseccomp for
# the seccomp compiler's comparison tests, a static busybox for test root
# file systems, and the tools the tests check nook against (iproute2,
# nftables, util-linux, uidmap...). The benchmark installs its own peers
# (bubblewrap, runc, crun, hyperfine) when it runs.
test-deps:
	./scripts/install-deps.sh

# every test as root against the real kernel, built as nook is (without
# cgo); then the child linked by the system's linker, as in a program that
# also uses cgo: everything vets, and spawn's tests pass
test: nook
	CGO_ENABLED=0 $(GO) vet -tags $(TAGS) ./...
	CGO_ENABLED=0 $(GO) test -tags $(TAGS) -count=1 -timeout 20m ./...
	CGO_ENABLED=1 $(GO) vet -tags $(TAGS) ./...
	CGO_ENABLED=1 $(GO) test -tags $(TAGS) -count=1 -ldflags=-linkmode=external ./internal/spawn

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

// Package image gets OCI images onto the machine and keeps them in a
// store that sandboxes run from: `nook image pull` fetches them with the
// registry v2 protocol (with the credentials of the docker config file),
// `nook image import` reads OCI layouts, OCI archives and docker-save
// tarballs, and `nook run --image` mounts an image's layers as the lower
// directories of an overlay root.
//
// # Why nook reads images itself
//
// The registry client (registry.go), references (reference.go), the
// manifest, index and config structs (oci.go), credentials (auth.go) and
// the layout and docker-save readers (import.go) are nook's own, though
// github.com/google/go-containerregistry, opencontainers/image-spec and
// go-digest do all of it. The reason is start-up: Go runs the
// initialisers of every package linked into a binary at every start, and
// those libraries (with klauspost/compress, which they pull in) made
// every nook start pay for images it never touched: go-digest compiles
// regexps, snapref fills a CRC table, name and the registry client build
// more. Measured on 2026-12-02 (GODEBUG=inittrace=1 nook --version, 100
// runs, medians): package init 1.60 ms, 238 KB and 1,774 allocations
// with them; 1.13 ms, 88 KB and 541 allocations without; perf stat -r 200:
// 2.5-3.6 ms of CPU and 535-556 page faults before, 1.95-2.16 ms and 466-479
// after; the binary 13.3 MB before, 12.2 MB after. What nook needs of them
// (pull, with Basic and Bearer auth; three archive formats) is about a
// thousand lines, tested against go-containerregistry's own registry,
// umoci, skopeo and podman.
//
// net/http stays: pulling needs HTTP and TLS, and every in-process TLS
// client links crypto/tls, which is most of the cost (net/http,
// crypto/tls and the 34 packages under them: 0.26 ms of init, 22 KB, 3.4
// MB of binary, measured by a build with the registry client stubbed
// out). Taking that off the start path would need the pull in another
// program, which the library's Store.Pull could not then be alone.
//
// zstd layers are decompressed by the zstd program (Debian's zstd
// package), as a filter: the standard library has only gzip, and the
// only Go zstd decoder, klauspost/compress/zstd, brings snapref's init
// back (0.19 ms at every start). zstd layers are rare (gzip is what
// registries and docker-save hold), so a program to run for them costs
// less than a decoder in every start. Without the program, a zstd layer
// is a clear error naming it.
//
// # The store
//
// A directory (/var/lib/nook for root, ~/.local/share/nook for anyone
// else), mode 0700:
//
//	images.json        the images: ID (config digest), names, manifest digest, layers
//	blobs/sha256/HEX   manifests and configs, content-addressed
//	layers/HEX/        each layer unpacked once, named by its diff ID, shared
//	layers/base/       nook's own bottom layer: dev, proc, sys, tmp, etc/{hosts,resolv.conf}
//	locks/HEX          one lock file per layer
//	tmp/               layers being unpacked
//	images.lock, store.lock
//
// Layers are kept unpacked and only unpacked: the compressed blobs are
// checked while they stream in and then dropped. A sandbox needs the
// files, and keeping both would double the disk use for nothing nook
// does (it does not push).
//
// Why the layer directories are named by diff ID (the digest of the
// uncompressed tar) rather than by the digest of the blob as sent: the
// same layer compressed two ways (gzip by one registry, zstd or nothing in
// a docker-save tarball) is the same files, and the config's diff IDs are
// what every image format agrees on.
//
// # Safe for concurrent use
//
// Many nook processes share a store, so the locks are flock(2)s, which
// the kernel drops when a process dies however it dies:
//
//   - A layer is unpacked under its lock, held exclusively, into tmp/,
//     and renamed into layers/ only when it is whole and both its digests
//     are right. Two pulls of one image share the work: the second waits
//     on the lock and then finds the layer there. A pull killed halfway
//     leaves a directory in tmp/ that nothing uses; the next unpack of that
//     layer (or prune) removes it.
//   - images.json is rewritten whole and renamed into place under
//     images.lock; readers never see half of it.
//   - A running sandbox holds its layers' locks shared (Image.Use). rm
//     and prune delete a layer only when its lock can be had exclusively
//     at once, so a layer in use stays until a later prune.
//   - Pulls and imports hold store.lock shared; rm and prune hold it
//     exclusively, so they never delete what a pull is about to record.
//
// What this protects against is a process dying, not the machine: layer
// files are not fsynced (doing so would cost a pull more than the rest
// of it), so after a power loss a layer may be incomplete; images.json
// and the blobs are synced before they are renamed into place.
//
// # Digests
//
// Always checked, whatever the source: the manifest's digest is computed
// from its bytes; the config must match the manifest's config digest; each
// layer's bytes as sent must match the manifest's digest, and the
// uncompressed stream the config's diff ID (docker-save tarballs store
// layers uncompressed: there the diff ID alone is checked). A mismatch is
// an error and nothing of that layer enters layers/.
//
// # A layer is untrusted input
//
// The unpacker (unpack.go) resolves every path beneath the layer's
// directory with openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS) and makes
// every file with the *at calls relative to a directory so resolved:
//
//   - an entry with a ".." component is refused;
//   - an entry whose path goes through a symbolic link is refused: a
//     tar written from a file system never has one, so only a crafted
//     layer does, and following it (even inside the layer) is how
//     unpackers have been made to write outside their root;
//   - symbolic links are stored as they are and never followed by nook;
//     absolute targets resolve inside the sandbox's root, where they are
//     meant to;
//   - a hard link must name a file earlier in the same layer, resolved
//     the same way;
//   - device nodes are skipped with a warning (a sandbox gets its
//     devices from nook); fifos are kept;
//   - set-user-ID and set-group-ID bits are kept: the store is 0700, so
//     only a sandbox, through its overlay, can run such a file;
//   - extended attributes: file capabilities and user.* are kept, but
//     trusted.* and user.overlay.* (which steer overlayfs: redirects,
//     metacopy) are refused;
//   - a layer may have at most Limits.MaxFiles entries and
//     Limits.MaxBytes uncompressed bytes (decompression bombs); the blob as
//     sent may not be longer than its descriptor says.
//
// Whiteouts become overlayfs's own form: ".wh.NAME" a 0/0 character
// device (which the kernel lets anyone make), ".wh..wh..opq" the
// trusted.overlay.opaque=y attribute on its directory (user.overlay.opaque
// for an unprivileged store, which overlayfs reads with userxattr).
//
// # Running an image
//
// Image.LayerDirs gives the lower directories, top first, ending with the
// base layer (mount points for /proc, /dev, /sys and /tmp, so a read-only
// root needs nothing made in it); package sandbox puts them into the
// spec as an overlay mount on "/", and package container mounts it inside
// the sandbox's own mount namespace, with the upper and work directories
// on a tmpfs there. The overlay therefore dies with the sandbox, whatever
// happens to nook, and there is nothing on the host to clean up.
//
// The child gives overlayfs the layers one at a time with the new mount
// API ("lowerdir+", Linux 6.8), so an image may have as many layers as
// overlayfs stacks (500). An older kernel takes them in one page of mount
// data: about 40 with /var/lib/nook, and more is a clear error.
//
// # Unprivileged
//
// A store that is not root's keeps every file as the caller's (chown needs
// privilege), opaque directories as user.overlay.opaque, and whiteouts as
// 0/0 character devices, which the kernel lets anyone make. In the
// sandbox's user namespace the caller is root, so the files are root's
// there; an image that relies on other owners inside (a home directory of
// uid 1000) sees them as root's.
//
// This package imports nothing of container or sandbox.
package image

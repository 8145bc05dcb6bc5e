package image

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Progress is one report on one layer of a pull or import.
type Progress struct {
	Image string // the reference being pulled or imported
	Layer string // the layer's digest as sent
	// Done and Total are bytes as sent (compressed); Total is 0 when
	// unknown.
	Done, Total int64
	// Elapsed is the time since the layer started.
	Elapsed time.Duration
	// State: "downloading", "done", or "exists" (already in the store).
	State string
}

// Progress states.
const (
	StateDownloading = "downloading"
	StateDone        = "done"
	StateExists      = "exists"
)

// PullOptions configure Pull and Import.
type PullOptions struct {
	// Progress receives reports, from several goroutines at once; nil
	// for none.
	Progress func(Progress)
	// Keychain gives registry credentials; nil means
	// authn.DefaultKeychain (the docker config file, ~/.docker/config.json
	// or $DOCKER_CONFIG, and its credential helpers).
	Keychain authn.Keychain
	// Platform picks an image out of a multi-platform index; nil means
	// linux on this machine's architecture.
	Platform *v1.Platform
	// Transport for the registry; nil means Go's default.
	Transport http.RoundTripper
	// Parallel is how many layers are fetched at once (0: 4).
	Parallel int
}

func (o *PullOptions) platform() v1.Platform {
	if o.Platform != nil {
		return *o.Platform
	}
	p := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm64" {
		p.Variant = "v8"
	}
	return p
}

// Pull fetches ref from its registry (the registry v2 protocol) into the
// store and returns it. Layers already in the store are not fetched
// again; every blob is checked against its digest.
func (s *Store) Pull(ctx context.Context, ref string, o *PullOptions) (*Image, error) {
	if o == nil {
		o = &PullOptions{}
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc), remote.WithPlatform(o.platform())}
	if o.Transport != nil {
		ropts = append(ropts, remote.WithTransport(o.Transport))
	}
	desc, err := remote.Get(r, ropts...)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	var names []string
	if t, ok := r.(name.Tag); ok {
		names = append(names, t.Name())
	}
	// the digest it came by: the index's for a multi-platform image
	repoDigests := []string{r.Context().Digest(desc.Digest.String()).Name()}
	return s.add(ctx, ref, img, names, repoDigests, true, o)
}

// add stores img under names: its manifest and config as blobs, each
// layer unpacked unless the store has it. compressed says whether the
// layers are read as sent (and checked against their digests) or
// uncompressed (a docker-save tarball stores them so).
func (s *Store) add(ctx context.Context, ref string, img v1.Image, names, repoDigests []string, compressed bool, o *PullOptions) (*Image, error) {
	// pulls share the store; rm and prune wait for them
	sl, err := lockFile(ctx, s.path(storeLock), false, true)
	if err != nil {
		return nil, err
	}
	defer sl.Unlock()

	rawManifest, err := img.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("%s: manifest: %w", ref, err)
	}
	mdigest := digestOf(rawManifest)
	m, err := v1.ParseManifest(bytes.NewReader(rawManifest))
	if err != nil {
		return nil, fmt.Errorf("%s: manifest: %w", ref, err)
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("%s: config: %w", ref, err)
	}
	if got := digestOf(rawConfig); got != m.Config.Digest.String() {
		return nil, fmt.Errorf("%s: config: digest mismatch: the manifest says %s, the blob is %s", ref, m.Config.Digest, got)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(rawConfig))
	if err != nil {
		return nil, fmt.Errorf("%s: config: %w", ref, err)
	}
	if cfg.OS != "" && cfg.OS != "linux" {
		return nil, fmt.Errorf("%s: an image for %s, not linux", ref, cfg.OS)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("%s: layers: %w", ref, err)
	}
	if len(layers) != len(cfg.RootFS.DiffIDs) {
		return nil, fmt.Errorf("%s: the manifest has %d layers, the config %d diff IDs", ref, len(layers), len(cfg.RootFS.DiffIDs))
	}
	if compressed && len(m.Layers) != len(layers) {
		return nil, fmt.Errorf("%s: manifest lists %d layers, the image %d", ref, len(m.Layers), len(layers))
	}

	// layers, a few at a time
	par := o.Parallel
	if par <= 0 {
		par = 4
	}
	sem := make(chan struct{}, par)
	errs := make([]error, len(layers))
	var wg sync.WaitGroup
	var size int64
	for i, l := range layers {
		var desc *v1.Descriptor
		if compressed {
			desc = &m.Layers[i]
			size += desc.Size
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			if err := s.ensureLayer(ctx, ref, l, desc, cfg.RootFS.DiffIDs[i], o); err != nil {
				errs[i] = fmt.Errorf("%s: layer %d (%s): %w", ref, i+1, cfg.RootFS.DiffIDs[i], err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if !compressed {
		for _, l := range layers {
			if n, err := l.Size(); err == nil {
				size += n
			}
		}
	}

	if err := s.writeBlob(mdigest, rawManifest); err != nil {
		return nil, err
	}
	if err := s.writeBlob(m.Config.Digest.String(), rawConfig); err != nil {
		return nil, err
	}
	rec := &Image{ID: m.Config.Digest.String(), Digest: mdigest, Size: size, Created: time.Now().UTC(), store: s}
	for _, n := range repoDigests {
		if r, err := name.NewDigest(n); err == nil {
			// the manifest's own digest too, in the same repository
			repoDigests = append(repoDigests, r.Context().Digest(mdigest).Name())
		}
	}
	for _, d := range cfg.RootFS.DiffIDs {
		rec.Layers = append(rec.Layers, d.String())
	}
	err = s.updateIndex(ctx, func(ix *index) error {
		// a name moves to the new image
		for _, other := range ix.Images {
			if other.ID != rec.ID {
				other.Names = slices.DeleteFunc(other.Names, func(n string) bool { return slices.Contains(names, n) })
			}
		}
		for _, old := range ix.Images {
			if old.ID == rec.ID {
				old.Names = union(old.Names, names)
				old.RepoDigests = union(old.RepoDigests, repoDigests)
				rec = old
				return nil
			}
		}
		rec.Names = names
		rec.RepoDigests = union(nil, repoDigests)
		ix.Images = append(ix.Images, rec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rec, nil
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ensureLayer makes sure the layer with diffID is unpacked in the store.
// One process unpacks it, under the layer's lock, into a directory in
// tmp/ that is renamed into layers/ only once it is whole and its digests
// are right; a second pull of the same layer waits for the first and
// finds it there.
func (s *Store) ensureLayer(ctx context.Context, ref string, l v1.Layer, desc *v1.Descriptor, diffID v1.Hash, o *PullOptions) error {
	final := s.layerDir(diffID.String())
	report := func(p Progress) {
		if o.Progress != nil {
			p.Image = ref
			o.Progress(p)
		}
	}
	var sent string
	var total int64
	if desc != nil {
		sent, total = desc.Digest.String(), desc.Size
	} else {
		sent = diffID.String()
	}
	if _, err := os.Stat(final); err == nil {
		report(Progress{Layer: sent, Total: total, Done: total, State: StateExists})
		return nil
	}
	lk, err := lockFile(ctx, s.layerLock(diffID.String()), true, true)
	if err != nil {
		return err
	}
	defer lk.Unlock()
	if _, err := os.Stat(final); err == nil {
		report(Progress{Layer: sent, Total: total, Done: total, State: StateExists})
		return nil
	}
	// what an interrupted unpack of this layer left: nobody else can be
	// at it, the lock is ours
	if ents, err := os.ReadDir(s.path(tmpDir)); err == nil {
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), "layer-"+diffID.Hex+"-") {
				os.RemoveAll(s.path(tmpDir, e.Name()))
			}
		}
	}
	staging, err := os.MkdirTemp(s.path(tmpDir), "layer-"+diffID.Hex+"-")
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(staging)
		}
	}()
	if err := os.Chmod(staging, 0o755); err != nil {
		return err
	}

	var rc io.ReadCloser
	if desc != nil {
		rc, err = l.Compressed()
	} else {
		rc, err = l.Uncompressed()
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	start := time.Now()
	pr := &progressReader{r: rc, report: func(n int64, final bool) {
		st := StateDownloading
		if final {
			st = StateDone
		}
		report(Progress{Layer: sent, Done: n, Total: total, Elapsed: time.Since(start), State: st})
	}}
	// the blob as sent, hashed while it streams; capped at its size
	limit := s.limits.bytes()
	if total > 0 {
		limit = total
	}
	sentHash := sha256.New()
	src := io.TeeReader(&ctxReader{ctx: ctx, r: io.LimitReader(pr, limit+1)}, sentHash)
	var tarStream io.Reader = src
	if desc != nil {
		var closeFn func()
		tarStream, closeFn, err = decompress(src)
		if err != nil {
			return err
		}
		defer closeFn()
	}
	diffHash := sha256.New()
	if err := unpack(io.TeeReader(tarStream, diffHash), staging, s.rootless, s.limits, s.warn); err != nil {
		return err
	}
	if desc != nil {
		// the rest of the blob after the compressed stream's end
		if _, err := io.Copy(io.Discard, src); err != nil {
			return err
		}
		if pr.n > limit {
			return fmt.Errorf("blob is larger than the %d bytes its descriptor says", total)
		}
		if err := check(sentHash, desc.Digest, "blob"); err != nil {
			return err
		}
	}
	if err := check(diffHash, diffID, "uncompressed layer (diff ID)"); err != nil {
		return err
	}
	if err := os.Rename(staging, final); err != nil {
		return fmt.Errorf("put layer in place: %w", err)
	}
	ok = true
	pr.done()
	return nil
}

func check(h hash.Hash, want v1.Hash, what string) error {
	got := "sha256:" + hex.EncodeToString(h.Sum(nil))
	if want.Algorithm != "sha256" {
		return fmt.Errorf("%s: digest algorithm %q is not supported", what, want.Algorithm)
	}
	if got != want.String() {
		return fmt.Errorf("%s: digest mismatch: want %s, got %s (corrupt or tampered with)", what, want, got)
	}
	return nil
}

// decompress recognises gzip and zstd by their magic numbers; anything
// else is taken to be a plain tar stream.
func decompress(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(4)
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, func() { zr.Close() }, nil
	case len(magic) == 4 && bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, nil, fmt.Errorf("zstd: %w", err)
		}
		return zr, zr.Close, nil
	}
	return br, func() {}, nil
}

// progressReader counts bytes and reports at most every 100 ms.
type progressReader struct {
	r      io.Reader
	n      int64
	last   time.Time
	report func(n int64, final bool)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond {
		p.last = now
		p.report(p.n, false)
	}
	return n, err
}

func (p *progressReader) done() { p.report(p.n, true) }

// ctxReader stops a long read when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(b)
}

// union appends to a the elements of b it lacks.
func union(a, b []string) []string {
	for _, x := range b {
		if !slices.Contains(a, x) {
			a = append(a, x)
		}
	}
	return a
}

package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
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
	// Credentials gives registry credentials; nil means
	// DockerConfigCredentials (the docker config file, ~/.docker/config.json
	// or $DOCKER_CONFIG, and its credential helpers).
	Credentials CredentialsFunc
	// Platform picks an image out of a multi-platform index; nil means
	// linux on this machine's architecture.
	Platform *Platform
	// Transport for the registry; nil means Go's default.
	Transport http.RoundTripper
	// Parallel is how many layers are fetched at once (0: 4).
	Parallel int
}

func (o *PullOptions) platform() Platform {
	if o.Platform != nil {
		return *o.Platform
	}
	return hostPlatform()
}

// Pull fetches ref from its registry (the registry v2 protocol) into the
// store and returns it. Layers already in the store are not fetched
// again; every blob is checked against its digest.
func (s *Store) Pull(ctx context.Context, ref string, o *PullOptions) (*Image, error) {
	if o == nil {
		o = &PullOptions{}
	}
	r, err := ParseReference(ref)
	if err != nil {
		return nil, err
	}
	reg := newRegistry(r, o)
	if err := reg.login(ctx); err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	raw, mdigest, top, err := reg.resolve(ctx, o.platform())
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	var names []string
	if r.Digest == "" {
		names = append(names, r.Name())
	}
	// the digests it came by: the index's for a multi-platform image, and
	// the manifest's own
	repoDigests := union([]string{r.WithDigest(top).Name()}, []string{r.WithDigest(mdigest).Name()})
	return s.add(ctx, ref, &source{manifest: raw, open: reg.blob, sent: true}, names, repoDigests, o)
}

// source is an image to add to the store, wherever it comes from: its
// manifest, and its blobs (config and layers) by descriptor.
type source struct {
	manifest []byte
	open     func(context.Context, Descriptor) (io.ReadCloser, error)
	// sent says the layers are read as the manifest describes them, and
	// checked against its digests; when not (a docker-save tarball), they
	// are read as stored, compressed or not, and only their diff IDs
	// checked
	sent bool
}

// readBlob reads a small blob (a config) whole and checks its digest.
func (src *source) readBlob(ctx context.Context, d Descriptor) ([]byte, error) {
	rc, err := src.open(ctx, d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxDocument+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxDocument {
		return nil, fmt.Errorf("larger than %d bytes", maxDocument)
	}
	if got := digestOf(b); got != d.Digest {
		return nil, fmt.Errorf("digest mismatch: the manifest says %s, the blob is %s", d.Digest, got)
	}
	return b, nil
}

// add stores the image src has under names: its manifest and config as
// blobs, each layer unpacked unless the store has it.
func (s *Store) add(ctx context.Context, ref string, src *source, names, repoDigests []string, o *PullOptions) (*Image, error) {
	// pulls share the store; rm and prune wait for them
	sl, err := lockFile(ctx, s.path(storeLock), false, true)
	if err != nil {
		return nil, err
	}
	defer sl.Unlock()

	rawManifest := src.manifest
	mdigest := digestOf(rawManifest)
	m, err := parseManifest(rawManifest)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	rawConfig, err := src.readBlob(ctx, m.Config)
	if err != nil {
		return nil, fmt.Errorf("%s: config: %w", ref, err)
	}
	cfg, err := parseConfig(rawConfig)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	if cfg.OS != "" && cfg.OS != "linux" {
		return nil, fmt.Errorf("%s: an image for %s, not linux", ref, cfg.OS)
	}
	layers := m.Layers
	if len(layers) != len(cfg.RootFS.DiffIDs) {
		return nil, fmt.Errorf("%s: the manifest has %d layers, the config %d diff IDs", ref, len(layers), len(cfg.RootFS.DiffIDs))
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
	for i := range layers {
		size += layers[i].Size
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
			if err := s.ensureLayer(ctx, ref, src, layers[i], cfg.RootFS.DiffIDs[i], o); err != nil {
				errs[i] = fmt.Errorf("%s: layer %d (%s): %w", ref, i+1, cfg.RootFS.DiffIDs[i], err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	if err := s.writeBlob(mdigest, rawManifest); err != nil {
		return nil, err
	}
	if err := s.writeBlob(m.Config.Digest, rawConfig); err != nil {
		return nil, err
	}
	rec := &Image{ID: m.Config.Digest, Digest: mdigest, Size: size, Created: time.Now().UTC(), Layers: cfg.RootFS.DiffIDs, store: s}
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
func (s *Store) ensureLayer(ctx context.Context, ref string, src *source, desc Descriptor, diffID string, o *PullOptions) error {
	final := s.layerDir(diffID)
	diffHex := strings.TrimPrefix(diffID, "sha256:")
	report := func(p Progress) {
		if o.Progress != nil {
			p.Image = ref
			o.Progress(p)
		}
	}
	sent, total := desc.Digest, desc.Size
	if _, err := os.Stat(final); err == nil {
		report(Progress{Layer: sent, Total: total, Done: total, State: StateExists})
		return nil
	}
	lk, err := lockFile(ctx, s.layerLock(diffID), true, true)
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
			if strings.HasPrefix(e.Name(), "layer-"+diffHex+"-") {
				os.RemoveAll(s.path(tmpDir, e.Name()))
			}
		}
	}
	staging, err := os.MkdirTemp(s.path(tmpDir), "layer-"+diffHex+"-")
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

	rc, err := src.open(ctx, desc)
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
	blob := io.TeeReader(&ctxReader{ctx: ctx, r: io.LimitReader(pr, limit+1)}, sentHash)
	dec, err := decompress(ctx, blob)
	if err != nil {
		return err
	}
	defer dec.close()
	diffHash := sha256.New()
	if err := unpack(io.TeeReader(dec, diffHash), staging, s.rootless, s.limits, s.warn); err != nil {
		return err
	}
	if err := dec.finish(); err != nil {
		return err
	}
	// the rest of the blob after the compressed stream's end
	if _, err := io.Copy(io.Discard, blob); err != nil {
		return err
	}
	if pr.n > limit {
		return fmt.Errorf("blob is larger than the %d bytes its descriptor says", total)
	}
	if src.sent {
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

func check(h hash.Hash, want, what string) error {
	got := "sha256:" + hex.EncodeToString(h.Sum(nil))
	if err := checkDigest(want); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if got != want {
		return fmt.Errorf("%s: digest mismatch: want %s, got %s (corrupt or tampered with)", what, want, got)
	}
	return nil
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

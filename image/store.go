package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNotFound is the error (wrapped) for a reference no image in the
// store answers to.
var ErrNotFound = errors.New("no such image in the store")

// Options configure a store.
type Options struct {
	// Dir is the store's directory; empty means DefaultDir().
	Dir string
	// Rootless unpacks layers for an unprivileged user: files keep the
	// caller as owner and overlay attributes go in the user.* namespace
	// (overlayfs's userxattr). Open sets it when the caller is not root.
	Rootless bool
	// Limits bound each layer (see Limits).
	Limits Limits
	// Warn receives warnings (a device node skipped...); nil drops them.
	Warn func(msg string)
}

// Store is a directory of images: content-addressed blobs, unpacked
// layers shared by every image that has them, and the list of images. It
// is safe for concurrent use by many processes (see the package doc).
type Store struct {
	dir      string
	rootless bool
	limits   Limits
	warn     func(string)
}

// DefaultDir is where the store lives: /var/lib/nook for root,
// $XDG_DATA_HOME/nook (~/.local/share/nook) for anyone else.
func DefaultDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/nook"
	}
	if d := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "nook")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "/tmp"
	}
	return filepath.Join(home, ".local", "share", "nook")
}

// the store's layout under its directory
const (
	indexFile   = "images.json"
	indexLock   = "images.lock" // held exclusively while images.json is rewritten
	storeLock   = "store.lock"  // shared by pulls and imports, exclusive for rm and prune
	blobsDir    = "blobs/sha256"
	layersDir   = "layers"
	locksDir    = "locks" // one lock file per layer: exclusive to unpack or delete, shared to use
	tmpDir      = "tmp"
	baseLayer   = "base" // nook's own bottom layer: the mount points every sandbox needs
	indexFormat = 1
)

// Open opens the store at o.Dir, making its directories (mode 0700: the
// layers keep their set-user-ID files, which only a sandbox may run).
func Open(o Options) (*Store, error) {
	dir := o.Dir
	if dir == "" {
		dir = DefaultDir()
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	s := &Store{dir: dir, rootless: o.Rootless || os.Geteuid() != 0, limits: o.Limits, warn: o.Warn}
	for _, d := range []string{"", "blobs", blobsDir, layersDir, locksDir, tmpDir} {
		p := filepath.Join(dir, d)
		if err := os.Mkdir(p, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			if d == "" {
				if err := os.MkdirAll(p, 0o700); err == nil {
					continue
				}
			}
			return nil, fmt.Errorf("open image store: %w", err)
		}
	}
	// whatever made it, nobody but its owner passes through layers/
	if err := os.Chmod(s.path(layersDir), 0o700); err != nil {
		return nil, fmt.Errorf("open image store: %w", err)
	}
	if err := s.ensureBase(); err != nil {
		return nil, fmt.Errorf("open image store: %w", err)
	}
	return s, nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

func (s *Store) path(elem ...string) string {
	return filepath.Join(append([]string{s.dir}, elem...)...)
}

// ensureBase makes the base layer once: empty dev, proc, sys and tmp
// directories and empty /etc/resolv.conf and /etc/hosts under every
// image, so that nook's mounts have somewhere to go even when an image
// lacks them and the root is read-only (docker's "init layer" does the
// same).
func (s *Store) ensureBase() error {
	final := s.path(layersDir, baseLayer)
	if _, err := os.Stat(final); err == nil {
		return nil
	}
	tmp, err := os.MkdirTemp(s.path(tmpDir), "base-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, d := range []string{"dev", "proc", "sys", "tmp", "etc"} {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(tmp, "tmp"), 0o1777); err != nil {
		return err
	}
	// and the files nook may bind over (--dns, --add-host, a network):
	// a read-only root cannot get new mount points
	for _, f := range []string{"etc/resolv.conf", "etc/hosts"} {
		if err := os.WriteFile(filepath.Join(tmp, f), nil, 0o644); err != nil {
			return err
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil && !errors.Is(err, unix.EEXIST) && !errors.Is(err, unix.ENOTEMPTY) {
		return err
	}
	return nil
}

// Image is an image in the store.
type Image struct {
	// ID is the digest of the image's config ("sha256:..."), the same
	// whichever way the image came in.
	ID string `json:"id"`
	// Names are the references it answers to, normalized
	// ("index.docker.io/library/busybox:latest").
	Names []string `json:"names,omitempty"`
	// Digest is the digest of its manifest.
	Digest string `json:"digest"`
	// RepoDigests are the repository@digest references it was pulled by
	// or as: its manifest's and, for a multi-platform image, its index's.
	RepoDigests []string `json:"repo_digests,omitempty"`
	// Layers are the diff IDs of its layers, bottom first.
	Layers []string `json:"layers"`
	// Size is the sum of its layers' sizes as sent.
	Size int64 `json:"size"`
	// Created is when it entered the store.
	Created time.Time `json:"created"`

	store *Store
}

type index struct {
	Format int      `json:"format"`
	Images []*Image `json:"images"`
}

func (s *Store) readIndex() (*index, error) {
	b, err := os.ReadFile(s.path(indexFile))
	if errors.Is(err, fs.ErrNotExist) {
		return &index{Format: indexFormat}, nil
	}
	if err != nil {
		return nil, err
	}
	var ix index
	if err := json.Unmarshal(b, &ix); err != nil {
		return nil, fmt.Errorf("read %s: %w", s.path(indexFile), err)
	}
	for _, img := range ix.Images {
		img.store = s
	}
	return &ix, nil
}

// writeIndex replaces images.json atomically: readers see the old list or
// the new one, never half of one.
func (s *Store) writeIndex(ix *index) error {
	ix.Format = indexFormat
	sort.Slice(ix.Images, func(i, j int) bool { return ix.Images[i].Created.Before(ix.Images[j].Created) })
	b, err := json.MarshalIndent(ix, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(s.path(indexFile), b)
}

func writeAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// updateIndex runs fn on the list of images under the index lock and
// writes the result.
func (s *Store) updateIndex(ctx context.Context, fn func(*index) error) error {
	l, err := lockFile(ctx, s.path(indexLock), true, true)
	if err != nil {
		return err
	}
	defer l.Unlock()
	ix, err := s.readIndex()
	if err != nil {
		return err
	}
	if err := fn(ix); err != nil {
		return err
	}
	return s.writeIndex(ix)
}

// List returns the images in the store, oldest first.
func (s *Store) List() ([]*Image, error) {
	ix, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	return ix.Images, nil
}

// NormalizeName returns the canonical form of an image reference
// ("busybox" is "index.docker.io/library/busybox:latest").
func NormalizeName(ref string) (string, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return "", err
	}
	return r.Name(), nil
}

// Get finds the image ref names: a name ("busybox",
// "registry:5000/x:tag"), a name with a digest ("x@sha256:..."), or an
// ID, whole or a prefix of at least 4 hex digits.
func (s *Store) Get(ref string) (*Image, error) {
	ix, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	return ix.find(ref)
}

func (ix *index) find(ref string) (*Image, error) {
	if id, ok := idPrefix(ref); ok {
		var found []*Image
		for _, img := range ix.Images {
			if strings.HasPrefix(img.ID, id) {
				found = append(found, img)
			}
		}
		switch len(found) {
		case 1:
			return found[0], nil
		case 0:
		default:
			return nil, fmt.Errorf("image ID %q is ambiguous: %d images match", ref, len(found))
		}
	}
	r, err := ParseReference(ref)
	if err != nil {
		if _, ok := idPrefix(ref); ok {
			return nil, fmt.Errorf("image %q: %w", ref, ErrNotFound)
		}
		return nil, err
	}
	if r.Digest != "" {
		for _, img := range ix.Images {
			if img.Digest == r.Digest || slices.Contains(img.RepoDigests, r.Name()) {
				return img, nil
			}
		}
		return nil, fmt.Errorf("image %q: %w", ref, ErrNotFound)
	}
	n := r.Name()
	for _, img := range ix.Images {
		if slices.Contains(img.Names, n) {
			return img, nil
		}
	}
	return nil, fmt.Errorf("image %q: %w", ref, ErrNotFound)
}

// idPrefix reports whether ref looks like an image ID or a prefix of one,
// and returns it in "sha256:..." form.
func idPrefix(ref string) (string, bool) {
	h := strings.TrimPrefix(ref, "sha256:")
	if len(h) < 4 || len(h) > 64 {
		return "", false
	}
	if _, err := hex.DecodeString(h + strings.Repeat("0", len(h)%2)); err != nil || strings.ToLower(h) != h {
		return "", false
	}
	return "sha256:" + h, true
}

// Config returns the image's config (Entrypoint, Cmd, Env...), read from
// its blob and checked against its digest.
func (img *Image) Config() (*ConfigFile, error) {
	b, err := img.store.readBlob(img.ID)
	if err != nil {
		return nil, err
	}
	return parseConfig(b)
}

// Manifest returns the image's manifest, read from its blob.
func (img *Image) Manifest() (*Manifest, error) {
	b, err := img.store.readBlob(img.Digest)
	if err != nil {
		return nil, err
	}
	return parseManifest(b)
}

// LayerDirs returns the directories of the image's layers, top first (the
// order of overlayfs's lowerdir), ending with nook's base layer.
func (img *Image) LayerDirs() []string {
	out := make([]string, 0, len(img.Layers)+1)
	for i := len(img.Layers) - 1; i >= 0; i-- {
		out = append(out, img.store.layerDir(img.Layers[i]))
	}
	return append(out, img.store.path(layersDir, baseLayer))
}

func (s *Store) layerDir(diffID string) string {
	return s.path(layersDir, strings.TrimPrefix(diffID, "sha256:"))
}

func (s *Store) layerLock(diffID string) string {
	return s.path(locksDir, strings.TrimPrefix(diffID, "sha256:"))
}

// Use holds the image's layers for a sandbox: while the returned release
// has not been called (or the process lives), neither rm nor prune
// deletes them. It fails when the image was removed meanwhile.
func (img *Image) Use(ctx context.Context) (release func(), err error) {
	var held []*lock
	release = func() {
		for _, l := range held {
			l.Unlock()
		}
	}
	for _, d := range img.Layers {
		l, err := lockFile(ctx, img.store.layerLock(d), false, true)
		if err != nil {
			release()
			return nil, fmt.Errorf("use layer %s: %w", d, err)
		}
		held = append(held, l)
		if _, err := os.Stat(img.store.layerDir(d)); err != nil {
			release()
			return nil, fmt.Errorf("image %s: layer %s is gone (removed meanwhile?): %w", img.ID, d, err)
		}
	}
	return release, nil
}

// ShortID is the first 12 hex digits of the image's ID.
func (img *Image) ShortID() string {
	h := strings.TrimPrefix(img.ID, "sha256:")
	return h[:min(12, len(h))]
}

func blobHex(digest string) (string, error) {
	h, ok := strings.CutPrefix(digest, "sha256:")
	if !ok || len(h) != 64 {
		return "", fmt.Errorf("digest %q: not a sha256 digest", digest)
	}
	if _, err := hex.DecodeString(h); err != nil {
		return "", fmt.Errorf("digest %q: %w", digest, err)
	}
	return h, nil
}

// readBlob reads a stored blob and checks it against its digest.
func (s *Store) readBlob(digest string) ([]byte, error) {
	h, err := blobHex(digest)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(s.path(blobsDir, h))
	if err != nil {
		return nil, err
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != h {
		return nil, fmt.Errorf("blob %s: content does not match its digest (the store is corrupt)", digest)
	}
	return b, nil
}

// writeBlob stores b under its digest, which it must match.
func (s *Store) writeBlob(digest string, b []byte) error {
	h, err := blobHex(digest)
	if err != nil {
		return err
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != h {
		return fmt.Errorf("blob %s: content does not match its digest (got sha256:%x)", digest, sum)
	}
	p := s.path(blobsDir, h)
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	return writeAtomic(p, b)
}

// Remove removes images: a name removes that name, an ID or digest the
// whole image; an image left with no name is removed. Layers no image
// needs any more are deleted, except those a running sandbox holds
// (Prune deletes them later).
func (s *Store) Remove(ctx context.Context, refs ...string) ([]*Image, error) {
	sl, err := lockFile(ctx, s.path(storeLock), true, true)
	if err != nil {
		return nil, err
	}
	defer sl.Unlock()
	var removed []*Image
	err = s.updateIndex(ctx, func(ix *index) error {
		for _, ref := range refs {
			img, err := ix.find(ref)
			if err != nil {
				return err
			}
			if n, err := NormalizeName(ref); err == nil && slices.Contains(img.Names, n) {
				img.Names = slices.DeleteFunc(img.Names, func(x string) bool { return x == n })
			} else {
				img.Names = nil
			}
			if len(img.Names) == 0 {
				ix.Images = slices.DeleteFunc(ix.Images, func(x *Image) bool { return x == img })
				removed = append(removed, img)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if _, err := s.collect(ctx, false); err != nil {
		return removed, err
	}
	return removed, nil
}

// PruneReport says what Prune removed.
type PruneReport struct {
	Images []string `json:"images"` // IDs of images with no name
	Layers []string `json:"layers"` // diff IDs
	Blobs  int      `json:"blobs"`
	Bytes  int64    `json:"bytes"` // on disk, roughly
}

// Prune removes images with no name, layers and blobs no image needs,
// and whatever an interrupted pull left in the store's tmp directory.
// Layers a running sandbox holds stay.
func (s *Store) Prune(ctx context.Context) (*PruneReport, error) {
	sl, err := lockFile(ctx, s.path(storeLock), true, true)
	if err != nil {
		return nil, err
	}
	defer sl.Unlock()
	var dangling []string
	err = s.updateIndex(ctx, func(ix *index) error {
		ix.Images = slices.DeleteFunc(ix.Images, func(img *Image) bool {
			if len(img.Names) == 0 {
				dangling = append(dangling, img.ID)
				return true
			}
			return false
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	r, err := s.collect(ctx, true)
	if r != nil {
		r.Images = dangling
	}
	return r, err
}

// collect deletes what no image refers to. The caller holds the store
// lock exclusively, so no pull is under way.
func (s *Store) collect(ctx context.Context, tmp bool) (*PruneReport, error) {
	ix, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	r := &PruneReport{}
	layers, blobs := map[string]bool{baseLayer: true}, map[string]bool{}
	for _, img := range ix.Images {
		for _, l := range img.Layers {
			layers[strings.TrimPrefix(l, "sha256:")] = true
		}
		blobs[strings.TrimPrefix(img.ID, "sha256:")] = true
		blobs[strings.TrimPrefix(img.Digest, "sha256:")] = true
	}
	var errs []error
	ents, err := os.ReadDir(s.path(layersDir))
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		h := e.Name()
		if layers[h] {
			continue
		}
		l, err := lockFile(ctx, s.path(locksDir, h), true, false)
		if err != nil {
			continue // in use by a sandbox
		}
		r.Bytes += du(s.path(layersDir, h))
		// out of sight first: a layer is either whole in layers/ or gone
		gone := s.path(tmpDir, "del-"+h)
		err = os.Rename(s.path(layersDir, h), gone)
		if err == nil {
			err = os.RemoveAll(gone)
		}
		if err == nil {
			os.Remove(s.path(locksDir, h))
			r.Layers = append(r.Layers, "sha256:"+h)
		} else {
			errs = append(errs, fmt.Errorf("remove layer %s: %w", h, err))
		}
		l.Unlock()
	}
	// lock files of layers that are not there (an interrupted first pull)
	if ents, err := os.ReadDir(s.path(locksDir)); err == nil {
		for _, e := range ents {
			if _, err := os.Stat(s.path(layersDir, e.Name())); err == nil {
				continue
			}
			if l, err := lockFile(ctx, s.path(locksDir, e.Name()), true, false); err == nil {
				os.Remove(s.path(locksDir, e.Name()))
				l.Unlock()
			}
		}
	}
	if ents, err := os.ReadDir(s.path(blobsDir)); err == nil {
		for _, e := range ents {
			if !blobs[e.Name()] {
				if fi, err := e.Info(); err == nil {
					r.Bytes += fi.Size()
				}
				if err := os.Remove(s.path(blobsDir, e.Name())); err == nil {
					r.Blobs++
				}
			}
		}
	}
	if tmp {
		// nothing in tmp is in use while the store lock is held
		// exclusively: every pull holds it shared
		if ents, err := os.ReadDir(s.path(tmpDir)); err == nil {
			for _, e := range ents {
				p := s.path(tmpDir, e.Name())
				r.Bytes += du(p)
				if err := os.RemoveAll(p); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return r, errors.Join(errs...)
}

// du is the size of the files under p, roughly.
func du(p string) int64 {
	var n int64
	filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

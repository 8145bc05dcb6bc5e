package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Annotations that name an image in an OCI layout's index.
const (
	annotationRefName        = "org.opencontainers.image.ref.name"
	annotationContainerdName = "io.containerd.image.name"
)

// Import reads images from src into the store: an OCI layout directory,
// an OCI archive (a tar of one), or a `docker save` / `podman save`
// tarball. Images are named as src names them (the layout's ref.name
// annotations, the tarball's RepoTags); name, when given, names them
// instead (an archive with one image).
func (s *Store) Import(ctx context.Context, src, name string, o *PullOptions) ([]*Image, error) {
	if o == nil {
		o = &PullOptions{}
	}
	fi, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	if fi.IsDir() {
		return s.importLayout(ctx, src, name, o)
	}
	kind, err := archiveKind(src)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "oci":
		dir, err := os.MkdirTemp(s.path(tmpDir), "import-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		if err := extractArchive(src, dir, s.limits); err != nil {
			return nil, fmt.Errorf("import %s: %w", src, err)
		}
		return s.importLayout(ctx, dir, name, o)
	default:
		return s.importDocker(ctx, src, name, o)
	}
}

// archiveKind tells an OCI archive (oci-layout and index.json at the top)
// from a docker archive (manifest.json).
func archiveKind(src string) (string, error) {
	f, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	var oci, index, docker bool
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("import %s: not an image archive (a tar file with an OCI layout or a docker-save manifest.json): %w", src, err)
		}
		switch path.Clean(strings.TrimPrefix(hdr.Name, "./")) {
		case "oci-layout":
			oci = true
		case "index.json":
			index = true
		case "manifest.json":
			docker = true
		}
	}
	switch {
	case oci && index:
		return "oci", nil
	case docker:
		return "docker", nil
	}
	return "", fmt.Errorf("import %s: not an image archive: no oci-layout and index.json, and no manifest.json", src)
}

// extractArchive unpacks an OCI archive's files (oci-layout, index.json
// and blobs/ALG/HEX: nothing else, no links) into dir.
func extractArchive(src, dir string, limits Limits) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	var total int64
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		n, err := cleanName(hdr.Name)
		if err != nil {
			return fmt.Errorf("%q: %w", hdr.Name, err)
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeReg, tar.TypeRegA:
		default:
			continue // links and the rest have no place in a layout
		}
		parts := strings.Split(n, "/")
		if !(len(parts) == 1 || len(parts) == 3 && parts[0] == "blobs") {
			continue
		}
		total += hdr.Size
		if total > limits.bytes() {
			return errTooBig
		}
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		out, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, tr)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
}

func (s *Store) importLayout(ctx context.Context, dir, rename string, o *PullOptions) ([]*Image, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("import %s: not an OCI layout: %w", dir, err)
	}
	ii, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", dir, err)
	}
	type found struct {
		img  v1.Image
		name string
	}
	var imgs []found
	plat := o.platform()
	var walk func(ii v1.ImageIndex, nameHint string) error
	walk = func(ii v1.ImageIndex, nameHint string) error {
		im, err := ii.IndexManifest()
		if err != nil {
			return err
		}
		for _, d := range im.Manifests {
			n := nameHint
			if v := d.Annotations[annotationContainerdName]; v != "" {
				n = v
			} else if v := d.Annotations[annotationRefName]; v != "" && n == "" {
				n = v
			}
			switch {
			case d.MediaType.IsIndex():
				child, err := ii.ImageIndex(d.Digest)
				if err != nil {
					return err
				}
				if err := walk(child, n); err != nil {
					return err
				}
			case d.MediaType.IsImage():
				if d.Platform != nil && !d.Platform.Satisfies(plat) {
					continue
				}
				img, err := ii.Image(d.Digest)
				if err != nil {
					return err
				}
				imgs = append(imgs, found{img, n})
			}
		}
		return nil
	}
	if err := walk(ii, ""); err != nil {
		return nil, fmt.Errorf("import %s: %w", dir, err)
	}
	if len(imgs) == 0 {
		return nil, fmt.Errorf("import %s: no image for %s in it", dir, plat)
	}
	if rename != "" && len(imgs) > 1 {
		return nil, fmt.Errorf("import %s: has %d images; a name can name only one", dir, len(imgs))
	}
	var out []*Image
	for _, f := range imgs {
		n := f.name
		if rename != "" {
			n = rename
		}
		var names []string
		if n != "" {
			nn, err := layoutName(n)
			if err != nil {
				return out, fmt.Errorf("import %s: %w", dir, err)
			}
			names = []string{nn}
		}
		img, err := s.add(ctx, dir, f.img, names, nil, true, o)
		if err != nil {
			return out, err
		}
		out = append(out, img)
	}
	return out, nil
}

// layoutName makes a name of a layout's annotation: a full reference, or
// a bare tag as umoci writes it ("busybox" stays "busybox", which
// normalises to docker.io/library/busybox:latest).
func layoutName(n string) (string, error) {
	t, err := name.NewTag(n)
	if err != nil {
		return "", fmt.Errorf("image name %q: %w", n, err)
	}
	return t.Name(), nil
}

// dockerManifest is one entry of a docker-save manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

func (s *Store) importDocker(ctx context.Context, src, rename string, o *PullOptions) ([]*Image, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(src) }
	rc, err := extractFile(src, "manifest.json")
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", src, err)
	}
	var ms []dockerManifest
	err = json.NewDecoder(io.LimitReader(rc, 16<<20)).Decode(&ms)
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("import %s: manifest.json: %w", src, err)
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("import %s: manifest.json lists no image", src)
	}
	if rename != "" && len(ms) > 1 {
		return nil, fmt.Errorf("import %s: has %d images; a name can name only one", src, len(ms))
	}
	var out []*Image
	for i, m := range ms {
		var tag *name.Tag
		var names []string
		for _, rt := range m.RepoTags {
			t, err := name.NewTag(rt)
			if err != nil {
				return out, fmt.Errorf("import %s: RepoTags %q: %w", src, rt, err)
			}
			names = append(names, t.Name())
			if tag == nil {
				tag = &t
			}
		}
		if rename != "" {
			t, err := name.NewTag(rename)
			if err != nil {
				return out, fmt.Errorf("image name %q: %w", rename, err)
			}
			names = []string{t.Name()}
		}
		if tag == nil && len(ms) > 1 {
			return out, fmt.Errorf("import %s: image %d has no RepoTags, and there are several", src, i+1)
		}
		img, err := tarball.Image(opener, tag)
		if err != nil {
			return out, fmt.Errorf("import %s: %w", src, err)
		}
		// the archive stores layers uncompressed; compressing them only
		// to check a digest would be wasted work: the config's diff IDs
		// are checked instead
		rec, err := s.add(ctx, src, img, names, nil, false, o)
		if err != nil {
			return out, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// extractFile opens one file of a tar archive.
func extractFile(src, want string) (io.ReadCloser, error) {
	f, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err != nil {
			f.Close()
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("no %s in it", want)
			}
			return nil, err
		}
		if path.Clean(strings.TrimPrefix(hdr.Name, "./")) == want {
			return struct {
				io.Reader
				io.Closer
			}{tr, f}, nil
		}
	}
}

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

// layout is an OCI image layout directory: oci-layout, index.json, and
// blobs/ALG/HEX.
type layout struct{ dir string }

func (l layout) blobPath(digest string) (string, error) {
	if err := checkDigest(digest); err != nil {
		return "", err
	}
	alg, hex, _ := strings.Cut(digest, ":")
	return filepath.Join(l.dir, "blobs", alg, hex), nil
}

func (l layout) open(_ context.Context, d Descriptor) (io.ReadCloser, error) {
	p, err := l.blobPath(d.Digest)
	if err != nil {
		return nil, err
	}
	return os.Open(p)
}

// document reads a manifest or index, checked against its digest.
func (l layout) document(d Descriptor) ([]byte, error) {
	rc, err := l.open(context.Background(), d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxDocument+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxDocument {
		return nil, fmt.Errorf("%s: larger than %d bytes", d.Digest, maxDocument)
	}
	if got := digestOf(b); got != d.Digest {
		return nil, fmt.Errorf("%s: digest mismatch: the blob is %s (corrupt or tampered with)", d.Digest, got)
	}
	return b, nil
}

func (s *Store) importLayout(ctx context.Context, dir, rename string, o *PullOptions) ([]*Image, error) {
	l := layout{dir: dir}
	var marker struct {
		Version string `json:"imageLayoutVersion"`
	}
	if b, err := os.ReadFile(filepath.Join(dir, "oci-layout")); err != nil {
		return nil, fmt.Errorf("import %s: not an OCI layout: %w", dir, err)
	} else if err := json.Unmarshal(b, &marker); err != nil || marker.Version == "" {
		return nil, fmt.Errorf("import %s: not an OCI layout: oci-layout has no imageLayoutVersion", dir)
	}
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		return nil, fmt.Errorf("import %s: not an OCI layout: %w", dir, err)
	}
	top, err := parseIndex(b)
	if err != nil {
		return nil, fmt.Errorf("import %s: index.json: %w", dir, err)
	}
	type found struct {
		manifest []byte
		name     string
	}
	var imgs []found
	plat := o.platform()
	var walk func(ix *Index, nameHint string, depth int) error
	walk = func(ix *Index, nameHint string, depth int) error {
		if depth > 4 {
			return errors.New("indexes nested more than 4 deep")
		}
		for _, d := range ix.Manifests {
			n := nameHint
			if v := d.Annotations[annotationContainerdName]; v != "" {
				n = v
			} else if v := d.Annotations[annotationRefName]; v != "" && n == "" {
				n = v
			}
			switch {
			case isIndex(d.MediaType):
				b, err := l.document(d)
				if err != nil {
					return err
				}
				child, err := parseIndex(b)
				if err != nil {
					return fmt.Errorf("%s: %w", d.Digest, err)
				}
				if err := walk(child, n, depth+1); err != nil {
					return err
				}
			case isManifest(d.MediaType):
				if d.Platform != nil && !d.Platform.satisfies(plat) {
					continue
				}
				b, err := l.document(d)
				if err != nil {
					return err
				}
				imgs = append(imgs, found{b, n})
			}
		}
		return nil
	}
	if err := walk(top, "", 0); err != nil {
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
		img, err := s.add(ctx, dir, &source{manifest: f.manifest, open: l.open, sent: true}, names, nil, o)
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
	r, err := ParseReference(n)
	if err != nil {
		return "", err
	}
	if r.Digest != "" {
		return "", fmt.Errorf("image name %q: a name takes a tag, not a digest", n)
	}
	return r.Name(), nil
}

// dockerManifest is one entry of a docker-save manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

func (s *Store) importDocker(ctx context.Context, src, rename string, o *PullOptions) ([]*Image, error) {
	rc, _, err := extractFile(src, "manifest.json")
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", src, err)
	}
	var ms []dockerManifest
	err = json.NewDecoder(io.LimitReader(rc, maxDocument)).Decode(&ms)
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
		var names []string
		for _, rt := range m.RepoTags {
			n, err := layoutName(rt)
			if err != nil {
				return out, fmt.Errorf("import %s: RepoTags: %w", src, err)
			}
			names = append(names, n)
		}
		if rename != "" {
			n, err := layoutName(rename)
			if err != nil {
				return out, err
			}
			names = []string{n}
		}
		if len(names) == 0 && len(ms) > 1 {
			return out, fmt.Errorf("import %s: image %d has no RepoTags, and there are several", src, i+1)
		}
		source, err := dockerSource(src, m)
		if err != nil {
			return out, fmt.Errorf("import %s: %w", src, err)
		}
		// the archive stores layers uncompressed; compressing them only
		// to check a digest would be wasted work: the config's diff IDs
		// are checked instead
		rec, err := s.add(ctx, src, source, names, nil, o)
		if err != nil {
			return out, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// dockerSource makes an image of one entry of a docker-save tarball: a
// manifest nook writes itself (the format has none), listing the layers
// as stored, by their diff IDs, and the config by the digest of its
// bytes.
func dockerSource(src string, m dockerManifest) (*source, error) {
	rc, _, err := extractFile(src, m.Config)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", m.Config, err)
	}
	rawConfig, err := io.ReadAll(io.LimitReader(rc, maxDocument+1))
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", m.Config, err)
	}
	if len(rawConfig) > maxDocument {
		return nil, fmt.Errorf("config %s: larger than %d bytes", m.Config, maxDocument)
	}
	cfg, err := parseConfig(rawConfig)
	if err != nil {
		return nil, err
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("manifest.json lists %d layers, the config %d diff IDs", len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	man := Manifest{
		SchemaVersion: 2,
		MediaType:     MediaTypeDockerManifest,
		Config:        Descriptor{MediaType: MediaTypeDockerConfig, Digest: digestOf(rawConfig), Size: int64(len(rawConfig))},
	}
	files := map[string]string{man.Config.Digest: m.Config}
	for i, l := range m.Layers {
		_, size, err := extractFile(src, l)
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", l, err)
		}
		d := cfg.RootFS.DiffIDs[i]
		man.Layers = append(man.Layers, Descriptor{MediaType: MediaTypeDockerLayer, Digest: d, Size: size})
		files[d] = l
	}
	raw, err := json.Marshal(man)
	if err != nil {
		return nil, err
	}
	open := func(_ context.Context, d Descriptor) (io.ReadCloser, error) {
		f, ok := files[d.Digest]
		if !ok {
			return nil, fmt.Errorf("no blob %s in the archive", d.Digest)
		}
		rc, _, err := extractFile(src, f)
		return rc, err
	}
	return &source{manifest: raw, open: open, sent: false}, nil
}

// extractFile opens one file of a tar archive, and gives its size. A
// symbolic or hard link is followed (podman and newer docker link a
// layer's old name to its blob), a few deep.
func extractFile(src, want string) (io.ReadCloser, int64, error) {
	want = path.Clean(strings.TrimPrefix(want, "./"))
	for hops := 0; hops < 8; hops++ {
		f, err := os.Open(src)
		if err != nil {
			return nil, 0, err
		}
		tr := tar.NewReader(f)
		var link string
	scan:
		for {
			hdr, err := tr.Next()
			if err != nil {
				f.Close()
				if errors.Is(err, io.EOF) {
					return nil, 0, fmt.Errorf("no %s in it", want)
				}
				return nil, 0, err
			}
			if path.Clean(strings.TrimPrefix(hdr.Name, "./")) != want {
				continue
			}
			switch hdr.Typeflag {
			case tar.TypeReg, tar.TypeRegA:
				return struct {
					io.Reader
					io.Closer
				}{tr, f}, hdr.Size, nil
			case tar.TypeSymlink:
				link = path.Join(path.Dir(want), hdr.Linkname)
			case tar.TypeLink:
				link = path.Clean(strings.TrimPrefix(hdr.Linkname, "./"))
			default:
				f.Close()
				return nil, 0, fmt.Errorf("%s is not a file", want)
			}
			break scan
		}
		f.Close()
		want = link
	}
	return nil, 0, fmt.Errorf("%s: too many links", want)
}

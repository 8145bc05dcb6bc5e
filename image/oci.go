package image

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"time"
)

// Media types of the manifests, indexes, configs and layers nook reads:
// the OCI image spec's and the Docker v2 schema 2 ones they were made
// from.
const (
	MediaTypeOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeOCIIndex       = "application/vnd.oci.image.index.v1+json"
	MediaTypeOCIConfig      = "application/vnd.oci.image.config.v1+json"
	MediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerConfig   = "application/vnd.docker.container.image.v1+json"
	// an uncompressed layer, as the manifest nook writes for a
	// docker-save tarball lists them
	MediaTypeDockerLayer = "application/vnd.docker.image.rootfs.diff.tar"
)

// isIndex and isManifest tell an index (manifest list) from an image
// manifest by media type.
func isIndex(mt string) bool { return mt == MediaTypeOCIIndex || mt == MediaTypeDockerList }
func isManifest(mt string) bool {
	return mt == MediaTypeOCIManifest || mt == MediaTypeDockerManifest
}

// Descriptor points at a blob: what it is, its digest and size.
type Descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	URLs        []string          `json:"urls,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *Platform         `json:"platform,omitempty"`
}

// Manifest is an image manifest (OCI or Docker v2 schema 2: the same
// fields).
type Manifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType,omitempty"`
	Config        Descriptor        `json:"config"`
	Layers        []Descriptor      `json:"layers"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// Index is an image index (OCI) or manifest list (Docker).
type Index struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType,omitempty"`
	Manifests     []Descriptor      `json:"manifests"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// ConfigFile is an image's configuration: what runs, and the diff IDs of
// its layers.
type ConfigFile struct {
	Architecture string    `json:"architecture"`
	OS           string    `json:"os"`
	Variant      string    `json:"variant,omitempty"`
	Created      time.Time `json:"created,omitzero"`
	Author       string    `json:"author,omitempty"`
	Config       Config    `json:"config"`
	RootFS       RootFS    `json:"rootfs"`
	History      []History `json:"history,omitempty"`
}

// Config is the part of an image's configuration that says how to run it.
type Config struct {
	User         string              `json:"User,omitempty"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Env          []string            `json:"Env,omitempty"`
	Entrypoint   []string            `json:"Entrypoint,omitempty"`
	Cmd          []string            `json:"Cmd,omitempty"`
	Volumes      map[string]struct{} `json:"Volumes,omitempty"`
	WorkingDir   string              `json:"WorkingDir,omitempty"`
	Labels       map[string]string   `json:"Labels,omitempty"`
	StopSignal   string              `json:"StopSignal,omitempty"`
}

// RootFS lists the diff IDs (digests of the uncompressed tars) of an
// image's layers, bottom first.
type RootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

// History is one step that made the image.
type History struct {
	Created    time.Time `json:"created,omitzero"`
	CreatedBy  string    `json:"created_by,omitempty"`
	Comment    string    `json:"comment,omitempty"`
	EmptyLayer bool      `json:"empty_layer,omitempty"`
}

// Platform is what an image in an index runs on.
type Platform struct {
	Architecture string   `json:"architecture"`
	OS           string   `json:"os"`
	OSVersion    string   `json:"os.version,omitempty"`
	OSFeatures   []string `json:"os.features,omitempty"`
	Variant      string   `json:"variant,omitempty"`
}

func (p Platform) String() string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// ParsePlatform reads "OS/ARCH[/VARIANT]".
func ParsePlatform(s string) (*Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" || len(parts) == 3 && parts[2] == "" {
		return nil, fmt.Errorf("platform %q: want OS/ARCH or OS/ARCH/VARIANT", s)
	}
	p := &Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// hostPlatform is linux on this machine's architecture.
func hostPlatform() Platform {
	p := Platform{OS: "linux", Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm64" {
		p.Variant = "v8"
	}
	return p
}

// satisfies says whether an image for p runs where want is asked for: OS
// and architecture equal, and the variant too when both name one.
func (p Platform) satisfies(want Platform) bool {
	if p.OS != want.OS || p.Architecture != want.Architecture {
		return false
	}
	return p.Variant == "" || want.Variant == "" || p.Variant == want.Variant
}

// checkDigest accepts "sha256:" and 64 lower-case hex digits, the only
// algorithm nook verifies (and the only one registries use).
func checkDigest(d string) error {
	h, ok := strings.CutPrefix(d, "sha256:")
	if !ok {
		alg, _, _ := strings.Cut(d, ":")
		return fmt.Errorf("digest %q: algorithm %q is not supported (only sha256)", d, alg)
	}
	if _, err := hex.DecodeString(h); err != nil || len(h) != 64 || strings.ToLower(h) != h {
		return fmt.Errorf("digest %q: want sha256: and 64 lower-case hex digits", d)
	}
	return nil
}

// parseManifest decodes an image manifest and checks what nook relies
// on: digests it can verify.
func parseManifest(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if m.SchemaVersion != 2 {
		return nil, fmt.Errorf("manifest: schema version %d is not supported (want 2)", m.SchemaVersion)
	}
	if m.MediaType != "" && !isManifest(m.MediaType) {
		return nil, fmt.Errorf("manifest: media type %q is not an image manifest", m.MediaType)
	}
	if err := checkDigest(m.Config.Digest); err != nil {
		return nil, fmt.Errorf("manifest: config: %w", err)
	}
	for i, l := range m.Layers {
		if err := checkDigest(l.Digest); err != nil {
			return nil, fmt.Errorf("manifest: layer %d: %w", i+1, err)
		}
		if l.Size < 0 {
			return nil, fmt.Errorf("manifest: layer %d: negative size", i+1)
		}
	}
	return &m, nil
}

func parseIndex(b []byte) (*Index, error) {
	var ix Index
	if err := json.Unmarshal(b, &ix); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	if ix.SchemaVersion != 2 {
		return nil, fmt.Errorf("index: schema version %d is not supported (want 2)", ix.SchemaVersion)
	}
	for i, d := range ix.Manifests {
		if err := checkDigest(d.Digest); err != nil {
			return nil, fmt.Errorf("index: manifest %d: %w", i+1, err)
		}
	}
	return &ix, nil
}

func parseConfig(b []byte) (*ConfigFile, error) {
	var c ConfigFile
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	for i, d := range c.RootFS.DiffIDs {
		if err := checkDigest(d); err != nil {
			return nil, fmt.Errorf("config: diff ID %d: %w", i+1, err)
		}
	}
	return &c, nil
}

// mediaTypeOf finds what a manifest-like document is when no one said:
// its own mediaType field, else an index if it has manifests.
func mediaTypeOf(b []byte) string {
	var probe struct {
		MediaType string          `json:"mediaType"`
		Manifests json.RawMessage `json:"manifests"`
		Config    json.RawMessage `json:"config"`
	}
	if json.Unmarshal(b, &probe) != nil {
		return ""
	}
	switch {
	case probe.MediaType != "":
		return probe.MediaType
	case probe.Manifests != nil:
		return MediaTypeOCIIndex
	case probe.Config != nil:
		return MediaTypeOCIManifest
	}
	return ""
}

package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Spec is an OCI runtime spec: the whole configuration of a sandbox.
type Spec = specs.Spec

// Load reads bundle/config.json and makes its root path absolute, relative
// to the bundle as the runtime spec says.
func Load(bundle string) (*Spec, error) {
	path := filepath.Join(bundle, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load bundle: %w", err)
	}
	s, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("load bundle: %s: %w", path, err)
	}
	if err := CheckVersion(s.Version); err != nil {
		return nil, fmt.Errorf("load bundle: %s: %w", path, err)
	}
	if s.Root == nil || s.Root.Path == "" {
		return nil, fmt.Errorf("load bundle: %s: root.path is missing", path)
	}
	if !filepath.IsAbs(s.Root.Path) {
		s.Root.Path = filepath.Join(bundle, s.Root.Path)
	}
	if s.Process == nil {
		return nil, fmt.Errorf("load bundle: %s: process is missing", path)
	}
	return s, nil
}

// CheckVersion accepts the runtime spec versions nook reads: 1.x.y, as
// runc does.
func CheckVersion(v string) error {
	if v == "" {
		return fmt.Errorf("ociVersion is missing")
	}
	major, rest, _ := strings.Cut(v, ".")
	if major != "1" || rest == "" {
		return fmt.Errorf("ociVersion %q is not supported (want 1.x, this nook knows %s)", v, specs.Version)
	}
	return nil
}

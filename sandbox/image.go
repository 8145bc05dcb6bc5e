package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// defaultPath is the PATH of an image whose Env has none (as docker
// sets it).
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// withImage returns a copy of c with the image's config filled in where c
// leaves it open: Args (Entrypoint, then Cmd or c.Args), the environment
// (the image's, then c.Env), Workdir and the user.
func (c *Config) withImage() (*Config, error) {
	if c.Image == nil {
		if c.Keep != "" {
			return nil, fieldErr("Keep", "only with Config.Image")
		}
		return c, nil
	}
	if c.Rootfs != "" {
		return nil, fieldErr("Rootfs", "not with Config.Image: give one root")
	}
	if c.Keep != "" && c.ReadOnly {
		return nil, fieldErr("Keep", "not with Config.ReadOnly: a read-only root has no upper directory to keep")
	}
	cf, err := c.Image.Config()
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", c.Image.ID, err)
	}
	ic := &cf.Config
	out := *c
	args := slices.Clone(ic.Entrypoint)
	if len(c.Args) > 0 {
		args = append(args, c.Args...)
	} else {
		args = append(args, ic.Cmd...)
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("image %s has no Entrypoint or Cmd: give a command", c.Image.ShortID())
	}
	out.Args = args
	if !c.ClearEnv {
		env := slices.Clone(ic.Env)
		if !slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, "PATH=") }) {
			env = append([]string{defaultPath}, env...)
		}
		// the image's environment, not nook's: what runs inside is the
		// image's program; ClearEnv (below) starts from nothing instead
		out.Env = mergeEnv(env, c.Env)
		out.ClearEnv = true
	}
	if c.Workdir == "" && ic.WorkingDir != "" {
		out.Workdir = ic.WorkingDir
	}
	if !c.UserSet && ic.User != "" {
		if out.UID, out.GID, err = c.Image.User(ic.User); err != nil {
			return nil, err
		}
	}
	return &out, nil
}

// overlayRoot is the mount on "/" that makes the image's layers the root
// (package container mounts it inside the sandbox; see its doc).
func (c *Config) overlayRoot() (specs.Mount, error) {
	opts := []string{"lowerdir=" + strings.Join(c.Image.LayerDirs(), ":")}
	if c.Keep != "" {
		keep, err := filepath.Abs(c.Keep)
		if err != nil {
			return specs.Mount{}, fieldErr("Keep", "%q: %w", c.Keep, err)
		}
		upper, work := filepath.Join(keep, "upper"), filepath.Join(keep, "work")
		for _, d := range []string{upper, work} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return specs.Mount{}, fieldErr("Keep", "%w", err)
			}
		}
		opts = append(opts, "upperdir="+upper, "workdir="+work)
	}
	return specs.Mount{Destination: "/", Type: "overlay", Source: "overlay", Options: opts}, nil
}

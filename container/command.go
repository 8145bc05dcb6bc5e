package container

import (
	"fmt"
	"os"
	"path"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// defaultPath is where the child looks for a command when the spec's
// environment has no PATH (as a shell does).
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// checkCommand finds process.args[0] in the root file system before
// anything is made, so that a rootfs without the command is a clear error
// rather than a sandbox that starts and fails. Paths are resolved as the
// sandbox will see them: inside the root, symlinks included. A command
// under a mount of the spec may come from that mount; it is left for the
// child to find.
func checkCommand(s *specs.Spec) error {
	if s.Root == nil || s.Root.Path == "" {
		return nil // the host view: its directories are mounts
	}
	name := s.Process.Args[0]
	var candidates []string
	if strings.Contains(name, "/") {
		p := name
		if !path.IsAbs(p) {
			p = path.Join(cwdOf(s), p)
		}
		candidates = []string{p}
	} else {
		for _, dir := range strings.Split(envPath(s.Process.Env), ":") {
			if dir == "" {
				dir = "."
			}
			if !path.IsAbs(dir) {
				dir = path.Join(cwdOf(s), dir)
			}
			candidates = append(candidates, path.Join(dir, name))
		}
	}
	for _, c := range candidates {
		if underMount(s.Mounts, c) {
			return nil
		}
		p, err := securejoin.SecureJoin(s.Root.Path, c)
		if err != nil {
			continue
		}
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return nil
		}
	}
	return &StartError{
		Err:      fmt.Errorf("exec %q: executable file not found in %s", name, s.Root.Path),
		ExitCode: 127,
	}
}

func cwdOf(s *specs.Spec) string {
	if s.Process.Cwd == "" {
		return "/"
	}
	return s.Process.Cwd
}

func envPath(env []string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], "PATH="); ok {
			return v
		}
	}
	return defaultPath
}

// underMount reports whether p is at or below a mount destination.
func underMount(mounts []specs.Mount, p string) bool {
	for _, m := range mounts {
		d := path.Clean(m.Destination)
		if d == "/" || p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

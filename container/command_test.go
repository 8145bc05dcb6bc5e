package container

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestCheckCommandLooksInsideTheRoot(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "bin"), 0o755)
	os.WriteFile(filepath.Join(root, "bin", "x"), nil, 0o755)
	// a symlink that points outside the root resolves inside it
	os.Symlink("/usr/bin/env", filepath.Join(root, "bin", "escape"))
	spec := func(arg string, env ...string) *specs.Spec {
		return &specs.Spec{
			Root:    &specs.Root{Path: root},
			Process: &specs.Process{Args: []string{arg}, Env: env},
			Mounts:  []specs.Mount{{Destination: "/opt/tools"}},
		}
	}
	for _, c := range []struct {
		spec *specs.Spec
		ok   bool
	}{
		{spec("x"), true},
		{spec("/bin/x"), true},
		{spec("x", "PATH=/nowhere"), false},
		{spec("y"), false},
		{spec("escape"), false},
		{spec("/opt/tools/z"), true}, // a mount may bring it
	} {
		err := checkCommand(c.spec)
		var se *StartError
		switch {
		case c.ok && err != nil:
			t.Errorf("%v: %v", c.spec.Process.Args, err)
		case !c.ok && (!errors.As(err, &se) || se.ExitCode != 127):
			t.Errorf("%v: err = %v, want a StartError with exit status 127", c.spec.Process.Args, err)
		}
	}
}

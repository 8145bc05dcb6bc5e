package testutil

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// RequireRoot skips the test unless it runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

var build struct {
	once sync.Once
	dir  string // the directory the binary was built into, removed by Main
	path string
	err  error
}

// Nook returns the path of the nook binary the tests run: $NOOK_BINARY
// when set, otherwise a static binary built once per test process from the
// module the test's working directory belongs to. The binary and its
// directory are world-readable and executable, under the system's temp
// directory, so that an unprivileged user can run it.
func Nook(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		if p := os.Getenv("NOOK_BINARY"); p != "" {
			build.path, build.err = filepath.Abs(p)
			if build.err == nil {
				_, build.err = os.Stat(build.path)
			}
			return
		}
		build.path, build.err = buildNook()
	})
	if build.err != nil {
		t.Fatalf("nook binary: %v", build.err)
	}
	return build.path
}

// ModuleRoot returns the directory of the go.mod the working directory is
// in (or under).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory (set NOOK_BINARY to a built nook)")
		}
		dir = parent
	}
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	for _, root := range []string{os.Getenv("GOROOT"), runtime.GOROOT(), "/usr/local/go"} {
		if root == "" {
			continue
		}
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "go"
}

func buildNook() (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	// /tmp rather than $TMPDIR, which may be private to root
	tmp := "/tmp"
	if _, err := os.Stat(tmp); err != nil {
		tmp = os.TempDir()
	}
	dir, err := os.MkdirTemp(tmp, "nook-test-bin-")
	if err != nil {
		return "", err
	}
	build.dir = dir
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(dir, "nook")
	// linked as the Makefile links it: with its entry point (-E), which
	// replays a plain nook exec before Go's runtime starts
	cmd := exec.Command(goTool(), "build", "-tags", "osusergo,netgo", "-ldflags=-E nook_rt0", "-o", out, "./cmd/nook")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/nook in %s: %v\n%s", root, err, b)
	}
	if err := os.Chmod(out, 0o755); err != nil {
		return "", err
	}
	return out, nil
}

// Main runs the tests of a package (call it from TestMain) and removes the
// nook binary Nook built, if it built one.
func Main(m *testing.M) int {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	return code
}

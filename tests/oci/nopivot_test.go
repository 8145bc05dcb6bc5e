package oci

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nookrun/nook/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// create --no-pivot builds the root as runc's --no-pivot does (moved onto
// / and chrooted into), and the global --debug says so at level debug in
// --log; the container runs the same either way, and delete leaves
// nothing.
func TestCreateNoPivot(t *testing.T) {
	oci(t)
	root := stateRoot(t)
	b := bundle(t, func(s *specs.Spec) { s.Process.Args = []string{"sh", "-c", "test -x /bin/busybox && echo ran"} })
	for _, c := range []struct {
		name    string
		flags   []string
		noPivot bool
	}{{"pivot", nil, false}, {"no-pivot", []string{"--no-pivot"}, true}} {
		t.Run(c.name, func(t *testing.T) {
			id := c.name + "-" + testutil.Mark(t)
			dir := t.TempDir()
			log, outPath := filepath.Join(dir, "log"), filepath.Join(dir, "out")
			out, err := os.Create(outPath)
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			// a file, not a pipe: init keeps create's stdout
			cmd := testutil.Command(t, append([]string{"--root", root, "--debug", "--log", log, "--log-format", "json", "create", "--bundle", b}, append(c.flags, id)...)...)
			cmd.Stdout, cmd.Stderr = out, out
			if err := cmd.Run(); err != nil {
				o, _ := os.ReadFile(outPath)
				t.Fatalf("create: %v\n%s", err, o)
			}
			t.Cleanup(func() { testutil.Run(t, "--root", root, "delete", "--force", id) })
			nook(t, "--root", root, "start", id)
			waitStatus(t, root, id, "stopped")
			nook(t, "--root", root, "delete", id)
			if o, _ := os.ReadFile(outPath); !strings.Contains(string(o), "ran") {
				t.Errorf("output %q, want the command's", o)
			}
			l, _ := os.ReadFile(log)
			if got := strings.Contains(string(l), "NoPivot"); got != c.noPivot {
				t.Errorf("--log mentions NoPivot: %v, want %v\n%s", got, c.noPivot, l)
			}
			if c.noPivot && !strings.Contains(string(l), `"level":"debug"`) {
				t.Errorf("--log %q: want the decision at level debug", l)
			}
		})
	}
}

package oci

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nookrun/nook/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A capability a spec names that cannot be granted (here: a name no
// capability has) is a warning and is left out, as the runtime spec says
// (config.md, "Linux Process": logged as a warning, runtimes SHOULD NOT
// fail) and runc and crun do: on stderr, or as a "warning" line in --log.
// The rest of the sets still apply. Given to nook's own --cap-add, the
// same name is the user's typo: an error naming the flag.
func TestUnknownCapability(t *testing.T) {
	oci(t)
	root := stateRoot(t)
	mark := testutil.Mark(t)
	withUnknown := func(args ...string) func(s *specs.Spec) {
		return func(s *specs.Spec) {
			s.Process.Args = args
			c := s.Process.Capabilities
			c.Bounding = []string{"CAP_CHOWN", "CAP_TEST"}
			c.Effective = []string{"CAP_CHOWN"}
			c.Permitted = []string{"CAP_CHOWN"}
			c.Inheritable, c.Ambient = nil, nil
		}
	}
	b := bundle(t, withUnknown("sh", "-c", "grep CapBnd /proc/self/status"))
	out, errOut, code := testutil.Run(t, "--root", root, "run", "--bundle", b, "cap-"+mark)
	if code != 0 || out != "CapBnd:\t0000000000000001\n" {
		t.Errorf("run --bundle: exit status %d, %q, want CAP_CHOWN alone in the bounding set\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "warning") || !strings.Contains(errOut, "bounding") || !strings.Contains(errOut, "CAP_TEST") {
		t.Errorf("run --bundle: stderr %q, want a warning naming the set and CAP_TEST", errOut)
	}

	// create, as containerd's shim calls it: the warning goes to the log
	log := filepath.Join(t.TempDir(), "log.json")
	id := "cap-create-" + mark
	detached(t, "--root", root, "--log", log, "--log-format", "json", "create", "--bundle", bundle(t, withUnknown("sleep", "300")), id)
	t.Cleanup(func() { testutil.Run(t, "--root", root, "delete", "--force", id) })
	l, _ := os.ReadFile(log)
	if !strings.Contains(string(l), `"level":"warning"`) || !strings.Contains(string(l), "CAP_TEST") {
		t.Errorf("create --log: %q, want a JSON warning naming CAP_TEST", l)
	}

	// exec --cap with an unknown name: the same warning, and it runs
	nook(t, "--root", root, "start", id)
	if out, errOut, code := testutil.Run(t, "--root", root, "exec", "--cap", "CAP_TEST", id, "true"); code != 0 || !strings.Contains(errOut, "CAP_TEST") {
		t.Errorf("exec --cap CAP_TEST: exit status %d, %q, stderr %q; want a warning and a run", code, out, errOut)
	}
	nook(t, "--root", root, "delete", "--force", id)

	if errOut := nookFails(t, "run", "--cap-add", "CAP_TEST", "--", "true"); !strings.Contains(errOut, "--cap-add") || !strings.Contains(errOut, "CAP_TEST") {
		t.Errorf("nook run --cap-add CAP_TEST: %q, want an error naming the flag and the name", errOut)
	}
}

package oci

import (
	"os"
	"strings"
	"testing"

	"github.com/nookrun/nook/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// process.apparmorProfile is applied at the command's exec, or refused:
// where AppArmor is not enabled (as runc and crun refuse it), and where
// the profile is not loaded. It is never skipped, which would leave the
// command unconfined.
func TestAppArmorProfile(t *testing.T) {
	oci(t)
	root := stateRoot(t)
	b := bundle(t, func(s *specs.Spec) {
		s.Process.Args = []string{"true"}
		s.Process.ApparmorProfile = "nook-test-no-such-profile"
	})
	errOut := nookFails(t, "--root", root, "run", "--bundle", b, "aa-"+testutil.Mark(t))
	if en, _ := os.ReadFile("/sys/module/apparmor/parameters/enabled"); strings.TrimSpace(string(en)) != "Y" {
		if !strings.Contains(errOut, "process.apparmorProfile") || !strings.Contains(errOut, "not enabled") {
			t.Errorf("without AppArmor: %q, want a refusal naming the field", errOut)
		}
		return
	}
	// with AppArmor, a profile that is not loaded fails the write
	if !strings.Contains(errOut, "apparmor") {
		t.Errorf("a profile that is not loaded: %q, want the failed write", errOut)
	}
}

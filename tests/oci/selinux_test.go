package oci

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nookrun/nook/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// selinuxEnabled is what nook asks: selinuxfs mounted, enforcing or
// permissive.
func selinuxEnabled() bool {
	b, err := os.ReadFile("/sys/fs/selinux/enforce")
	v := strings.TrimSpace(string(b))
	return err == nil && (v == "0" || v == "1")
}

// Without SELinux, process.selinuxLabel is refused naming the field, as
// runc refuses it (the command would run unlabelled), and nothing is
// left; linux.mountLabel is a warning in --log and the container runs,
// as runc and crun run it (runtime-tools' linux_mount_label sends one on
// any host). With SELinux, the labels are the host policy's business and
// this test only checks that a mount label does not stop a start.
func TestSELinuxLabels(t *testing.T) {
	oci(t)
	root := stateRoot(t)
	mark := testutil.Mark(t)
	if !selinuxEnabled() {
		b := bundle(t, func(s *specs.Spec) {
			s.Process.Args = []string{"true"}
			s.Process.SelinuxLabel = "system_u:system_r:container_t:s0:c1,c2"
		})
		errOut := nookFails(t, "--root", root, "run", "--bundle", b, "se-"+mark)
		if !strings.Contains(errOut, "process.selinuxLabel") || !strings.Contains(errOut, "not enabled") {
			t.Errorf("without SELinux: %q, want a refusal naming the field", errOut)
		}
	}
	log := filepath.Join(t.TempDir(), "log.json")
	b := bundle(t, func(s *specs.Spec) {
		s.Process.Args = []string{"echo", "ran"}
		s.Linux.MountLabel = "system_u:object_r:container_file_t:s0:c1,c2"
	})
	out := nook(t, "--root", root, "--log", log, "--log-format", "json", "run", "--bundle", b, "sm-"+mark)
	if out != "ran\n" {
		t.Errorf("with a mount label: %q, want the command's output", out)
	}
	if !selinuxEnabled() {
		l, _ := os.ReadFile(log)
		if !strings.Contains(string(l), `"level":"warning"`) || !strings.Contains(string(l), "linux.mountLabel") {
			t.Errorf("--log: %q, want a JSON warning naming linux.mountLabel", l)
		}
	}
}

package oci

import (
	"testing"

	"github.com/nookrun/nook/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A spec that denies every device, as runc's, containerd's and podman's
// do, still gets the standard nodes, as runc and crun give them:
// /dev/null, zero, full, random, urandom, tty and ptmx can be used; any
// other node cannot even be made.
func TestStandardDevices(t *testing.T) {
	oci(t)
	root := stateRoot(t)
	b := bundle(t, func(s *specs.Spec) {
		s.Process.Args = []string{"sh", "-c", `echo x >/dev/null && head -c 3 /dev/zero | wc -c && head -c 3 /dev/urandom | wc -c &&
			head -c 3 /dev/random | wc -c && (echo x >/dev/full; echo full $?) && mknod /tmp/mem c 1 1 || echo no mknod`}
	})
	out := nook(t, "--root", root, "run", "--bundle", b, "dev-"+testutil.Mark(t))
	if want := "3\n3\n3\nfull 1\nno mknod\n"; out != want {
		t.Errorf("in a container that denies every device: %q, want %q", out, want)
	}
}

package e2e

import (
	"os"
	"strings"
	"testing"

	"github.com/nookrun/nook/cgroups"
	"github.com/nookrun/nook/internal/testutil"
)

// rootIsInitramfs reports whether this process's "/" is the initial ramfs
// (rootfs): the first mount of the mount namespace, with no parent, which
// pivot_root(2) refuses to move.
func rootIsInitramfs(t *testing.T) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range testutil.Lines(string(b)) {
		head, tail, _ := strings.Cut(l, " - ")
		f := strings.Fields(head)
		if len(f) >= 5 && f[4] == "/" && f[0] == f[1] && strings.HasPrefix(tail, "rootfs ") {
			return true
		}
	}
	return false
}

// TestRootIsInitramfs: on a machine that runs from its initramfs, "/" is
// the initial ramfs and pivot_root is impossible (EINVAL). nook then does
// what runc's --no-pivot does: it moves the new root onto "/" and chroots
// into it, and --debug says so. make test-vm runs this test from its
// initramfs, before the switch to the real root; elsewhere it skips.
func TestRootIsInitramfs(t *testing.T) {
	testutil.RequireRoot(t)
	if !rootIsInitramfs(t) {
		t.Skip("/ is not the initial ramfs here; make test-vm runs this test from its initramfs (the v2 mode's e2e(initramfs) line)")
	}
	testutil.CheckNoLeaks(t)
	// the initramfs has a cgroup tree of its own, where the shared v2
	// parent is this test's to make and remove
	t.Cleanup(func() { cgroups.RemoveParent() })
	root := testutil.BusyboxRootfs(t)
	out, stderr, code := testutil.Run(t, "run", "--debug", "--rootfs", root, "--", "/bin/sh", "-c", "echo inside; ls /")
	if code != 0 || !testutil.HasLine(out, "inside") {
		t.Fatalf("--rootfs on an initramfs root: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	if !strings.Contains(stderr, "pivot_root") || !strings.Contains(stderr, "chroot") {
		t.Errorf("--debug does not say that the root was moved and chrooted into instead of pivoted:\n%s", stderr)
	}
	for _, l := range testutil.Lines(out)[1:] {
		if l == "modules" || l == "init" {
			t.Errorf("the initramfs's %s is visible in the sandbox's root:\n%s", l, out)
		}
	}
	t.Logf("--debug said:\n%s", stderr)

	// the host's view (its /bin and what else exists here)
	out, stderr, code = testutil.Run(t, "run", "--", "/bin/sh", "-c", "echo inside")
	if code != 0 || !testutil.HasLine(out, "inside") {
		t.Errorf("the host's view on an initramfs root: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
}

// TestNoPivot: --no-pivot moves the new root onto "/" and chroots into it
// even where pivot_root would work, and --debug says so.
func TestNoPivot(t *testing.T) {
	e2e(t)
	root := testutil.BusyboxRootfs(t)
	out, stderr, code := testutil.Run(t, "run", "--no-pivot", "--debug", "--rootfs", root, "--", "/bin/sh", "-c", "echo inside; ls /")
	if code != 0 || !testutil.HasLine(out, "inside") {
		t.Fatalf("--no-pivot: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	if !strings.Contains(stderr, "chroot") {
		t.Errorf("--debug does not say that the root was chrooted into:\n%s", stderr)
	}
	if got := nookLine(t, "run", "--no-pivot", "--", "sh", "-c", "test -e /home || echo no-home"); got != "no-home" {
		t.Errorf("--no-pivot, the host's view: %q, want no-home", got)
	}
}

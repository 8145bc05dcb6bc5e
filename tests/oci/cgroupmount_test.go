package oci

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"
	"github.com/nookrun/nook/cgroups"
	"github.com/nookrun/nook/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// rootOptions are the cgroup2 hierarchy's root options (nsdelegate,
// memory_recursiveprot...) as the super options of its mount at dir show
// them, sorted, without rw.
func rootOptions(t *testing.T, dir string) []string {
	t.Helper()
	ms, err := mountinfo.GetMounts(mountinfo.SingleEntryFilter(dir))
	if err != nil || len(ms) == 0 {
		t.Fatalf("the mount at %s: %v (%d found)", dir, err, len(ms))
	}
	var opts []string
	for _, o := range strings.Split(ms[len(ms)-1].VFSOptions, ",") {
		if o != "rw" && o != "ro" && o != "" {
			opts = append(opts, o)
		}
	}
	slices.Sort(opts)
	return opts
}

// setRootOptions sets the hierarchy's root options to opts, as any new
// cgroup2 mount in the initial cgroup namespace does: one made in a mount
// namespace of its own, which goes with it.
func setRootOptions(t *testing.T, opts []string) {
	t.Helper()
	mount := "mount -t cgroup2 cgroup2 \"$1\""
	if len(opts) > 0 {
		mount = "mount -t cgroup2 -o " + strings.Join(opts, ",") + " cgroup2 \"$1\""
	}
	if out, err := exec.Command("unshare", "-m", "sh", "-c", mount, "sh", t.TempDir()).CombinedOutput(); err != nil {
		t.Fatalf("set the cgroup2 root options to %q: %v\n%s", opts, err, out)
	}
}

// A container in the caller's cgroup namespace sees the host's cgroup2
// tree at /sys/fs/cgroup, read-only as its spec asks, and the hierarchy's
// root options stay as they were. A new cgroup2 mount made in the initial
// cgroup namespace would reset them to its own (on a systemd host:
// nsdelegate and memory_recursiveprot gone from /sys/fs/cgroup); nook binds
// the host's mount instead.
func TestCgroupMountKeepsRootOptions(t *testing.T) {
	oci(t)
	host := cgroups.UnifiedMount()
	if host == "" {
		t.Skip("no cgroup2 hierarchy mounted at its root here (pure v1, or not the initial cgroup namespace)")
	}
	was := rootOptions(t, host)
	if !slices.Contains(was, "nsdelegate") {
		// an option the container's mount would drop
		setRootOptions(t, append(slices.Clone(was), "nsdelegate"))
		t.Cleanup(func() { setRootOptions(t, was) })
	}
	want := rootOptions(t, host)
	b := bundle(t, func(s *specs.Spec) {
		withoutNS(specs.CgroupNamespace)(s)
		s.Process.Args = []string{"sh", "-c", "grep ' /sys/fs/cgroup ' /proc/self/mountinfo && test -e /sys/fs/cgroup/cgroup.procs"}
	})
	out := nook(t, "--root", stateRoot(t), "run", "--bundle", b, "cgmount-"+testutil.Mark(t))
	if f := strings.Fields(out); len(f) < 6 || f[4] != "/sys/fs/cgroup" || !strings.Contains(out, " - cgroup2 ") ||
		!slices.Contains(strings.Split(f[5], ","), "ro") {
		t.Errorf("the container's /sys/fs/cgroup: %q, want the cgroup2 tree, read-only", out)
	}
	if got := rootOptions(t, host); !slices.Equal(got, want) {
		t.Errorf("the cgroup2 root options after the container: %q, want %q as before", got, want)
	}
}

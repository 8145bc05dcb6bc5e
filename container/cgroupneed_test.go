package container_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nookrun/nook/container"
	"github.com/nookrun/nook/internal/testutil"
	"github.com/nookrun/nook/namespaces"
	"github.com/nookrun/nook/sandbox"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A sandbox gets a cgroup only for a reason: limits, accounting, an OCI
// container's pause and update, a pid namespace it shares, or device
// rules that something could get past without it. `nook run` with no
// limits has none of them; each change below brings one back, and says
// which.
func TestCgroupNeed(t *testing.T) {
	testutil.RequireRoot(t) // as root a sandbox has device rules to judge
	rootfs := t.TempDir()
	for _, d := range []string{"bin", "dev", "proc", "sys", "tmp"} {
		if err := os.Mkdir(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(rootfs, "bin/true"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	i64 := func(v int64) *int64 { return &v }
	for _, c := range []struct {
		name   string
		config func(c *sandbox.Config)
		spec   func(s *specs.Spec)
		opts   func(o *container.Options)
		want   string // "" for no cgroup, else a word of the reason
	}{
		{name: "host-view"},
		{name: "rootfs", config: func(c *sandbox.Config) { c.Rootfs = rootfs }},
		{name: "binds-and-tmpfs", config: func(c *sandbox.Config) {
			c.Rootfs = rootfs
			c.Binds = []sandbox.Bind{{Source: "/dev/null", Dest: "/null"}}
			c.Tmpfs = []sandbox.Tmpfs{{Dest: "/scratch"}}
		}},
		{name: "wall-time-limit", config: func(c *sandbox.Config) { c.Limits.WallTime = time.Second }},
		{name: "memory-limit", config: func(c *sandbox.Config) { c.Memory = 64 << 20 }, want: "linux.resources.memory"},
		{name: "pids-limit", config: func(c *sandbox.Config) { c.Pids = 10 }, want: "linux.resources.pids"},
		{name: "cpu-time-limit", config: func(c *sandbox.Config) { c.Limits.CPUTime = time.Second }, want: "CPU-time"},
		{name: "verdict", config: func(c *sandbox.Config) { c.Accounting = true }, want: "accounting"},
		{name: "shared-pid", config: func(c *sandbox.Config) { c.Share = []namespaces.Type{namespaces.PID} }, want: "pid namespace"},
		{name: "cap-mknod", config: func(c *sandbox.Config) { c.CapAdd = []string{"MKNOD"} }, want: "CAP_MKNOD"},
		{name: "cap-sys-admin", config: func(c *sandbox.Config) { c.CapAdd = []string{"SYS_ADMIN"} }, want: "CAP_SYS_ADMIN"},
		{name: "rootfs-without-nodev", config: func(c *sandbox.Config) { c.Rootfs = rootfs },
			spec: func(s *specs.Spec) { delete(s.Annotations, container.AnnotationRootNodev) }, want: "root is not nodev"},
		{name: "bind-without-nodev", spec: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "bind", Source: "/dev", Options: []string{"rbind"}})
		}, want: "(/x) is not nodev"},
		// rules that deny a node of nook's /dev or the ptys take nothing
		// away: every spec with device rules gets the standard nodes
		// after them (StandardDevices), as runc gives them
		{name: "rules-deny-a-node-of-dev", spec: func(s *specs.Spec) {
			s.Linux.Resources.Devices = append(s.Linux.Resources.Devices,
				specs.LinuxDeviceCgroup{Allow: false, Type: "c", Major: i64(1), Minor: i64(3), Access: "rwm"})
		}},
		{name: "rules-deny-a-pty", spec: func(s *specs.Spec) {
			s.Linux.Resources.Devices = slices.DeleteFunc(s.Linux.Resources.Devices, func(r specs.LinuxDeviceCgroup) bool {
				return r.Major != nil && *r.Major == 136
			})
		}},
		{name: "caps-unset", spec: func(s *specs.Spec) { s.Process.Capabilities = nil }, want: "process.capabilities"},
		{name: "cgroups-path", spec: func(s *specs.Spec) { s.Linux.CgroupsPath = "/nook-test-need" }, want: "cgroupsPath"},
		{name: "no-pivot", config: func(c *sandbox.Config) { c.NoPivot = true }, want: "pivot_root"},
		{name: "cgroup-always", opts: func(o *container.Options) { o.Cgroup = container.CgroupAlways }, want: "CgroupAlways"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := &sandbox.Config{Args: []string{"/bin/true"}}
			if c.config != nil {
				c.config(cfg)
			}
			s, err := cfg.Spec()
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Linux.Resources.Devices) == 0 {
				t.Fatalf("no device rules in nook run's spec: nothing to judge")
			}
			if c.spec != nil {
				c.spec(s)
			}
			o := cfg.Options()
			if c.opts != nil {
				c.opts(o)
			}
			ct, err := container.New("", s, o)
			if err != nil {
				t.Fatal(err)
			}
			n := ct.CgroupNeed()
			switch {
			case c.want == "" && n.Needed():
				t.Errorf("a cgroup for %q; want none", n.Reasons)
			case c.want == "" && !strings.HasPrefix(n.String(), "no cgroup: nothing needs one"):
				t.Errorf("--debug says %q", n)
			case c.want != "" && !strings.Contains(strings.Join(n.Reasons, "; "), c.want):
				t.Errorf("reasons %q; want one about %q", n.Reasons, c.want)
			}
			t.Log(n)
		})
	}
}

package container

import (
	"os"
	"strings"
	"testing"
	"time"

	mi "github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func minimal() *specs.Spec {
	return &specs.Spec{
		Process: &specs.Process{Args: []string{"/bin/true"}},
		Root:    &specs.Root{Path: "/"},
		Linux:   &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: "mount"}, {Type: "pid"}}},
	}
}

func TestCompileErrorsNameTheField(t *testing.T) {
	for _, c := range []struct {
		name  string
		edit  func(*specs.Spec)
		field string
	}{
		{"unknown namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
		}, "linux.namespaces"},
		{"masked paths without a mount namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = s.Linux.Namespaces[1:]
			s.Linux.MaskedPaths = []string{"/proc/kcore"}
		}, "linux.maskedPaths"},
		{"read-only root without a mount namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = s.Linux.Namespaces[1:]
			s.Root.Readonly = true
		}, "root.readonly"},
		{"relative destination", func(s *specs.Spec) { s.Mounts = []specs.Mount{{Destination: "tmp", Type: "tmpfs"}} }, "mounts[0]"},
		{"missing bind source", func(s *specs.Spec) {
			s.Mounts = []specs.Mount{{Destination: "/x", Type: "bind", Source: "/nonexistent"}}
		}, "mounts[0]"},
		{"unknown rlimit", func(s *specs.Spec) { s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_BOGUS"}} }, "process.rlimits"},
		{"unknown propagation", func(s *specs.Spec) { s.Linux.RootfsPropagation = "sideways" }, "linux.rootfsPropagation"},
		{"hostname without uts", func(s *specs.Spec) { s.Hostname = "x" }, "hostname"},
		{"offsets without time namespace", func(s *specs.Spec) {
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: 1}}
		}, "linux.timeOffsets"},
		{"console too large", func(s *specs.Spec) {
			s.Process.Terminal = true
			s.Process.ConsoleSize = &specs.Box{Height: 70000, Width: 80}
		}, "process.consoleSize"},
		// (an unknown name is a warning: TestUnknownCapability)
		{"effective capability not permitted", func(s *specs.Spec) {
			s.Process.Capabilities = &specs.LinuxCapabilities{Effective: []string{"CAP_CHOWN"}}
		}, "process.capabilities"},
	} {
		s := minimal()
		c.edit(s)
		_, err := New("", s, nil)
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: err = %v, want one naming %s", c.name, err, c.field)
		}
	}
}

func TestValidate(t *testing.T) {
	s := minimal()
	s.Process.Args = nil
	if err := Validate(s); err == nil || !strings.Contains(err.Error(), "process.args") {
		t.Errorf("no args: %v", err)
	}
	s = minimal()
	s.Root.Path = "/nonexistent"
	if err := Validate(s); err == nil || !strings.Contains(err.Error(), "root.path") {
		t.Errorf("missing root: %v", err)
	}
}

func TestMountOptions(t *testing.T) {
	flags, attr, prop, data, err := mountOptions([]string{"rbind", "ro", "nosuid", "rslave", "mode=755", "size=1m"})
	if err != nil {
		t.Fatal(err)
	}
	if flags == 0 || attr == 0 || prop == 0 {
		t.Errorf("flags=%#x attr=%#x prop=%#x", flags, attr, prop)
	}
	if data != "mode=755,size=1m" {
		t.Errorf("data = %q", data)
	}
}

func TestPivotImpossibleFor(t *testing.T) {
	for _, c := range []struct {
		line string
		want bool
	}{
		{"1 1 0:2 / / rw - rootfs rootfs rw", true},
		{"23 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw", false},
		{"23 1 254:0 /srv/jail / rw,relatime - ext4 /dev/vda rw", true},
		{"40 23 0:33 / /proc rw - proc proc rw", false},
		{"garbage", false},
	} {
		why := ""
		// a line that is not mountinfo is no mount, and no reason
		if ms, err := mi.GetMountsFromReader(strings.NewReader(c.line), nil); err == nil && len(ms) == 1 {
			why = pivotImpossibleFor(ms[0])
		}
		if got := why != ""; got != c.want {
			t.Errorf("%q: impossible %v, want %v (%q)", c.line, got, c.want, why)
		}
	}
	t.Logf("this host: %q", pivotImpossible())
}

func TestOverlayRootData(t *testing.T) {
	m := specs.Mount{Destination: "/", Type: "overlay", Source: "overlay", Options: []string{"lowerdir=/s/a:/s/b"}}
	for _, c := range []struct {
		name             string
		readonly, userns bool
		lowers           string
		opts, scratch    string
	}{
		{"writable: a tmpfs upper", false, false, "/oldroot/s/a\x00/oldroot/s/b\x00", "upperdir=/upper/upper,workdir=/upper/work", "/upper"},
		{"read-only: no upper", true, false, "/oldroot/s/a\x00/oldroot/s/b\x00", "", ""},
		{"user namespace: userxattr", true, true, "/oldroot/s/a\x00/oldroot/s/b\x00", "userxattr", ""},
	} {
		ov, err := overlayRootData(m, c.readonly, c.userns, "/oldroot", "")
		if err != nil || strings.Join(ov.Lowers, "\x00")+"\x00" != c.lowers || ov.Options != c.opts || ov.Scratch != c.scratch {
			t.Errorf("%s: %+v, %v; want %q, %q, %q", c.name, ov, err, c.lowers, c.opts, c.scratch)
		}
	}
	// an upper of the caller's (--keep) is a host path, and no scratch
	keep := m
	keep.Options = append(keep.Options, "upperdir=/k/upper", "workdir=/k/work")
	ov, err := overlayRootData(keep, false, false, "/oldroot", "")
	if err != nil || ov.Scratch != "" || ov.Options != "upperdir=/oldroot/k/upper,workdir=/oldroot/k/work" {
		t.Errorf("kept upper: %+v, %v", ov, err)
	}
	// one read-only layer gets the base root's empty second one
	one := m
	one.Options = []string{"lowerdir=/s/a"}
	if ov, err := overlayRootData(one, true, false, "/oldroot", ""); err != nil || strings.Join(ov.Lowers, ":") != "/oldroot/s/a:/empty" {
		t.Errorf("one read-only layer: %+v, %v", ov, err)
	}
	// more than overlayfs stacks
	long := m
	long.Options = []string{"lowerdir=" + strings.Repeat("/x:", 600) + "/y"}
	if _, err := overlayRootData(long, false, false, "/oldroot", ""); err == nil || !strings.Contains(err.Error(), "too many layers") {
		t.Errorf("601 layers: %v, want an error about too many layers", err)
	}
}

func TestMemoryLimited(t *testing.T) {
	limit := int64(64 << 20)
	for _, c := range []struct {
		r    *specs.LinuxResources
		want bool
	}{
		{nil, false},
		{&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &limit}}, false},
		{&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}, true},
		{&specs.LinuxResources{Unified: map[string]string{"memory.high": "1000000"}}, true},
	} {
		if got := memoryLimited(c.r); got != c.want {
			t.Errorf("memoryLimited(%+v) = %v, want %v", c.r, got, c.want)
		}
	}
}

// The network namespace New starts making before the spec compiles is
// dropped when the spec turns out wrong: no descriptor of it stays open.
func TestNewDropsThePremadeNetNS(t *testing.T) {
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	before := fds()
	for i := 0; i < 20; i++ {
		s := minimal()
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "network"}, specs.LinuxNamespace{Type: "bogus"})
		if _, err := New("premade", s, nil); err == nil {
			t.Fatal("New accepted an unknown namespace type")
		}
		s = minimal()
		s.Process.Args = nil
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "network"})
		if _, err := New("premade", s, nil); err == nil {
			t.Fatal("New accepted a spec without a command")
		}
	}
	// a namespace made on meanwhile would show by now
	time.Sleep(200 * time.Millisecond)
	if after := fds(); after > before {
		t.Errorf("%d descriptors open after New failed 40 times, %d before", after, before)
	}
}

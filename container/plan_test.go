package container

import (
	"strings"
	"testing"

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
		{"no mount namespace", func(s *specs.Spec) { s.Linux.Namespaces = s.Linux.Namespaces[1:] }, "linux.namespaces"},
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
		{"unknown capability", func(s *specs.Spec) {
			s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: []string{"CAP_BOGUS"}}
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

func TestPivotImpossibleFrom(t *testing.T) {
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
		if got := pivotImpossibleFrom(c.line) != ""; got != c.want {
			t.Errorf("%q: impossible %v, want %v (%q)", c.line, got, c.want, pivotImpossibleFrom(c.line))
		}
	}
	t.Logf("this host: %q", pivotImpossible())
}

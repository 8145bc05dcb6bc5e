package sandbox

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/nookrun/nook/container"
	"github.com/nookrun/nook/namespaces"
	"github.com/nookrun/nook/spec"
	"github.com/nookrun/nook/verdict"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "512": 512, "4k": 4096, "64m": 64 << 20, "2G": 2 << 30, "1t": 1 << 40, "10mb": 10 << 20} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "1x", "k", "1.5m", "99999999999t"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
}

func TestParseBind(t *testing.T) {
	b, err := ParseBind("/src:/dst:ro")
	if err != nil || b != (Bind{Source: "/src", Dest: "/dst", ReadOnly: true}) {
		t.Fatalf("got %+v, %v", b, err)
	}
	for _, bad := range []string{"/src", ":/dst", "/src:", "/a:/b:rx", "/a:/b:ro:x"} {
		_, err := ParseBind(bad)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", bad)) || strings.Contains(err.Error(), "--") {
			t.Errorf("ParseBind(%q) = %v, want an error that quotes it and names no flag", bad, err)
		}
	}
}

func TestParseTmpfs(t *testing.T) {
	tm, err := ParseTmpfs("/scratch:size=1m")
	if err != nil || tm != (Tmpfs{Dest: "/scratch", Size: 1 << 20}) {
		t.Fatalf("got %+v, %v", tm, err)
	}
	for _, bad := range []string{"", ":size=1m", "/x:size=big", "/x:mode=1"} {
		_, err := ParseTmpfs(bad)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", bad)) || strings.Contains(err.Error(), "--") {
			t.Errorf("ParseTmpfs(%q) = %v, want an error that quotes it and names no flag", bad, err)
		}
	}
}

func TestParseUser(t *testing.T) {
	if u, g, err := ParseUser("1000"); err != nil || u != 1000 || g != 1000 {
		t.Errorf("1000 -> %d:%d %v", u, g, err)
	}
	if u, g, err := ParseUser("1:2"); err != nil || u != 1 || g != 2 {
		t.Errorf("1:2 -> %d:%d %v", u, g, err)
	}
	for _, bad := range []string{"", "root", "1:x", "-1"} {
		if _, _, err := ParseUser(bad); err == nil {
			t.Errorf("ParseUser(%q) accepted", bad)
		}
	}
}

func TestParseRlimit(t *testing.T) {
	r, err := ParseRlimit("nofile=64:128")
	if err != nil || r.Type != "RLIMIT_NOFILE" || r.Soft != 64 || r.Hard != 128 {
		t.Fatalf("got %+v, %v", r, err)
	}
	r, err = ParseRlimit("RLIMIT_FSIZE=1m")
	if err != nil || r.Soft != 1<<20 || r.Hard != 1<<20 {
		t.Fatalf("got %+v, %v", r, err)
	}
	r, err = ParseRlimit("core=unlimited")
	if err != nil || r.Soft != ^uint64(0) {
		t.Fatalf("got %+v, %v", r, err)
	}
	for _, bad := range []string{"nofile", "bogus=1", "nofile=10:5", "nofile=x", "=1"} {
		_, err := ParseRlimit(bad)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", bad)) || strings.Contains(err.Error(), "--") {
			t.Errorf("ParseRlimit(%q) = %v, want an error that quotes it and names no flag", bad, err)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"2": 2 * time.Second, "1.5": 1500 * time.Millisecond, "500ms": 500 * time.Millisecond, "1m": time.Minute} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "-1", "-2s", "soon"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
}

func TestSpecDefaultsAreTheHostViewWithSecretsHidden(t *testing.T) {
	s, err := (&Config{Args: []string{"true"}}).Spec()
	if err != nil {
		t.Fatal(err)
	}
	if s.Root.Path != "" || !s.Root.Readonly {
		t.Errorf("root = %+v, want the read-only host view", s.Root)
	}
	if s.Hostname != "nook" {
		t.Errorf("hostname = %q", s.Hostname)
	}
	masked := strings.Join(s.Linux.MaskedPaths, " ")
	for _, p := range []string{"/etc/shadow", "/etc/sudoers", "/proc/kcore"} {
		if !strings.Contains(masked, p) {
			t.Errorf("%s not masked", p)
		}
	}
	if !s.Process.NoNewPrivileges || s.Linux.Seccomp == nil || s.Process.Capabilities == nil {
		t.Errorf("security defaults missing: nnp=%v seccomp=%v caps=%v", s.Process.NoNewPrivileges, s.Linux.Seccomp != nil, s.Process.Capabilities != nil)
	}
	for _, m := range s.Mounts {
		for _, hidden := range []string{"/home", "/root", "/run", "/var", "/srv"} {
			if m.Destination == hidden {
				t.Errorf("%s is mounted", hidden)
			}
		}
	}
}

func TestSpecErrorsNameTheField(t *testing.T) {
	for _, c := range []struct {
		cfg   Config
		field string
	}{
		{Config{}, "Config.Args"},
		{Config{Args: []string{"x"}, Rootfs: "/nonexistent"}, "Config.Rootfs"},
		{Config{Args: []string{"x"}, Rootfs: "/etc/passwd"}, "Config.Rootfs"},
		{Config{Args: []string{"x"}, Workdir: "rel"}, "Config.Workdir"},
		{Config{Args: []string{"x"}, Binds: []Bind{{Source: "/tmp", Dest: "/a"}, {Source: "/nonexistent", Dest: "/x"}}}, "Config.Binds[1]"},
		{Config{Args: []string{"x"}, Binds: []Bind{{Source: "/tmp", Dest: "rel"}}}, "Config.Binds[0]"},
		{Config{Args: []string{"x"}, Tmpfs: []Tmpfs{{Dest: "rel"}}}, "Config.Tmpfs[0]"},
		{Config{Args: []string{"x"}, Tmpfs: []Tmpfs{{Dest: "/x", Size: -1}}}, "Config.Tmpfs[0]"},
		{Config{Args: []string{"x"}, CapAdd: []string{"CAP_BOGUS"}}, "Config.CapAdd"},
		{Config{Args: []string{"x"}, CapDrop: []string{"CAP_BOGUS"}}, "Config.CapDrop"},
		{Config{Args: []string{"x"}, Seccomp: "/nonexistent.json"}, "Config.Seccomp"},
		{Config{Args: []string{"x"}, Env: []string{"A=1", "NOEQUALS"}}, "Config.Env[1]"},
		{Config{Args: []string{"x"}, Share: []namespaces.Type{namespaces.Mount}}, "Config.Share"},
		{Config{Args: []string{"x"}, Unshare: []namespaces.Type{"bogus"}}, "Config.Unshare"},
		{Config{Args: []string{"x"}, Share: []namespaces.Type{namespaces.UTS}, Domainname: "d"}, "Config.Domainname"},
		{Config{Args: []string{"x"}, Share: []namespaces.Type{namespaces.UTS}, Hostname: "h"}, "Config.Hostname"},
		{Config{Args: []string{"x"}, GIDMap: []specs.LinuxIDMapping{{Size: 1}}}, "Config.GIDMap"},
		{Config{Args: []string{"x"}, Unshare: []namespaces.Type{namespaces.User}, UIDMap: []specs.LinuxIDMapping{{Size: 0}}}, "Config.UIDMap[0]"},
		{Config{Args: []string{"x"}, TimeOffsets: map[string]specs.LinuxTimeOffset{"boottime": {Secs: 1}}}, "Config.TimeOffsets"},
		{Config{Args: []string{"x"}, Unshare: []namespaces.Type{namespaces.Time}, TimeOffsets: map[string]specs.LinuxTimeOffset{"uptime": {Secs: 1}}}, "Config.TimeOffsets"},
		{Config{Args: []string{"x"}, Memory: -1}, "Config.Memory"},
		{Config{Args: []string{"x"}, MemorySwap: 1 << 20}, "Config.MemorySwap"},
		{Config{Args: []string{"x"}, Memory: 2 << 20, MemorySwap: 1 << 20}, "Config.MemorySwap"},
		{Config{Args: []string{"x"}, Memory: 2 << 20, MemorySwap: -2}, "Config.MemorySwap"},
		{Config{Args: []string{"x"}, Pids: -1}, "Config.Pids"},
		{Config{Args: []string{"x"}, CPUs: -1}, "Config.CPUs"},
		{Config{Args: []string{"x"}, CPUs: 0.001}, "Config.CPUs"},
		{Config{Args: []string{"x"}, CPUs: math.NaN()}, "Config.CPUs"},
		{Config{Args: []string{"x"}, CPUs: math.Inf(1)}, "Config.CPUs"},
		{Config{Args: []string{"x"}, CPUWeight: 10001}, "Config.CPUWeight"},
		{Config{Args: []string{"x"}, Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_BOGUS"}}}, "Config.Rlimits[0]"},
		{Config{Args: []string{"x"}, Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 2, Hard: 1}}}, "Config.Rlimits[0]"},
		{Config{Args: []string{"x"}, Limits: container.Limits{WallTime: -time.Second}}, "Config.Limits.WallTime"},
	} {
		_, err := c.cfg.Spec()
		fe := spec.AsFieldError(err)
		if fe == nil || fe.Field != c.field {
			t.Errorf("%+v: err = %v, want a *spec.FieldError for %s", c.cfg, err, c.field)
			continue
		}
		if strings.Contains(err.Error(), "--") {
			t.Errorf("%+v: err = %v names a flag; the library names fields", c.cfg, err)
		}
	}
}

// The typed limits become linux.resources as the kernel takes them; a
// Resources of the caller's is the base and stays as it was.
func TestSpecResourcesFromTypedLimits(t *testing.T) {
	base := &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0"}}
	cfg := &Config{Args: []string{"x"}, Memory: 64 << 20, MemorySwap: -1, Pids: 32, CPUs: 1.5, CPUWeight: 10000, Resources: base}
	s, err := cfg.Spec()
	if err != nil {
		t.Fatal(err)
	}
	r := s.Linux.Resources
	if r.Memory == nil || *r.Memory.Limit != 64<<20 || *r.Memory.Swap != -1 {
		t.Errorf("memory = %+v", r.Memory)
	}
	if r.Pids == nil || *r.Pids.Limit != 32 {
		t.Errorf("pids = %+v", r.Pids)
	}
	if *r.CPU.Quota != 150000 || *r.CPU.Period != 100000 || *r.CPU.Shares != 262144 || r.CPU.Cpus != "0" {
		t.Errorf("cpu = quota %d period %d shares %d cpus %q", *r.CPU.Quota, *r.CPU.Period, *r.CPU.Shares, r.CPU.Cpus)
	}
	if base.CPU.Quota != nil || base.Memory != nil {
		t.Errorf("the caller's Resources changed: %+v", base)
	}
	for w, shares := range map[uint64]uint64{1: 2, 100: 2597, 10000: 262144} {
		s, err := (&Config{Args: []string{"x"}, CPUWeight: w}).Spec()
		if err != nil || *s.Linux.Resources.CPU.Shares != shares {
			t.Errorf("CPUWeight %d: shares %v, %v; want %d", w, s.Linux.Resources.CPU.Shares, err, shares)
		}
	}
	l := (&Config{Memory: 1 << 20, Pids: 7, Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_FSIZE", Soft: 4096, Hard: 4096}},
		Limits: container.Limits{CPUTime: 2 * time.Second, WallTime: 5 * time.Second}}).VerdictLimits()
	if l != (verdict.Limits{CPUTimeMS: 2000, WallTimeMS: 5000, MemoryBytes: 1 << 20, Pids: 7, FileSize: 4096}) {
		t.Errorf("VerdictLimits = %+v", l)
	}
}

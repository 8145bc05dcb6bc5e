package sandbox

import (
	"strings"
	"testing"
	"time"
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
		if err == nil || !strings.Contains(err.Error(), "--bind") {
			t.Errorf("ParseBind(%q) = %v, want an error naming --bind", bad, err)
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
		if err == nil || !strings.Contains(err.Error(), "--tmpfs") {
			t.Errorf("ParseTmpfs(%q) = %v, want an error naming --tmpfs", bad, err)
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
		if err == nil || !strings.Contains(err.Error(), "--rlimit") {
			t.Errorf("ParseRlimit(%q) = %v, want an error naming --rlimit", bad, err)
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

func TestSpecErrorsNameTheFlag(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		flag string
	}{
		{Config{Args: []string{"x"}, Rootfs: "/nonexistent"}, "--rootfs"},
		{Config{Args: []string{"x"}, Workdir: "rel"}, "--workdir"},
		{Config{Args: []string{"x"}, Binds: []Bind{{Source: "/nonexistent", Dest: "/x"}}}, "--bind"},
		{Config{Args: []string{"x"}, Tmpfs: []Tmpfs{{Dest: "rel"}}}, "--tmpfs"},
		{Config{Args: []string{"x"}, CapAdd: []string{"CAP_BOGUS"}}, "--cap-add"},
		{Config{Args: []string{"x"}, Seccomp: "/nonexistent.json"}, "--seccomp"},
	} {
		_, err := c.cfg.Spec()
		if err == nil || !strings.Contains(err.Error(), c.flag) {
			t.Errorf("%+v: err = %v, want one naming %s", c.cfg, err, c.flag)
		}
	}
}

package caps

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestNormalize(t *testing.T) {
	for _, in := range []string{"CAP_CHOWN", "cap_chown", "chown", "CHOWN", "Cap_Chown", " chown "} {
		got, err := Normalize(in)
		if err != nil || got != "CAP_CHOWN" {
			t.Errorf("Normalize(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "CAP_", "CAP_NOPE", "ALL", "sys-admin", "CAP_CAP_CHOWN"} {
		if _, err := Normalize(in); err == nil {
			t.Errorf("Normalize(%q): no error", in)
		}
	}
	_, err := Normalize("CAP_BOGUS")
	if err == nil || !strings.Contains(err.Error(), "CAP_BOGUS") {
		t.Errorf("error does not name the capability: %v", err)
	}
}

// Numbers from include/uapi/linux/capability.h.
func TestNumbers(t *testing.T) {
	for name, n := range map[string]int{
		"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3,
		"CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8,
		"CAP_NET_BIND_SERVICE": 10, "CAP_NET_RAW": 13, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19,
		"CAP_SYS_ADMIN": 21, "CAP_MKNOD": 27, "CAP_AUDIT_WRITE": 29, "CAP_SETFCAP": 31,
		"CAP_SYSLOG": 34, "CAP_BPF": 39, "CAP_CHECKPOINT_RESTORE": 40,
	} {
		got, err := Number(name)
		if err != nil || got != n {
			t.Errorf("Number(%s) = %d, %v; want %d", name, got, err, n)
		}
	}
}

func TestDefaultMask(t *testing.T) {
	d := Default()
	if len(d) != 14 {
		t.Fatalf("Default has %d entries: %v", len(d), d)
	}
	m, err := Mask(d)
	if err != nil {
		t.Fatal(err)
	}
	// CHOWN(0) DAC_OVERRIDE(1) FOWNER(3) FSETID(4) KILL(5) SETGID(6)
	// SETUID(7) SETPCAP(8) NET_BIND_SERVICE(10) NET_RAW(13) SYS_CHROOT(18)
	// MKNOD(27) AUDIT_WRITE(29) SETFCAP(31)
	const want = 1<<0 | 1<<1 | 1<<3 | 1<<4 | 1<<5 | 1<<6 | 1<<7 | 1<<8 | 1<<10 | 1<<13 | 1<<18 | 1<<27 | 1<<29 | 1<<31
	if m != want {
		t.Errorf("default mask %#x, want %#x", m, uint64(want))
	}
	if m != 0xa80425fb {
		t.Errorf("default mask %#x, want 0xa80425fb", m) // the value runc/Docker containers show as CapBnd
	}
	if !slices.Equal(Names(m), d) {
		t.Errorf("Names(Mask(Default())) = %v, want %v", Names(m), d)
	}
	s := DefaultSets()
	if s.Inheritable != 0 || s.Ambient != 0 || s.Bounding != want || s.Effective != want || s.Permitted != want {
		t.Errorf("DefaultSets = %+v", s)
	}
	if err := s.Validate(); err != nil {
		t.Error(err)
	}
}

func TestAll(t *testing.T) {
	all := All()
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		t.Skip(err)
	}
	last, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if last > 40 {
		last = 40 // highest the capability package names
	}
	if len(all) != last+1 {
		t.Errorf("All() has %d entries, cap_last_cap says %d: %v", len(all), last+1, all)
	}
	if all[0] != "CAP_CHOWN" || all[21] != "CAP_SYS_ADMIN" {
		t.Errorf("All() order: %v", all)
	}
	m, err := Mask(all)
	if err != nil {
		t.Fatal(err)
	}
	if m != (uint64(1)<<uint(last+1))-1 {
		t.Errorf("All mask %#x", m)
	}
}

func TestFromSpec(t *testing.T) {
	s, skipped := FromSpec(&specs.LinuxCapabilities{
		Bounding:    []string{"CAP_CHOWN", "sys_admin", "Net_Raw"},
		Effective:   []string{"chown"},
		Permitted:   []string{"CAP_CHOWN", "CAP_SYS_ADMIN"},
		Inheritable: []string{"CAP_SYS_ADMIN"},
		Ambient:     []string{"CAP_SYS_ADMIN"},
	})
	if skipped != nil {
		t.Fatalf("skipped %v", skipped)
	}
	want := Sets{
		Bounding:    1<<0 | 1<<21 | 1<<13,
		Effective:   1 << 0,
		Permitted:   1<<0 | 1<<21,
		Inheritable: 1 << 21,
		Ambient:     1 << 21,
	}
	if s != want {
		t.Errorf("FromSpec = %+v, want %+v", s, want)
	}
	if err := s.Validate(); err != nil {
		t.Error(err)
	}
	// the runtime spec: a value that cannot be granted is a warning,
	// not a failure; the rest of the set still applies
	s, skipped = FromSpec(&specs.LinuxCapabilities{Permitted: []string{"CAP_CHOWN", "CAP_FLY"}})
	if s != (Sets{Permitted: 1 << 0}) {
		t.Errorf("with an unknown name: %+v", s)
	}
	if len(skipped) != 1 || skipped[0] != (Skipped{"permitted", "CAP_FLY", "unknown capability"}) {
		t.Errorf("skipped = %v", skipped)
	} else if got := skipped[0].String(); !strings.Contains(got, "CAP_FLY") || !strings.Contains(got, "permitted") {
		t.Errorf("skipped reads %q", got)
	}
	if s, skipped := FromSpec(nil); skipped != nil || s != (Sets{}) {
		t.Errorf("FromSpec(nil) = %+v, %v", s, skipped)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		s    Sets
		want string
	}{
		{Sets{Effective: 1, Permitted: 0}, "effective"},
		{Sets{Bounding: 0, Inheritable: 2}, "inheritable capabilities not in the bounding"},
		{Sets{Bounding: 2, Permitted: 2, Inheritable: 0, Ambient: 2}, "ambient"},
		{Sets{Bounding: 2, Permitted: 0, Inheritable: 2, Ambient: 2}, "ambient"},
		{Sets{Bounding: 1 << 63}, "does not know"},
	} {
		err := tc.s.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want error containing %q", tc.s, err, tc.want)
		}
	}
}

func TestAdjust(t *testing.T) {
	all := All()
	allBut := func(drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(all), func(s string) bool { return slices.Contains(drop, s) })
	}
	for _, tc := range []struct {
		name            string
		base, add, drop []string
		want            []string
	}{
		{"none", Default(), nil, nil, Default()},
		{"add", []string{"CAP_CHOWN"}, []string{"sys_admin"}, nil, []string{"CAP_CHOWN", "CAP_SYS_ADMIN"}},
		{"drop", []string{"CAP_CHOWN", "CAP_KILL"}, nil, []string{"kill"}, []string{"CAP_CHOWN"}},
		{"dedup+order", []string{"CAP_KILL", "CAP_CHOWN"}, []string{"chown", "CAP_KILL"}, nil, []string{"CAP_CHOWN", "CAP_KILL"}},
		{"add wins", []string{"CAP_CHOWN"}, []string{"CAP_KILL"}, []string{"CAP_KILL"}, []string{"CAP_CHOWN", "CAP_KILL"}},
		{"drop ALL", Default(), []string{"NET_ADMIN"}, []string{"all"}, []string{"CAP_NET_ADMIN"}},
		{"drop ALL only", Default(), nil, []string{"ALL"}, nil},
		{"add ALL", nil, []string{"ALL"}, nil, all},
		{"add ALL drop", Default(), []string{"ALL"}, []string{"CAP_SYS_ADMIN", "mknod"}, allBut("CAP_SYS_ADMIN", "CAP_MKNOD")},
		{"add ALL drop ALL", Default(), []string{"ALL"}, []string{"ALL"}, all},
	} {
		got, err := Adjust(tc.base, tc.add, tc.drop)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, tc := range [][3][]string{
		{{"CAP_NOPE"}, nil, nil},
		{nil, {"CAP_NOPE"}, nil},
		{nil, nil, {"CAP_NOPE"}},
	} {
		_, err := Adjust(tc[0], tc[1], tc[2])
		if err == nil || !strings.Contains(err.Error(), "CAP_NOPE") {
			t.Errorf("Adjust(%v): error %v", tc, err)
		}
	}
}

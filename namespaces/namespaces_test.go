package namespaces

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseListAcceptsProcAndOCINames(t *testing.T) {
	got, err := ParseList("net,mnt, pid ,network,user,time,cgroup,ipc,uts")
	if err != nil {
		t.Fatal(err)
	}
	want := []Type{Network, Mount, PID, Network, User, Time, Cgroup, IPC, UTS}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("[%d] = %s, want %s", i, got[i], want[i])
		}
	}
}

func TestParseRejectsUnknownTypesByName(t *testing.T) {
	_, err := ParseList("net,bogus")
	if err == nil || !strings.Contains(err.Error(), `"bogus"`) {
		t.Fatalf("err = %v, want one naming bogus", err)
	}
}

func TestParseIDMap(t *testing.T) {
	m, err := ParseIDMap("0:100000:65536")
	if err != nil || m != (specs.LinuxIDMapping{ContainerID: 0, HostID: 100000, Size: 65536}) {
		t.Fatalf("got %+v, %v", m, err)
	}
	for _, bad := range []string{"", "0:1", "0:1:2:3", "a:1:1", "0:1:0", "-1:0:1", "0:0:4294967296"} {
		if _, err := ParseIDMap(bad); err == nil {
			t.Errorf("ParseIDMap(%q) accepted", bad)
		}
	}
}

func TestParseTimeOffsets(t *testing.T) {
	got, err := ParseTimeOffsets("monotonic=-1.5,boottime=86400")
	if err != nil {
		t.Fatal(err)
	}
	if m := got["monotonic"]; m.Secs != -2 || m.Nanosecs != 500000000 {
		t.Errorf("monotonic = %+v, want -2 s + 0.5e9 ns", m)
	}
	if b := got["boottime"]; b.Secs != 86400 || b.Nanosecs != 0 {
		t.Errorf("boottime = %+v", b)
	}
	for _, bad := range []string{"realtime=1", "monotonic", "boottime=x"} {
		if _, err := ParseTimeOffsets(bad); err == nil {
			t.Errorf("ParseTimeOffsets(%q) accepted", bad)
		}
	}
}

func TestFormatIDMaps(t *testing.T) {
	s := FormatIDMaps([]specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}})
	if s != "0 1000 1\n1 100000 65536\n" {
		t.Fatalf("got %q", s)
	}
}

// What Of costs: nook exec calls it twice (the target's namespaces and
// its own).
func BenchmarkOf(b *testing.B) {
	for b.Loop() {
		if _, err := Of(0); err != nil {
			b.Fatal(err)
		}
	}
}

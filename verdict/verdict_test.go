package verdict

import (
	"bytes"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nookrun/nook/cgroups"
	"golang.org/x/sys/unix"
)

func TestJudge(t *testing.T) {
	lim := Limits{CPUTimeMS: 1000, WallTimeMS: 5000, MemoryBytes: 64 << 20}
	for _, c := range []struct {
		name string
		r    *Run
		err  error
		want string
	}{
		{"clean exit", &Run{}, nil, OK},
		{"non-zero exit", &Run{ExitCode: 3}, nil, RE},
		{"signal", &Run{ExitCode: 139, Signal: syscall.SIGSEGV}, nil, SG},
		{"killed for cpu", &Run{ExitCode: 137, Signal: syscall.SIGKILL, Killed: "cpu-time", CPU: 1010 * time.Millisecond}, nil, TO},
		{"killed for wall", &Run{ExitCode: 137, Signal: syscall.SIGKILL, Killed: "wall-time", Wall: 5 * time.Second}, nil, TO},
		{"ended within the extra time", &Run{CPU: 1200 * time.Millisecond}, nil, TO},
		{"oom", &Run{ExitCode: 137, Signal: syscall.SIGKILL, Cgroup: &cgroups.Stats{OOMKills: 1}}, nil, ML},
		{"output limit", &Run{ExitCode: 153, Signal: unix.SIGXFSZ}, nil, OL},
		{"not found", nil, startError{127}, RE},
		{"sandbox failed", nil, errors.New("mount proc: permission denied"), XX},
	} {
		v := Judge(c.r, c.err, lim)
		if v.Status != c.want {
			t.Errorf("%s: status %s, want %s (%s)", c.name, v.Status, c.want, v.Message)
		}
		if c.want != OK && v.Message == "" {
			t.Errorf("%s: no message", c.name)
		}
	}
}

func TestMemoryPeakFromTheCgroup(t *testing.T) {
	r := &Run{Cgroup: &cgroups.Stats{MemoryPeak: 10 << 20, HaveMemoryPeak: true, PidsPeak: 7, HavePidsPeak: true}}
	r.Rusage.Maxrss = 1234
	v := Judge(r, nil, Limits{})
	if v.MaxRSSKiB != 10<<10 || v.PidsPeak == nil || *v.PidsPeak != 7 {
		t.Fatalf("max_rss_kib=%d pids_peak=%v", v.MaxRSSKiB, v.PidsPeak)
	}
}

func TestWriteIsolate(t *testing.T) {
	v := Judge(&Run{ExitCode: 137, Signal: syscall.SIGKILL, Killed: "cpu-time", CPU: 1005 * time.Millisecond, Wall: 1100 * time.Millisecond}, nil, Limits{CPUTimeMS: 1000})
	var b bytes.Buffer
	if err := v.WriteIsolate(&b); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"time:1.005", "time-wall:1.100", "exitsig:9", "killed:1", "status:TO"} {
		if !strings.Contains(b.String(), line+"\n") {
			t.Errorf("no %q in\n%s", line, b.String())
		}
	}
}

// startError stands in for container.StartError, which verdict does not
// import.
type startError struct{ code int }

func (e startError) Error() string   { return `exec "x": executable file not found` }
func (e startError) ExitStatus() int { return e.code }

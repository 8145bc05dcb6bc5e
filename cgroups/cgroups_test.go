package cgroups

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nookrun/nook/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestDetectMode(t *testing.T) {
	mode := DetectMode()
	t.Logf("mode: %v", mode)
	var st unix.Statfs_t
	if err := unix.Statfs(Root, &st); err != nil {
		if mode != Unavailable {
			t.Fatalf("statfs %s: %v, but mode %v", Root, err, mode)
		}
		return
	}
	if (st.Type == unix.CGROUP2_SUPER_MAGIC) != (mode == Unified) {
		t.Fatalf("%s fs type %#x, mode %v", Root, st.Type, mode)
	}
}

func TestCreateDestroyLeavesNothing(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	name := uniqueName(t)
	m, err := Create(name, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Destroy() })
	if w := m.Warnings(); len(w) > 0 {
		t.Logf("warnings: %q", w)
	}
	paths := m.Paths()
	if len(paths) == 0 {
		t.Fatal("no paths")
	}
	t.Logf("paths: %v", paths)
	if d := m.UnifiedDir(); (m.Mode() == Unified) != (d != "") || (d != "" && d != paths[0]) {
		t.Errorf("UnifiedDir = %q in mode %v with paths %v", d, m.Mode(), paths)
	}
	for _, p := range paths {
		if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
			t.Errorf("%s: %v", p, err)
		}
	}
	files := m.ProcsFiles()
	if len(files) != len(paths) {
		t.Errorf("ProcsFiles %v vs Paths %v", files, paths)
	}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
	if m.Mode() == Unified {
		if want := filepath.Join(v2Parent, name); !slices.Equal(paths, []string{want}) {
			t.Errorf("paths %v, want [%s]", paths, want)
		}
	} else {
		// Only the hierarchies nook needs (no limits: no cpuset,
		// devices), nothing in any other mounted hierarchy.
		for _, p := range paths {
			ctrl := filepath.Base(filepath.Dir(p))
			if !slices.Contains([]string{"freezer", "memory", "pids", "cpu", "cpuacct", "cpu,cpuacct", "cpuacct,cpu"}, ctrl) {
				t.Errorf("unexpected hierarchy %s", p)
			}
		}
	}
	if s, err := m.Stats(); err != nil {
		t.Errorf("Stats: %v", err)
	} else if s.PidsCurrent != 0 || s.CPUUsage != 0 {
		t.Errorf("fresh cgroup stats: %+v", s)
	}
	if err := m.Kill(); err != nil {
		t.Errorf("Kill on empty: %v", err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if l := leftovers(name); len(l) > 0 {
		t.Fatalf("left behind: %v", l)
	}
	if err := m.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
	var nilm *Manager
	if err := nilm.Destroy(); err != nil {
		t.Errorf("nil Destroy: %v", err)
	}
	if err := m.Add(os.Getpid()); err == nil {
		t.Error("Add after Destroy succeeded")
	}
}

func TestCreateExistingName(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	m := create(t, nil, nil)
	_, err := Create(m.Name(), nil, nil)
	if !errors.Is(err, os.ErrExist) {
		t.Fatalf("second Create: %v, want ErrExist", err)
	}
	for _, p := range m.Paths() {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("first sandbox damaged: %v", err)
		}
	}
}

func TestBadInput(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	v2 := DetectMode() == Unified
	for _, tc := range []struct {
		name    string
		r       *specs.LinuxResources
		best    bool
		is      error  // errors.Is
		msg     string // in the message
		warning string // BestEffort: in a warning
	}{
		{name: "memory 1 byte", r: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1)}}, is: ErrInvalid, msg: "cgroups: memory limit: 1 bytes is below"},
		{name: "memory 1 byte besteffort", best: true, r: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1)}}, is: ErrInvalid, msg: "memory limit"},
		{name: "memory 0", r: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](0)}}, is: ErrInvalid, msg: "memory limit"},
		{name: "memory below min", r: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](MinMemoryLimit - 1)}}, is: ErrInvalid, msg: "memory limit"},
		{name: "swap below memory", r: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](64 << 20), Swap: ptr[int64](32 << 20)}}, is: ErrInvalid, msg: "memory+swap limit"},
		{name: "swap without memory", r: &specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: ptr[int64](32 << 20)}}, is: ErrInvalid, msg: "memory+swap limit"},
		{name: "pids -2", r: &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](-2)}}, is: ErrInvalid, msg: "pids limit"},
		{name: "shares 1", r: &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](1)}}, is: ErrInvalid, msg: "cpu shares"},
		{name: "quota 10", r: &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](10)}}, is: ErrInvalid, msg: "cpu quota"},
		{name: "device type", r: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Type: "x"}}}, is: ErrInvalid, msg: "devices[0]"},
		{name: "unified slash", r: &specs.LinuxResources{Unified: map[string]string{"../x": "1"}}, is: ErrInvalid, msg: "unified"},
		{name: "cpuset 999", r: &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "999"}}, msg: `cgroups: cpuset cpus "999"`},
		{name: "cpuset 999 besteffort", best: true, r: &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "999"}}, warning: `cpuset cpus "999"`},
		{name: "unsupported field", r: &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](10)}}, is: ErrNotSupported, msg: "blockIO"},
		{name: "unsupported field besteffort", best: true, r: &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](10)}}, warning: "blockIO"},
		{name: "swappiness 101", r: &specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: ptr[uint64](101)}}, is: ErrInvalid, msg: "memory swappiness"},
		// v1 only
		{name: "unified on v1", r: &specs.LinuxResources{Unified: map[string]string{"memory.high": "1000000"}}, is: ErrNotSupported, msg: "unified"},
		{name: "unified on v1 besteffort", best: true, r: &specs.LinuxResources{Unified: map[string]string{"memory.high": "1000000"}}, warning: "unified"},
		{name: "device hole in wildcard", best: true, r: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
			{Allow: false, Access: "rwm"},
			{Allow: true, Type: "c", Access: "rwm"},
			{Allow: false, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "w"},
		}}, is: ErrInvalid, msg: "cannot override \"w\" of the earlier rule allow c *:* rwm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strings.HasPrefix(tc.name, "unified on v1") && v2 {
				t.Skip("other cgroup version")
			}
			name := uniqueName(t)
			m, err := Create(name, tc.r, &Options{BestEffort: tc.best})
			if l := leftovers(name); err != nil && len(l) > 0 {
				t.Errorf("failed Create left %v", l)
			}
			if tc.warning != "" {
				if err != nil {
					t.Fatalf("BestEffort Create: %v", err)
				}
				defer func() {
					if err := m.Destroy(); err != nil {
						t.Error(err)
					}
				}()
				w := m.Warnings()
				if !slices.ContainsFunc(w, func(s string) bool { return strings.Contains(s, tc.warning) }) {
					t.Fatalf("warnings %q lack %q", w, tc.warning)
				}
				t.Logf("warnings: %q", w)
				// A dropped limit must not keep a process
				// from joining (e.g. an empty v1 cpuset).
				p := spawn(t, m, shell("true"))
				if err := p.wait(t, 10*time.Second); err != nil {
					t.Error(err)
				}
				return
			}
			if err == nil {
				m.Destroy()
				t.Fatalf("Create succeeded, want error")
			}
			t.Logf("error: %v", err)
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q lacks %q", err, tc.msg)
			}
		})
	}
	if _, err := Create("../x", nil, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad name: %v", err)
	}
}

func TestOpen(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	m := create(t, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](20)}}, nil)
	p := spawn(t, m, shell("sleep 1000"))
	o, err := Open(m.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.Paths(), m.Paths()) {
		t.Errorf("Open paths %v, Create paths %v", o.Paths(), m.Paths())
	}
	eventually(t, 10*time.Second, "the sleep", func() bool { return stats(t, o).PidsCurrent >= 1 })
	if err := o.Destroy(); err != nil {
		t.Fatal(err)
	}
	p.wait(t, 10*time.Second)
	if l := leftovers(m.Name()); len(l) > 0 {
		t.Errorf("left %v", l)
	}
	if _, err := Open(m.Name()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open after Destroy: %v", err)
	}
}

func TestCreateRollback(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	name := uniqueName(t)
	// Memory and pids apply fine, then cpuset fails: nothing may remain.
	_, err := Create(name, &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr[int64](64 << 20)},
		Pids:   &specs.LinuxPids{Limit: ptr[int64](10)},
		CPU:    &specs.LinuxCPU{Cpus: "0", Mems: "999"},
	}, nil)
	if err == nil {
		t.Fatal("Create with mems 999 succeeded")
	}
	t.Logf("error: %v", err)
	if l := leftovers(name); len(l) > 0 {
		t.Fatalf("left behind: %v", l)
	}
}

func TestMemoryLimitOOM(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	const limit = 32 << 20
	m := create(t, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](limit), Swap: ptr[int64](limit)}}, nil)
	p := spawn(t, m, helper("memhog"))
	err := p.wait(t, 60*time.Second)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("memory hog: %v, want killed by SIGKILL; stderr: %s", err, p.stderr.String())
	}
	s := stats(t, m)
	t.Logf("stats: %+v", s)
	if s.OOMKills < 1 {
		t.Errorf("OOMKills = %d, want >= 1", s.OOMKills)
	}
	if s.HaveMemoryPeak && (s.MemoryPeak < limit/2 || s.MemoryPeak > limit+(1<<20)) {
		t.Errorf("MemoryPeak = %d, want about %d", s.MemoryPeak, limit)
	}
	checkAccount(t, m, s, true)
}

func TestPidsLimit(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	const limit = 8
	m := create(t, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](limit)}}, nil)
	p := spawn(t, m, shell(`i=0; while [ $i -lt 100 ]; do sleep 1000 & i=$((i+1)); done; echo forked $i`))
	err := p.wait(t, 30*time.Second)
	if err == nil || strings.Contains(p.stdout.String(), "forked 100") {
		t.Fatalf("fork loop was not stopped: %v, stdout %q", err, p.stdout.String())
	}
	t.Logf("shell: %v: %s", err, strings.TrimSpace(p.stderr.String()))
	s := stats(t, m)
	t.Logf("stats: %+v", s)
	if s.PidsCurrent == 0 || s.PidsCurrent > limit {
		t.Errorf("PidsCurrent = %d, want 1..%d", s.PidsCurrent, limit)
	}
	if s.HavePidsPeak && s.PidsPeak != limit {
		t.Errorf("PidsPeak = %d, want %d", s.PidsPeak, limit)
	}
	checkAccount(t, m, s, false)
	// The sleeps outlived the shell; Kill must get them all.
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	// pids.current counts the killed sleeps until init reaps them.
	eventually(t, 10*time.Second, "pids.current 0", func() bool { return stats(t, m).PidsCurrent == 0 })
}

func TestCPUAccounting(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	m := create(t, nil, nil)
	p := spawn(t, m, helper("spin"))
	eventually(t, 20*time.Second, "200ms of CPU time", func() bool {
		return stats(t, m).CPUUsage >= 200*time.Millisecond
	})
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	p.wait(t, 10*time.Second)
	s := stats(t, m)
	t.Logf("stats: %+v", s)
	if u, err := m.CPUUsage(); err != nil || u != s.CPUUsage {
		t.Errorf("CPUUsage() = %v, %v; Stats says %v", u, err, s.CPUUsage)
	}
	checkAccount(t, m, s, true)
	if d := s.CPUUser + s.CPUSystem - s.CPUUsage; s.CPUUser <= 0 || d > 5*time.Millisecond || d < -5*time.Millisecond {
		t.Errorf("user %v + system %v vs usage %v", s.CPUUser, s.CPUSystem, s.CPUUsage)
	}
}

func TestCPUQuota(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	m := create(t, &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](10000), Period: ptr[uint64](100000), Shares: ptr[uint64](512)}}, nil)
	p := spawn(t, m, helper("spin"))
	start := time.Now()
	time.Sleep(time.Second)
	s := stats(t, m)
	wall := time.Since(start)
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	p.wait(t, 10*time.Second)
	t.Logf("%v CPU in %v wall at a 10%% quota", s.CPUUsage, wall)
	// 10% of the wall time, plus one period of slack (more under software
	// emulation, where the throttling timer fires late)
	if max := wall/10 + testutil.Slack(100*time.Millisecond); s.CPUUsage > max {
		t.Errorf("CPU usage %v > %v: quota not enforced", s.CPUUsage, max)
	}
	if s.CPUUsage < 20*time.Millisecond {
		t.Errorf("CPU usage %v: the spinner hardly ran", s.CPUUsage)
	}
}

func TestKillForked(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	m := create(t, nil, nil)
	// Children, grandchildren in a subshell, and a fork loop that keeps
	// making new processes while Kill runs.
	p := spawn(t, m, shell(`sleep 1000 & sleep 1000 & (sleep 1000 & sleep 1000 & wait) & (while :; do /bin/true; done) & wait`))
	var before []int
	eventually(t, 10*time.Second, "the process tree", func() bool {
		before, _ = m.pids()
		return len(before) >= 7
	})
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	if after, err := m.pids(); err != nil || len(after) > 0 {
		t.Fatalf("after Kill: %v %v", after, err)
	}
	err := p.wait(t, 10*time.Second)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("shell: %v, want killed", err)
	}
	for _, pid := range before {
		if alive(pid, m.Name()) {
			t.Errorf("pid %d still alive in the sandbox", pid)
		}
	}
	// pids.current counts the orphans until init reaps them.
	eventually(t, 10*time.Second, "pids.current 0", func() bool { return stats(t, m).PidsCurrent == 0 })
}

// alive reports whether pid is a live (not zombie) process in sandbox name.
func alive(pid int, name string) bool {
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	if i := strings.LastIndexByte(string(st), ')'); i > 0 && len(st) > i+2 && st[i+2] == 'Z' {
		return false
	}
	cg, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	return err == nil && strings.Contains(string(cg), name)
}

func TestDestroyKillsRunning(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	name := uniqueName(t)
	m, err := Create(name, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](256 << 20)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Destroy() })
	p := spawn(t, m, shell(`sleep 1000 & (sleep 1000 &) ; sleep 1000`))
	// the shell forks the first sleep and the subshell (which forks the
	// second sleep and exits) and execs the last one itself
	eventually(t, 10*time.Second, "3 processes", func() bool { n, _ := m.pids(); return len(n) >= 3 })
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	p.wait(t, 10*time.Second)
	if l := leftovers(name); len(l) > 0 {
		t.Fatalf("left behind: %v", l)
	}
}

func TestCpuset(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	m := create(t, &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0"}}, nil)
	p := spawn(t, m, shell(`grep Cpus_allowed_list /proc/self/status`))
	if err := p.wait(t, 10*time.Second); err != nil {
		t.Fatal(err, p.stderr.String())
	}
	if got := strings.Fields(p.stdout.String()); len(got) != 2 || got[1] != "0" {
		t.Fatalf("child sees %q, want Cpus_allowed_list: 0", p.stdout.String())
	}
}

// TestDevices checks device rules through Create: the v1 devices controller,
// or on v2 the eBPF program (see also devices_test.go).
func TestDevices(t *testing.T) {
	requireRoot(t)
	if DetectMode() == Unified {
		requireDeviceBPF(t)
	}
	t.Parallel()
	m := create(t, &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "rw"}, // /dev/null
	}}, nil)
	p := spawn(t, m, shell(`echo x > /dev/null && echo null-ok; head -c1 /dev/zero >/dev/null 2>&1 || echo zero-denied`))
	if err := p.wait(t, 10*time.Second); err != nil {
		t.Fatal(err, p.stderr.String())
	}
	if got := strings.Fields(p.stdout.String()); !slices.Equal(got, []string{"null-ok", "zero-denied"}) {
		t.Fatalf("got %q", got)
	}
}

func TestUnifiedV2(t *testing.T) {
	requireRoot(t)
	if DetectMode() != Unified {
		t.Skip("cgroup v2 only")
	}
	t.Parallel()
	m := create(t, &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: ptr[int64](64 << 20)},
		CPU:     &specs.LinuxCPU{Shares: ptr[uint64](1024)},
		Unified: map[string]string{"memory.high": "33554432", "pids.max": "42"},
	}, nil)
	dir := m.Paths()[0]
	for file, want := range map[string]string{"memory.high": "33554432", "pids.max": "42", "memory.max": "67108864", "cpu.weight": "100"} {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil || strings.TrimSpace(string(b)) != want {
			t.Errorf("%s = %q (%v), want %s", file, b, err, want)
		}
	}
	if _, err := Create(uniqueName(t), &specs.LinuxResources{Unified: map[string]string{"nosuch.thing": "1"}}, nil); !errors.Is(err, ErrNotSupported) {
		t.Errorf("unknown controller: %v", err)
	}
}

func TestParallelLifecycles(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	errs := make(chan error, 16)
	for i := 0; i < cap(errs); i++ {
		go func() {
			m, err := Create(uniqueName(t), &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](100)}}, nil)
			if err != nil {
				errs <- err
				return
			}
			cmd := exec.Command("/bin/sh", "-c", "read x")
			stdin, _ := cmd.StdinPipe()
			if err := cmd.Start(); err != nil {
				m.Destroy()
				errs <- err
				return
			}
			err = m.Add(cmd.Process.Pid)
			stdin.Close()
			cmd.Wait()
			if derr := m.Destroy(); err == nil {
				err = derr
			}
			errs <- err
		}()
	}
	for i := 0; i < cap(errs); i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// A Minimal cgroup without limits has no v1 hierarchy at all: nothing
// would hold its processes. Track keeps the freezer's, so that Kill finds
// them (a sandbox that shares the host's pid namespace has no other way).
func TestMinimalTrack(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	m := create(t, nil, &Options{Minimal: true, Track: true})
	if len(m.ProcsFiles()) == 0 {
		t.Fatalf("Minimal with Track: no cgroup to hold the processes (%s host)", m.Mode())
	}
	p := spawn(t, m, shell(`sleep 1000 & sleep 1000 & wait`))
	eventually(t, 10*time.Second, "the process tree", func() bool {
		pids, _ := m.pids()
		return len(pids) >= 3
	})
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	if after, err := m.pids(); err != nil || len(after) > 0 {
		t.Fatalf("after Kill: %v %v", after, err)
	}
	p.wait(t, 10*time.Second)
	if m.Mode() != Unified {
		if _, ok := m.ctrl["freezer"]; !ok {
			t.Errorf("Track: no freezer directory (controllers %v)", m.ctrl)
		}
	}
}

// checkAccount: Account reads what Stats reads of what a verdict uses
// (the CPU time too where nothing runs any more), and nothing else.
func checkAccount(t *testing.T, m *Manager, s *Stats, ended bool) {
	t.Helper()
	a, err := m.Account()
	if err != nil {
		t.Fatalf("Account: %v", err)
	}
	want := Stats{MemoryPeak: s.MemoryPeak, HaveMemoryPeak: s.HaveMemoryPeak, OOMKills: s.OOMKills,
		PidsPeak: s.PidsPeak, HavePidsPeak: s.HavePidsPeak, CPUUsage: a.CPUUsage}
	if ended {
		want.CPUUsage = s.CPUUsage
	} else if a.MemoryPeak >= s.MemoryPeak {
		// the cgroup's processes still run: its peak may have grown
		// since Stats read it, never shrunk (seen on v1: 4 KiB more)
		want.MemoryPeak = a.MemoryPeak
	}
	if *a != want {
		t.Errorf("Account = %+v, want %+v (Stats %+v)", *a, want, *s)
	}
}

// With Options.Log, Create lists what it did on the host, in order, for a
// caller that will do it again itself: on cgroup v1 device rules are a
// mkdir and file writes, on v2 a mkdir, a device program and the shared
// parent's controllers to find enabled; a limit set through
// opencontainers/cgroups leaves the list incomplete.
func TestCreateLogsWhatItDid(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	rules := []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}, {Allow: true, Type: "c", Major: ptr(int64(1)), Minor: ptr(int64(3)), Access: "rwm"}}
	name := uniqueName(t)
	m, err := Create(name, &specs.LinuxResources{Devices: rules}, &Options{Minimal: true, Log: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Destroy()
	l := m.Log()
	if m.Mode() == Unified {
		// the leaf, its device program, and the parent's controllers
		leaf := filepath.Join(v2Parent, name)
		if l == nil || !l.Complete || !slices.Equal(l.Mkdirs, []string{leaf}) || len(l.Writes) != 0 ||
			len(l.Programs) != 1 || l.Programs[0].Path != leaf || len(l.Programs[0].Data)%8 != 0 ||
			len(l.Checks) != 1 || l.Checks[0].Path != v2Parent+"/cgroup.subtree_control" ||
			!strings.Contains(string(l.Checks[0].Data), "memory") {
			t.Errorf("v2: log %+v", l)
		}
	} else {
		checkLogV1(t, l, name)
	}

	limit := int64(64)
	m2, err := Create(uniqueName(t), &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &limit}}, &Options{Minimal: true, Log: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Destroy()
	if l := m2.Log(); l == nil || l.Complete {
		t.Errorf("a pids limit: log %+v, want an incomplete one", l)
	}
	if m3, err := Create(uniqueName(t), nil, nil); err == nil {
		defer m3.Destroy()
		if m3.Log() != nil {
			t.Error("a log kept without Options.Log")
		}
	}
}

func checkLogV1(t *testing.T, l *Log, name string) {
	t.Helper()
	dir := filepath.Join(Root, "devices", "nook-"+name)
	want := &Log{Mkdirs: []string{dir}, Complete: true, Writes: []LogWrite{
		{Path: dir + "/devices.deny", Data: []byte("a")},
		{Path: dir + "/devices.deny", Data: []byte("a")},
		{Path: dir + "/devices.allow", Data: []byte("c 1:3 rwm")},
	}}
	if !slices.Equal(l.Mkdirs, want.Mkdirs) || !l.Complete || len(l.Writes) != len(want.Writes) {
		t.Fatalf("log %+v, want %+v", l, want)
	}
	for i, w := range l.Writes {
		if w.Path != want.Writes[i].Path || string(w.Data) != string(want.Writes[i].Data) {
			t.Errorf("write %d: %s %q, want %s %q", i, w.Path, w.Data, want.Writes[i].Path, want.Writes[i].Data)
		}
	}
}

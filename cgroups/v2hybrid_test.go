package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestV2CodeOnHybridTree runs the cgroup v2 code against the v2 tree of a
// hybrid host (/sys/fs/cgroup/unified). That tree has no controllers (they
// are all bound to v1), so this covers the parent set-up, Add, cgroup.kill,
// cpu.stat, Destroy and the "controller not available" errors, but no v2
// limit. It is not parallel: it swaps package variables, which is safe only
// while no other test runs (parallel tests wait for sequential ones).
func TestV2CodeOnHybridTree(t *testing.T) {
	requireRoot(t)
	if DetectMode() != Hybrid {
		t.Skip("needs a hybrid host")
	}
	uni := Root + "/unified"
	oldDetect, oldRoot, oldParent := detectMode, v2Root, v2Parent
	detectMode, v2Root, v2Parent = func() Mode { return Unified }, uni, uni+"/nook-test"
	t.Cleanup(func() {
		_ = unix.Rmdir(v2Parent)
		detectMode, v2Root, v2Parent = oldDetect, oldRoot, oldParent
	})

	m := create(t, nil, nil)
	if _, err := os.Stat(filepath.Join(m.Paths()[0], "cgroup.kill")); err != nil {
		t.Skip("kernel without cgroup.kill")
	}
	if p := m.Paths(); !slices.Equal(p, []string{filepath.Join(v2Parent, m.Name())}) {
		t.Fatalf("paths %v", p)
	}
	if d := m.UnifiedDir(); d != m.Paths()[0] {
		t.Errorf("UnifiedDir = %q, want %q", d, m.Paths()[0])
	}
	w := m.Warnings()
	t.Logf("warnings: %q", w)
	if len(w) != 2 || !strings.Contains(w[0], "memory controller not available") || !strings.Contains(w[1], "pids controller not available") {
		t.Errorf("warnings %q", w)
	}

	p := spawn(t, m, shell(`sleep 1000 & (sleep 1000 &); while :; do :; done`))
	// the shell, its two sleeps; and 50ms of CPU, which a slow machine
	// (the VM harness's emulated one) may spend before the shell forks
	eventually(t, 10*time.Second, "3 processes", func() bool { n, _ := m.pids(); return len(n) >= 3 })
	eventually(t, 10*time.Second, "CPU time", func() bool { return stats(t, m).CPUUsage > 50*time.Millisecond })
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	p.wait(t, 10*time.Second)
	if n, err := m.pids(); len(n) > 0 || err != nil {
		t.Errorf("after Kill: %v %v", n, err)
	}
	s := stats(t, m)
	t.Logf("stats: %+v", s)
	if s.CPUUser == 0 {
		t.Errorf("no user time: %+v", s)
	}

	// Destroy with live processes (cgroup.kill from Destroy).
	m2 := create(t, &specs.LinuxResources{Unified: map[string]string{"cgroup.max.descendants": "3"}}, nil)
	if b, err := os.ReadFile(filepath.Join(m2.Paths()[0], "cgroup.max.descendants")); err != nil || strings.TrimSpace(string(b)) != "3" {
		t.Errorf("unified cgroup.max.descendants: %q %v", b, err)
	}
	p2 := spawn(t, m2, shell(`sleep 1000`))
	if err := m2.Destroy(); err != nil {
		t.Fatal(err)
	}
	p2.wait(t, 10*time.Second)

	// Limits need controllers this tree does not have.
	for _, r := range []*specs.LinuxResources{
		{Memory: &specs.LinuxMemory{Limit: ptr[int64](64 << 20)}},
		{Pids: &specs.LinuxPids{Limit: ptr[int64](10)}},
		{CPU: &specs.LinuxCPU{Quota: ptr[int64](10000)}},
		{CPU: &specs.LinuxCPU{Cpus: "0"}},
		{Unified: map[string]string{"memory.high": "1000000"}},
		// Rollback after the device program was attached.
		{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}, Pids: &specs.LinuxPids{Limit: ptr[int64](10)}},
	} {
		name := uniqueName(t)
		m, err := Create(name, r, nil)
		if err == nil {
			_ = m.Destroy()
		}
		if !errors.Is(err, ErrNotSupported) {
			t.Errorf("%+v: %v, want ErrNotSupported", r, err)
		} else {
			t.Logf("%v", err)
		}
		if l := leftovers(name); len(l) > 0 {
			t.Errorf("left %v", l)
		}
	}
	mb := create(t, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](64 << 20)}}, &Options{BestEffort: true})
	if w := mb.Warnings(); !slices.ContainsFunc(w, func(s string) bool { return strings.Contains(s, "memory limit") }) {
		t.Errorf("BestEffort warnings %q", w)
	}
	// Allow-all device rules need no enforcement.
	ma := create(t, &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}}, nil)
	if ids := progIDs(t, ma.Paths()[0]); len(ids) != 0 {
		t.Errorf("allow-all attached programs %v", ids)
	}

	// Device rules: an eBPF program, which this tree accepts without any
	// controller (see also TestAttachDevices).
	t.Run("devices", func(t *testing.T) {
		requireDeviceBPF(t)
		md := create(t, &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
			{Allow: false, Access: "rwm"},
			{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "rw"}, // /dev/null
		}}, nil)
		if ids := progIDs(t, md.Paths()[0]); len(ids) != 1 {
			t.Errorf("programs attached: %v", ids)
		}
		p := spawn(t, md, shell(`echo x > /dev/null && echo null-ok; head -c1 /dev/zero >/dev/null 2>&1 || echo zero-denied`))
		if err := p.wait(t, 10*time.Second); err != nil {
			t.Fatal(err, p.stderr.String())
		}
		if got := strings.Fields(p.stdout.String()); !slices.Equal(got, []string{"null-ok", "zero-denied"}) {
			t.Fatalf("got %q", got)
		}
	})
}

func TestRemoveParentOnHybridTree(t *testing.T) {
	requireRoot(t)
	if DetectMode() != Hybrid {
		t.Skip("needs a hybrid host")
	}
	uni := Root + "/unified"
	oldDetect, oldRoot, oldParent := detectMode, v2Root, v2Parent
	detectMode, v2Root, v2Parent = func() Mode { return Unified }, uni, uni+"/nook-test2"
	t.Cleanup(func() {
		_ = unix.Rmdir(v2Parent)
		detectMode, v2Root, v2Parent = oldDetect, oldRoot, oldParent
	})
	m := create(t, nil, nil)
	if err := RemoveParent(); err != nil {
		t.Fatalf("RemoveParent while busy: %v", err)
	}
	if _, err := os.Stat(v2Parent); err != nil {
		t.Fatal("busy parent removed")
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if err := RemoveParent(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(v2Parent); !os.IsNotExist(err) {
		t.Fatalf("parent still there: %v", err)
	}
	// Create sets the parent up again.
	create(t, nil, nil)
}

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

// A cgroupsPath is checked before anything is made: systemd's form and
// ".." are refused with errors that say why.
func TestCheckPath(t *testing.T) {
	for _, p := range []string{"", "/a", "/a/b", "a/b", "kubepods/pod1/ctr"} {
		if err := CheckPath(p); err != nil {
			t.Errorf("CheckPath(%q): %v", p, err)
		}
	}
	if err := CheckPath("system.slice:nook:abc"); !errors.Is(err, ErrSystemdPath) {
		t.Errorf("systemd form: %v", err)
	}
	for _, p := range []string{"/a/../b", "..", "/", "//"} {
		if err := CheckPath(p); !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckPath(%q) = %v, want ErrInvalid", p, err)
		}
	}
}

// v1Owner skips where there are no v1 controllers, and otherwise makes a
// pids cgroup "owner-NAME" for the test (another owner's, as far as nook
// can tell), removed at the end; name is the test's unique name.
func v1Owner(t *testing.T) (name, owner string) {
	t.Helper()
	requireRoot(t)
	if m := DetectMode(); m != Legacy && m != Hybrid {
		t.Skip("needs cgroup v1 controllers")
	}
	name = uniqueName(t)
	owner = filepath.Join(Root, "pids", "owner-"+name)
	if err := os.Mkdir(owner, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(owner) })
	return name, owner
}

// An absolute cgroupsPath is below each hierarchy's root: the missing
// parents are made and removed again, one that existed (another owner's)
// stays; OpenPaths finds the same directories and controllers; Freeze and
// Thaw stop and let go of the processes; Update changes limits in place.
func TestPathV1(t *testing.T) {
	name, owner := v1Owner(t)
	path := "/owner-" + name + "/mid/ctr"
	m, err := Create(name, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr(int64(50))}}, &Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Destroy() })
	pidsDir := filepath.Join(Root, "pids", path)
	memDir := filepath.Join(Root, "memory", path)
	for _, d := range []string{pidsDir, memDir} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("no %s: %v", d, err)
		}
	}
	for _, p := range m.Parents() {
		if p == owner {
			t.Errorf("the existing %s is among the parents nook made: %v", owner, m.Parents())
		}
	}
	p := spawn(t, m, shell(`while :; do sleep 0.01; done`))

	var recorded []string
	recorded = append(recorded, m.Paths()...)
	recorded = append(recorded, m.Parents()...)
	o, err := OpenPaths(name, recorded)
	if err != nil {
		t.Fatal(err)
	}
	if o.ctrl["pids"] != pidsDir || o.ctrl["freezer"] == "" {
		t.Errorf("OpenPaths: controllers %v", o.ctrl)
	}
	if err := o.Freeze(); err != nil {
		t.Fatal(err)
	}
	if f, err := o.Frozen(); !f || err != nil {
		t.Errorf("Frozen after Freeze: %v %v", f, err)
	}
	if err := o.Thaw(); err != nil {
		t.Fatal(err)
	}
	if f, err := o.Frozen(); f || err != nil {
		t.Errorf("Frozen after Thaw: %v %v", f, err)
	}
	if err := o.Update(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr(int64(20))}, Memory: &specs.LinuxMemory{Limit: ptr(int64(64 << 20))}}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(pidsDir, "pids.max")); strings.TrimSpace(string(b)) != "20" {
		t.Errorf("pids.max after Update: %q", b)
	}
	if l, err := o.Limits(); err != nil || l.Memory != 64<<20 || l.Pids != 20 {
		t.Errorf("Limits after Update: %+v %v", l, err)
	}
	if err := o.Update(&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr(uint16(10))}}); !errors.Is(err, ErrNotSupported) {
		t.Errorf("Update of the blkio weight: %v, want ErrNotSupported", err)
	}
	if err := o.Destroy(); err != nil {
		t.Fatal(err)
	}
	p.wait(t, 10*time.Second)
	for _, d := range append(recorded, filepath.Join(Root, "memory", "owner-"+name)) {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("%s left after Destroy", d)
		}
	}
	if _, err := os.Stat(owner); err != nil {
		t.Errorf("another owner's %s was removed: %v", owner, err)
	}
	// an existing leaf is not adopted
	if err := os.Mkdir(filepath.Join(owner, "taken"), 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(filepath.Join(owner, "taken"))
	if _, err := Create(name, nil, &Options{Path: "/owner-" + name + "/taken"}); !errors.Is(err, os.ErrExist) {
		t.Errorf("Create in an existing cgroup: %v, want ErrExist", err)
	}
	if _, err := os.Stat(filepath.Join(Root, "memory", "owner-"+name)); err == nil {
		t.Errorf("a failed Create left its parents")
	}
}

// A relative cgroupsPath is below the runtime's own cgroup, per hierarchy.
func TestPathRelative(t *testing.T) {
	requireRoot(t)
	if m := DetectMode(); m != Legacy && m != Hybrid {
		t.Skip("needs cgroup v1 controllers")
	}
	name := uniqueName(t)
	m, err := Create(name, nil, &Options{Path: "rel-" + name + "/ctr"})
	if err != nil {
		t.Fatal(err)
	}
	own, err := ownCgroup("pids")
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(Root, "pids", own, "rel-"+name, "ctr")
	if _, err := os.Stat(want); err != nil {
		t.Errorf("no %s: %v", want, err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(want)); err == nil {
		t.Errorf("%s left", filepath.Dir(want))
	}
}

// On cgroup v2 (the hybrid host's controller-less tree) the path's
// parents are made and removed the same way, and cgroup.freeze freezes.
func TestPathV2OnHybridTree(t *testing.T) {
	requireRoot(t)
	if DetectMode() != Hybrid {
		t.Skip("needs a hybrid host")
	}
	uni := Root + "/unified"
	oldDetect, oldRoot, oldParent := detectMode, v2Root, v2Parent
	detectMode, v2Root, v2Parent = func() Mode { return Unified }, uni, uni+"/nook-test"
	t.Cleanup(func() { detectMode, v2Root, v2Parent = oldDetect, oldRoot, oldParent })
	name := uniqueName(t)
	path := "/p-" + name + "/ctr"
	m, err := Create(name, nil, &Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Destroy() })
	if d := m.UnifiedDir(); d != uni+path {
		t.Errorf("UnifiedDir %q, want %q", d, uni+path)
	}
	if _, err := os.Stat(filepath.Join(m.UnifiedDir(), "cgroup.freeze")); err != nil {
		t.Skip("kernel without cgroup.freeze")
	}
	p := spawn(t, m, shell(`while :; do sleep 0.01; done`))
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if f, err := m.Frozen(); !f || err != nil {
		t.Errorf("Frozen: %v %v", f, err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	p.wait(t, 10*time.Second)
	if err := unix.Access(uni+"/p-"+name, unix.F_OK); err == nil {
		t.Errorf("parent %s left", uni+"/p-"+name)
	}
}

// On v1 the memory settings beside the limit are written where the
// kernel has them: the reservation, swappiness, the OOM killer's switch,
// the kernel TCP limit (and the kernel limit, which kernels since 5.16
// accept and ignore).
func TestMemorySettingsV1(t *testing.T) {
	requireRoot(t)
	if m := DetectMode(); m != Legacy && m != Hybrid {
		t.Skip("needs cgroup v1 controllers")
	}
	r := &specs.LinuxResources{Memory: &specs.LinuxMemory{
		Limit: ptr(int64(64 << 20)), Reservation: ptr(int64(32 << 20)), Swappiness: ptr(uint64(10)),
		DisableOOMKiller: ptr(true), KernelTCP: ptr(int64(16 << 20)), Kernel: ptr(int64(48 << 20)),
	}}
	m := create(t, r, nil)
	dir := m.ctrl["memory"]
	for file, want := range map[string]string{
		"memory.soft_limit_in_bytes":     "33554432",
		"memory.swappiness":              "10",
		"memory.kmem.tcp.limit_in_bytes": "16777216",
	} {
		if b, err := os.ReadFile(filepath.Join(dir, file)); err != nil || strings.TrimSpace(string(b)) != want {
			t.Errorf("%s: %q %v, want %s", file, b, err, want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "memory.oom_control")); !strings.Contains(string(b), "oom_kill_disable 1") {
		t.Errorf("memory.oom_control:\n%s", b)
	}
	if err := m.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: ptr(uint64(30))}}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "memory.swappiness")); strings.TrimSpace(string(b)) != "30" {
		t.Errorf("swappiness after Update: %q", b)
	}
}

// Options.Reserve is told every directory Create makes before the first
// of them exists, in the order Paths and Parents list them afterwards,
// and is never told of one that existed: an existing sandbox directory
// is refused before it, and an existing parent is not a parent made.
func TestReserve(t *testing.T) {
	name, owner := v1Owner(t)
	var dirs, parents []string
	calls := 0
	reserve := func(d, p []string) error {
		calls++
		dirs, parents = d, p
		for _, dir := range append(slices.Clone(d), p...) {
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("Reserve: %s exists already", dir)
			}
		}
		return nil
	}
	path := "/owner-" + name + "/mid/ctr"
	m, err := Create(name, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr(int64(50))}}, &Options{Path: path, Reserve: reserve})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Destroy() })
	if calls != 1 || !slices.Equal(dirs, m.Paths()) || !slices.Equal(parents, m.Parents()) {
		t.Errorf("Reserve called %d times with %v, %v; Create made %v, %v", calls, dirs, parents, m.Paths(), m.Parents())
	}
	if slices.Contains(parents, owner) {
		t.Errorf("the existing %s was reserved as a parent: %v", owner, parents)
	}

	// the same directories again: refused before Reserve hears of them
	calls = 0
	if _, err := Create(name+"-2", nil, &Options{Path: path, Reserve: reserve}); !errors.Is(err, os.ErrExist) || calls != 0 {
		t.Errorf("an existing cgroup: err %v, Reserve called %d times; want ErrExist before any", err, calls)
	}
	// and an error from Reserve makes nothing
	stop := errors.New("no room in the record")
	other := "/owner-" + name + "/other/ctr"
	if _, err := Create(name+"-3", nil, &Options{Path: other, Reserve: func(d, p []string) error { return stop }}); !errors.Is(err, stop) {
		t.Errorf("Reserve's error: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(Root, "*", "owner-"+name, "other")); len(m) > 0 {
		t.Errorf("made although Reserve failed: %v", m)
	}
}

// A parent that existed when Create looked, but that another sandbox's
// clean-up removed before Create got to it, is reserved before it is
// made again: a record of what to undo never misses a directory that
// this sandbox made.
func TestReserveParentRemovedMeanwhile(t *testing.T) {
	name, owner := v1Owner(t)
	var reserved [][]string
	reserve := func(d, p []string) error {
		if len(reserved) == 0 {
			// the other sandbox's clean-up, between the look and the mkdir
			if err := os.Remove(owner); err != nil {
				t.Fatal(err)
			}
		} else if _, err := os.Stat(p[0]); err == nil {
			t.Errorf("Reserve: %s exists already", p[0])
		}
		reserved = append(reserved, p)
		return nil
	}
	m, err := Create(name, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr(int64(50))}}, &Options{Path: "/owner-" + name + "/ctr", Reserve: reserve})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Destroy() })
	if len(reserved) != 2 || !slices.Equal(reserved[1], []string{owner}) || !slices.Contains(m.Parents(), owner) {
		t.Errorf("Reserve was told %v; Create made parents %v; want %s reserved before it was made again", reserved, m.Parents(), owner)
	}
}

// A parent that another sandbox uses keeps the parents above it, in its
// own hierarchy only: those of the other hierarchies are removed all the
// same.
func TestRmParentsBusyInOneHierarchy(t *testing.T) {
	name, _ := v1Owner(t)
	m, err := Create(name, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr(int64(50))}}, &Options{Path: "/top-" + name + "/mid/ctr"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Destroy() })
	parents := m.Parents() // deepest first
	if len(parents) < 4 {
		t.Skipf("parents in fewer than two hierarchies: %v", parents)
	}
	// another sandbox's cgroup in the first hierarchy's "mid"
	other := filepath.Join(parents[0], "other")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(other); os.Remove(parents[0]); os.Remove(filepath.Dir(parents[0])) })
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	for _, p := range parents {
		_, err := os.Stat(p)
		keep := p == parents[0] || strings.HasPrefix(parents[0], p+"/")
		if keep != (err == nil) {
			t.Errorf("%s: exists %v, want %v (busy: %s)", p, err == nil, keep, other)
		}
	}
}

// A Create killed after making a parent but before the directory below
// it leaves only that parent of what it recorded: DestroyPaths removes
// it all the same, while OpenPaths, which is for the sandbox's own
// directories, finds none.
func TestDestroyPathsParentsAlone(t *testing.T) {
	name, _ := v1Owner(t)
	var dirs, parents []string
	stop := errors.New("killed here")
	_, err := Create(name, nil, &Options{Path: "/top-" + name + "/mid/ctr", Reserve: func(d, p []string) error {
		dirs, parents = d, p
		return stop
	}})
	if !errors.Is(err, stop) {
		t.Fatalf("Create: %v", err)
	}
	if len(parents) < 2 {
		t.Fatalf("no parents reserved: %v", parents)
	}
	// what the kill left: the first hierarchy's parents, made shallowest
	// first, and nothing below them
	first := parents[len(parents)-2:]
	for i := len(first) - 1; i >= 0; i-- {
		if err := os.Mkdir(first[i], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { os.Remove(first[0]); os.Remove(first[1]) })
	recorded := append(slices.Clone(dirs), parents...)
	if _, err := OpenPaths(name, recorded); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenPaths with only parents made: %v, want ErrNotExist", err)
	}
	if err := DestroyPaths(name, recorded); err != nil {
		t.Fatal(err)
	}
	for _, p := range first {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s left", p)
		}
	}
}

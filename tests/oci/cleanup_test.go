package oci

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nookrun/nook/internal/testutil"
	"github.com/nookrun/nook/state"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// leftCgroups lists the cgroup directories named name anywhere below
// /sys/fs/cgroup (two levels: a v1 hierarchy, then the name, or a v2
// parent), and those of a cgroupsPath.
func leftCgroups(name, path string) []string {
	var left []string
	for _, pat := range []string{"/sys/fs/cgroup/*/nook-" + name, "/sys/fs/cgroup/nook/" + name} {
		m, _ := filepath.Glob(pat)
		left = append(left, m...)
	}
	if path != "" {
		m, _ := filepath.Glob("/sys/fs/cgroup/*" + path)
		left = append(left, m...)
		if _, err := os.Stat("/sys/fs/cgroup" + path); err == nil {
			left = append(left, "/sys/fs/cgroup"+path)
		}
	}
	return left
}

// A create whose container fails one of its steps (a mount of a file
// system the kernel does not know) leaves no state, cgroup or process.
func TestCreateFailsInChild(t *testing.T) {
	oci(t)
	root := stateRoot(t)
	id := "fail-" + testutil.Mark(t)
	b := bundle(t, func(s *specs.Spec) {
		s.Process.Args = []string{"sleep", "300"}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "nosuchfs", Source: "none"})
	})
	errOut := nookFails(t, "--root", root, "create", "--bundle", b, id)
	if !strings.Contains(errOut, "nosuchfs") {
		t.Errorf("create: %s", errOut)
	}
	if l := leftCgroups(id, ""); len(l) > 0 {
		t.Errorf("cgroups left: %v", l)
	}
	if ents, _ := os.ReadDir(root); len(ents) > 0 && !(len(ents) == 1 && ents[0].Name() == ".names") {
		t.Errorf("state left: %v", ents)
	}
}

// nook create SIGKILLed halfway (while a createRuntime or prestart hook
// runs: init made and waiting, the cgroup made, state recorded), then
// delete --force: no state directory, cgroup (a cgroupsPath's parents
// included), mount or process is left.
func TestCreateSIGKILL(t *testing.T) {
	oci(t)
	for _, tc := range []struct {
		name, hook, path string
	}{
		{"createRuntime", "createRuntime", ""},
		{"prestart", "prestart", ""},
		{"createRuntime-cgroupsPath", "createRuntime", "/kill-" + testutil.Mark(t) + "/ctr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := stateRoot(t)
			dir := t.TempDir()
			ready := filepath.Join(dir, "ready")
			// the hook says it runs, then outlives the test's patience
			hook := specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "touch " + ready + "; exec sleep 3"}}
			b := bundle(t, func(s *specs.Spec) {
				s.Process.Args = []string{"sleep", "300"}
				s.Linux.CgroupsPath = tc.path
				s.Hooks = &specs.Hooks{}
				if tc.hook == "prestart" {
					s.Hooks.Prestart = []specs.Hook{hook}
				} else {
					s.Hooks.CreateRuntime = []specs.Hook{hook}
				}
			})
			id := "kill-" + testutil.Mark(t)
			cmd := testutil.Command(t, "--root", root, "create", "--bundle", b, id)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				if _, err := os.Stat(ready); err == nil {
					break
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatal("the hook did not run")
				}
				time.Sleep(5 * time.Millisecond)
			}
			cmd.Process.Kill()
			cmd.Wait()
			st := stateOf(t, root, id)
			if st.Pid <= 0 {
				t.Fatalf("state after the kill: %+v", st)
			}
			if l := leftCgroups(id, tc.path); len(l) == 0 {
				t.Errorf("no cgroup while created (test is wrong): %v", l)
			}
			nook(t, "--root", root, "delete", "--force", id)
			if _, err := os.Stat(filepath.Join(root, id)); err == nil {
				t.Errorf("state directory left")
			}
			if l := leftCgroups(id, tc.path); len(l) > 0 {
				t.Errorf("cgroups left: %v", l)
			}
			if tc.path != "" {
				top := "/kill-" + testutil.Mark(t)
				if m, _ := filepath.Glob("/sys/fs/cgroup/*" + top); len(m) > 0 {
					t.Errorf("cgroupsPath parents left: %v", m)
				}
			}
			if b, err := os.ReadFile("/proc/" + strconv.Itoa(st.Pid) + "/stat"); err == nil && !strings.Contains(string(b), ") Z") {
				t.Errorf("init %d still runs", st.Pid)
			}
		})
	}
}

// nook create SIGKILLed at any moment, here after each of a range of
// delays that spans a create (with a cgroupsPath, whose parents are made
// too): whatever it had made, delete --force removes it, or there is no
// state and nothing was made. The cgroup's directories are recorded
// before they are made, so no moment between the mkdirs and their
// record leaves one to nobody.
func TestCreateSIGKILLAnyMoment(t *testing.T) {
	oci(t)
	root := stateRoot(t)
	mark := testutil.Mark(t)
	top := "/any-" + mark
	b := bundle(t, func(s *specs.Spec) {
		s.Process.Args = []string{"sleep", "300"}
		s.Linux.CgroupsPath = top + "/ctr"
	})
	// how long a whole create takes here, to spread the kills over it
	id := "any-" + mark
	began := time.Now()
	create(t, root, b, id)
	// (the cgroup is made early in it: a loaded machine's slow create
	// needs no longer spread)
	span := min(time.Since(began), 300*time.Millisecond)
	nook(t, "--root", root, "delete", "--force", id)
	const kills = 12
	for i := range kills {
		id := "any" + strconv.Itoa(i) + "-" + mark
		cmd := testutil.Command(t, "--root", root, "create", "--bundle", b, id)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(span * time.Duration(i) / kills)
		cmd.Process.Kill()
		cmd.Wait()
		if _, err := os.Stat(filepath.Join(root, id)); err == nil {
			nook(t, "--root", root, "delete", "--force", id)
		}
		if l := leftCgroups(id, top+"/ctr"); len(l) > 0 {
			t.Errorf("killed after %v: cgroups left: %v", span*time.Duration(i)/kills, l)
		}
		if m, _ := filepath.Glob("/sys/fs/cgroup/*" + top); len(m) > 0 {
			t.Errorf("killed after %v: cgroupsPath parents left: %v", span*time.Duration(i)/kills, m)
		}
	}
}

// A create killed after it made a cgroupsPath's parent, but before the
// directory below it, leaves a state that records both and a parent
// alone on the host: delete --force removes that parent too, although
// none of the container's own directories exists.
func TestDeleteRemovesAParentMadeAlone(t *testing.T) {
	oci(t)
	root := stateRoot(t)
	// a hierarchy to make directories in: v2's root, or v1's pids
	hier := "/sys/fs/cgroup/pids"
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		hier = "/sys/fs/cgroup"
	}
	id := "alone-" + testutil.Mark(t)
	parent := filepath.Join(hier, id)
	s, err := state.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.Create(&state.State{ID: id, Undo: []state.Undo{
		{Kind: state.UndoCgroup, Path: filepath.Join(parent, "ctr")},
		{Kind: state.UndoCgroupParent, Path: parent},
	}})
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	if err := os.Mkdir(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(parent) })
	nook(t, "--root", root, "delete", "--force", id)
	if _, err := os.Stat(parent); err == nil {
		t.Errorf("%s left", parent)
	}
	if _, err := os.Stat(filepath.Join(root, id)); err == nil {
		t.Errorf("state directory left")
	}
}

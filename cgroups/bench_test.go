package cgroups

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// benchChild starts a process to add (not timed).
func benchChild(b *testing.B) *exec.Cmd {
	b.StopTimer()
	defer b.StartTimer()
	cmd := exec.Command("/bin/sleep", "1000")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	return cmd
}

// benchReap kills and reaps the child (not timed): in nook the sandbox's
// process has exited by the time Destroy runs.
func benchReap(b *testing.B, cmd *exec.Cmd) {
	b.StopTimer()
	defer b.StartTimer()
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

// BenchmarkLifecycle times what every sandbox start pays: Create, Add of a
// child process, and Destroy after the child exited.
func BenchmarkLifecycle(b *testing.B) {
	requireRoot(b)
	mem, pids := int64(256<<20), int64(1024)
	quota, period := int64(50000), uint64(100000)
	for _, bc := range []struct {
		name string
		r    *specs.LinuxResources
	}{
		{"nolimits", nil},
		{"limits", &specs.LinuxResources{
			Memory: &specs.LinuxMemory{Limit: &mem, Swap: &mem},
			Pids:   &specs.LinuxPids{Limit: &pids},
			CPU:    &specs.LinuxCPU{Quota: &quota, Period: &period},
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			name := uniqueName(b)
			for b.Loop() {
				cmd := benchChild(b)
				m, err := Create(name, bc.r, nil)
				if err != nil {
					b.Fatal(err)
				}
				if err := m.Add(cmd.Process.Pid); err != nil {
					b.Fatal(err)
				}
				benchReap(b, cmd)
				if err := m.Destroy(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLifecycleKill is BenchmarkLifecycle with the child still running
// at Destroy, which must then kill it.
func BenchmarkLifecycleKill(b *testing.B) {
	requireRoot(b)
	name := uniqueName(b)
	for b.Loop() {
		cmd := benchChild(b)
		m, err := Create(name, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Add(cmd.Process.Pid); err != nil {
			b.Fatal(err)
		}
		if err := m.Destroy(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		_ = cmd.Wait()
		b.StartTimer()
	}
}

// BenchmarkFloor is the least any implementation must do: mkdir, write the
// pid, rmdir in memory, pids and cpu on v1 (one directory on v2), with bare
// syscalls.
func BenchmarkFloor(b *testing.B) {
	requireRoot(b)
	var dirs []string
	name := uniqueName(b)
	if DetectMode() == Unified {
		if _, _, err := ensureParentV2(placeV2{root: v2Root, parent: v2Parent}, v2Base); err != nil {
			b.Fatal(err)
		}
		dirs = []string{filepath.Join(ParentV2, name)}
	} else {
		for _, c := range []string{"memory", "pids", "cpu"} {
			dirs = append(dirs, filepath.Join(Root, c, dirPrefixV1+name))
		}
	}
	for b.Loop() {
		cmd := benchChild(b)
		pid := []byte(strconv.Itoa(cmd.Process.Pid))
		for _, d := range dirs {
			if err := unix.Mkdir(d, 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), pid, 0); err != nil {
				b.Fatal(err)
			}
		}
		benchReap(b, cmd)
		for _, d := range dirs {
			if err := unix.Rmdir(d); err != nil {
				b.Fatal(err)
			}
		}
	}
}

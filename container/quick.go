package container

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/nookrun/nook/internal/spawn"
	"github.com/nookrun/nook/namespaces"
	"github.com/nookrun/nook/state"
	"golang.org/x/sys/unix"
)

// keepQuick keeps a plain exec's plan (ExecOptions.Quick) in the
// sandbox's directory, for nook's ELF entry to replay the next one before
// Go's runtime starts (spawn.QuickExec). It is kept only where the entry
// can do all that this exec did: root's foreground command with no init
// of nook's (cloned straight into the sandbox's pid namespace, where it
// has one), sharing nook's memory (no user or time namespace to join),
// with nook's own stdin, stdout and stderr, and cgroups it joins without
// a pid written for it (openCgroups: no procs). It costs an exec that
// cannot keep it nothing but this check; one that cannot be written
// costs the next exec its speed, nothing else.
func (in *Instance) keepQuick(st *state.State, e *enterPlan, steps *spawn.Plan) {
	name := spawn.QuickExecFile()
	if name == "" || in.store == nil || e.fork || e.detach || e.tty || e.targetFD == nil || e.target != st.Init.Pid ||
		e.joins.has(namespaces.User) || e.joins.has(namespaces.Time) || e.joined == nil || len(e.joined.procs) > 0 {
		return
	}
	for _, f := range e.files {
		if f != nil && f != os.Stdin && f != os.Stdout && f != os.Stderr {
			return
		}
	}
	s, id := in.store, st.ID
	// the state's file before its content: a state replaced after the
	// stat has another inode than the one kept, and the entry leaves
	// that exec to Go
	stateFile, err := quickFile(s.StateFile(id))
	if err != nil {
		return
	}
	if cur, err := s.Load(id); err != nil || cur.Status != state.Running || cur.Init != st.Init {
		return
	}
	specFile, err := quickFile(s.SpecFile(id))
	if err != nil {
		return
	}
	c, err := newQuickCaller()
	if err != nil {
		return
	}
	q := &spawn.QuickExec{
		Init: st.Init.Pid, InitStart: st.Init.StartTime,
		Files: []spawn.QuickFile{stateFile, specFile}, Exe: c.exe, Namespaces: c.namespaces, Signals: c.signals,
		DevicesHeld: devicesHeld(e.cgroups), PidNS: e.pidNS,
		CgroupDir: e.joined.dir, CgroupTasks: e.joined.taskPaths, Steps: steps,
	}
	for _, r := range StandardDevices() {
		if r.Type == "c" && r.Major != nil {
			d := spawn.QuickDevice{Major: uint32(*r.Major), Minor: spawn.AnyMinor}
			if r.Minor != nil {
				d.Minor = uint32(*r.Minor)
			}
			q.Devices = append(q.Devices, d)
		}
	}
	b, err := q.Encode()
	if err != nil {
		return
	}
	state.WriteFile(filepath.Join(s.Path(id), name), b)
}

// quickCaller is what a kept exec or run holds of the nook that keeps it:
// the binary (another one compiles its own plan), the caller's
// namespaces (which of a sandbox's a plan joins, or which it makes, can
// depend on them) and the signals passed on.
type quickCaller struct {
	exe        spawn.QuickFile
	namespaces []spawn.QuickNamespace
	signals    []syscall.Signal
}

func newQuickCaller() (*quickCaller, error) {
	exe, err := quickFile("/proc/self/exe")
	if err != nil {
		return nil, err
	}
	ours, err := namespaces.Of(0)
	if err != nil {
		return nil, err
	}
	c := &quickCaller{exe: exe}
	for _, t := range namespaces.All() {
		if ino, ok := ours[t]; ok {
			c.namespaces = append(c.namespaces, spawn.QuickNamespace{Name: namespaces.ProcName(t), Ino: ino})
		}
	}
	for _, sig := range forwarded {
		c.signals = append(c.signals, sig.(syscall.Signal))
	}
	return c, nil
}

// quickFile is path as stat(2) finds it; Name is its base name.
func quickFile(path string) (spawn.QuickFile, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return spawn.QuickFile{}, err
	}
	return spawn.QuickFile{
		Name: filepath.Base(path), Dev: st.Dev, Ino: st.Ino, Size: uint64(st.Size),
		MtimeSec: st.Mtim.Sec, MtimeN: st.Mtim.Nsec, CtimeSec: st.Ctim.Sec, CtimeN: st.Ctim.Nsec,
	}, nil
}

// devicesHeld: a v1 devices hierarchy holds the sandbox's devices back
// (checkExecDevices).
func devicesHeld(cgroupPaths []string) bool {
	for _, p := range cgroupPaths {
		if strings.HasPrefix(p, "/sys/fs/cgroup/devices/") {
			return true
		}
	}
	return false
}

package container

import (
	"os"
	"path/filepath"

	"github.com/nookrun/nook/cgroups"
	"github.com/nookrun/nook/internal/spawn"
	"github.com/nookrun/nook/state"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// QuickRun asks Run to keep its plan for nook's ELF entry to replay the
// next run of the same bundle and ID before Go's runtime starts
// (spawn.QuickRun): what `nook run --bundle DIR ID` sets when it has no
// option but the state root. Make it with NewQuickRun before the bundle's
// spec is read.
type QuickRun struct {
	root, bundle string
	config       spawn.QuickFile
	ok           bool
	warned       bool
}

// NewQuickRun takes note of bundle's config.json before it is read, for
// a run kept in the state root root: a config.json changed while it was
// read is not kept.
func NewQuickRun(root, bundle string) *QuickRun {
	q := &QuickRun{root: root, bundle: bundle}
	if root == "" {
		q.root = state.DefaultDir()
	}
	var err error
	q.config, err = quickFile(filepath.Join(bundle, "config.json"))
	q.ok = err == nil
	return q
}

// warnf passes warnings on, and remembers that there were some: the
// entry would not repeat them.
func (q *QuickRun) warnf(next func(format string, args ...any)) func(format string, args ...any) {
	return func(format string, args ...any) {
		q.warned = true
		warner(next)(format, args...)
	}
}

// keep writes c's plan for the entry, once its command runs, where the
// entry can do all that this run did: root's, with nook's own stdin,
// stdout and stderr and nothing else passed, no terminal, no user
// namespace (no ID maps to write), no pid namespace to clone into, no hook,
// no limit to watch or account to read, no record in the state root, and
// cgroups made by directories, device programs and file writes alone
// (cgroups.Log). A plan that cannot be written costs the next run its
// speed, nothing else.
func (q *QuickRun) keep(c *Container) {
	o := &c.opts
	if q == nil || !q.ok || q.warned || os.Geteuid() != 0 || c.cleanup == nil ||
		c.plan.tty || c.plan.newUser || c.plan.pidNS != "" || o.hold || o.Record != nil || o.Setup != nil || o.Init ||
		len(o.ExtraFiles) > 0 || len(o.Remove) > 0 || o.Stdin != nil || o.Stdout != nil || o.Stderr != nil ||
		!o.ForwardSignals || o.Accounting || o.Limits != (Limits{}) || c.watch != nil || hasHooks(c.spec) {
		return
	}
	r := &spawn.QuickRun{
		Bundle: q.bundle, ID: c.id,
		CloneFlags: c.plan.cloneFlags, ShareMemory: c.plan.shareMemory,
		Cleanup: c.cleanup, Steps: &c.plan.steps,
	}
	if c.cgroup != nil {
		l := c.cgroup.Log()
		if l == nil || !l.Complete {
			return
		}
		r.Mkdirs, r.CgroupDir = l.Mkdirs, c.cgroup.UnifiedDir()
		if r.CgroupDir == "" {
			r.CgroupTasks = c.cgroup.TasksFiles()
		}
		r.Checks, r.Programs, r.Writes = quickWrites(l.Checks), quickWrites(l.Programs), quickWrites(l.Writes)
	}
	config, err := quickFile(filepath.Join(q.bundle, "config.json"))
	if err != nil || config != q.config {
		return // changed since it was read
	}
	caller, err := newQuickCaller()
	if err != nil {
		return
	}
	r.Config, r.Exe, r.Namespaces, r.Signals = config, caller.exe, caller.namespaces, caller.signals
	for fd := range r.Stdio {
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil {
			return
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFCHR:
			r.Stdio[fd] = spawn.QuickStdio{Kind: spawn.StdioChar, Rdev: st.Rdev}
		case unix.S_IFBLK:
			r.Stdio[fd] = spawn.QuickStdio{Kind: spawn.StdioBlock, Rdev: st.Rdev}
		}
	}
	b, err := r.Encode()
	if err != nil {
		return
	}
	s, err := state.Open(q.root)
	if err != nil {
		return
	}
	path := spawn.QuickRunFile(s.Dir(), q.bundle)
	if err := os.Mkdir(filepath.Dir(path), 0o700); err != nil && !os.IsExist(err) {
		return
	}
	state.WriteFile(path, b)
}

// forget removes the plan kept for the bundle, after a run of it failed
// before its command: one kept before would be stale, or would fail the
// same way in the entry first.
func (q *QuickRun) forget() {
	if q != nil && q.ok {
		os.Remove(spawn.QuickRunFile(q.root, q.bundle))
	}
}

// quickWrites is a cgroups.Log list as spawn.QuickRun holds it.
func quickWrites(ws []cgroups.LogWrite) []spawn.QuickWrite {
	var out []spawn.QuickWrite
	for _, w := range ws {
		out = append(out, spawn.QuickWrite{Path: w.Path, Data: w.Data})
	}
	return out
}

// hasHooks: the spec has a hook of any kind (some run in Go, around the
// child).
func hasHooks(s *specs.Spec) bool {
	h := s.Hooks
	return h != nil && len(h.Prestart)+len(h.CreateRuntime)+len(h.CreateContainer)+len(h.StartContainer)+
		len(h.Poststart)+len(h.Poststop) > 0
}

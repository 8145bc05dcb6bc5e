package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/nookrun/nook/cgroups"
	"github.com/nookrun/nook/internal/spawn"
	"github.com/nookrun/nook/namespaces"
	"github.com/nookrun/nook/seccomp"
	"github.com/nookrun/nook/spec"
	"github.com/nookrun/nook/state"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Options say how to run a spec, beyond what the spec itself says.
type Options struct {
	// Bundle is the directory relative paths in the spec start from.
	Bundle string
	// Init makes nook's init PID 1, with the command as its child: it
	// reaps orphans and passes signals on. Without it the command is
	// PID 1 itself, as the OCI runtimes run it.
	Init bool
	// Stdin, Stdout and Stderr are the command's; nil means nook's own.
	// They are handed over as they are: no copying in between, except
	// that with a terminal (process.terminal) Run copies Stdin to the
	// pty and the pty to Stdout.
	Stdin, Stdout, Stderr *os.File
	// ForwardSignals makes Run pass the signals this process gets while
	// the command runs (ForwardedSignals: SIGTERM, SIGINT, SIGHUP,
	// SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH) on to the sandbox, as `nook
	// run` does, instead of their usual effect on this process.
	ForwardSignals bool
	// ExtraFiles become fds 3, 4, ... in the sandbox.
	ExtraFiles []*os.File
	// DenySetgroups writes "deny" to the new user namespace's setgroups
	// before its maps; an unprivileged caller must, and then the command
	// cannot change its groups.
	DenySetgroups bool
	// Limits are the run's time limits; linux.resources in the spec
	// carries the cgroup limits.
	Limits Limits
	// Cgroup decides whether the sandbox gets a cgroup of its own.
	Cgroup CgroupPolicy
	// Accounting reads the cgroup's account of the run into
	// Result.Cgroup and Result.CPU (a few file reads after the end:
	// cgroups.Manager.Account, what a verdict uses).
	// Time limits turn it on.
	Accounting bool
	// SeccompCache, where set, compiles linux.seccomp through it: a
	// caller that starts many sandboxes with one profile compiles it
	// once. nil compiles it for every sandbox.
	SeccompCache *seccomp.Cache
	// NoPivot builds the root without pivot_root(2): the new root is
	// moved onto "/" and chrooted into, as runc's --no-pivot does. nook
	// does that by itself where pivot_root is impossible (a "/" that is
	// the initial ramfs); this forces it.
	NoPivot bool
	// Debugf, when set, is told the decisions nook makes on its own
	// (such as building the root without pivot_root, and why).
	Debugf func(format string, args ...any)
	// Warnf is told what of the spec nook skips because it cannot be had
	// here and the runtime spec says is a warning, not a failure: a
	// capability that is unknown or newer than this kernel. nil writes
	// "nook: warning: ..." lines to the process's stderr.
	Warnf func(format string, args ...any)
	// Record keeps the sandbox's state in a state directory while it
	// runs (see Record); nil for none.
	Record *Record
	// Setup, when set, runs after the sandbox's namespaces exist (its ID
	// maps written, its cgroup joined) and before its first step, with
	// the host PID of its first process: for what must be done to the
	// namespaces from outside (pasta connects the network namespace).
	// An error aborts the start.
	Setup func(pid int) error
	// Remove are host files that the janitor removes once the sandbox is
	// gone, whatever becomes of nook: files its start needed (generated
	// /etc files), which the caller may also remove itself once Start
	// has returned.
	Remove []string
	// Started, when set, is called once the command runs, at the end of
	// a successful Start: what only its start needed can go (Run waits
	// for the command after it).
	Started func()
	// QuickRun, where set, keeps the run's plan for nook's ELF entry
	// (NewQuickRun); Run only.
	QuickRun *QuickRun

	// hold: OCI create (Create). The child stops before exec until
	// Instance.Start; it outlives this process, so it has no janitor, its
	// cgroup is recorded for delete to remove, and the record says
	// created once every step has run.
	hold bool
}

// Result is how a command ended. verdict.Run has the same fields, so a
// Result converts to it for verdict.Judge.
type Result struct {
	// ExitCode is the command's exit status, or 128+N when signal N
	// killed it (as a shell reports it).
	ExitCode int
	// Signal is the signal that killed the command, or 0.
	Signal syscall.Signal
	// Rusage covers the whole sandbox: the command and everything it
	// started, as PID 1 reaped them.
	Rusage unix.Rusage
	// Wall is the time from the start of the command to its end.
	Wall time.Duration
	// CPU is the CPU time (user and system) of the whole sandbox: the
	// cgroup's account where there is one, else Rusage's.
	CPU time.Duration
	// Killed names the limit nook killed the sandbox for: "cpu-time" or
	// "wall-time"; empty when it was not killed by nook.
	Killed string
	// Cgroup is the cgroup's account of the run (cgroups.Manager.Account:
	// CPU time, memory peak, OOM kills, pids peak), or nil without one.
	Cgroup *cgroups.Stats
	// Warnings are limits that could not be enforced, with
	// Limits.BestEffort.
	Warnings []string
}

// Container is one sandbox, from New to Close. Its zero value is not
// usable; its methods are not safe for concurrent use, except Signal.
type Container struct {
	id     string
	spec   *specs.Spec
	opts   Options
	plan   *plan
	proc   *spawn.Process
	tty    *os.File
	cgroup *cgroups.Manager
	// reserved: the cgroup directories recorded in the state before
	// they were made (reserveCgroup)
	reserved []state.Undo
	need     CgroupNeed
	// beforeRelease, when set, is called right before the child is let
	// run (Run waits there for the signals it passes on)
	beforeRelease func()
	// netNS: the network namespace being made for the child, until
	// prepare takes it (nil where the clone makes it)
	netNS   *premadeNetNS
	watch   *watcher
	started time.Time
	// prepared: Prepare made the sandbox; Start has not released it
	prepared bool
	closed   bool
	// how Wait ended, for the record Close writes
	result  *Result
	waitErr error
	// cleanup: the janitor's plan, for Options.QuickRun
	cleanup *spawn.Cleanup
}

// New validates spec and prepares to run it. Nothing is made on the host
// until Start, so an error here leaves nothing behind; where the sandbox
// gets a network namespace of its own (and no user namespace, which would
// own it), New starts making that namespace on another thread, an
// anonymous one that Start hands to the sandbox and Close drops.
func New(id string, spec *specs.Spec, opts *Options) (*Container, error) {
	return newContainer(id, spec, opts, startNetNS(spec, opts))
}

// newContainer is New with the network namespace already being made
// (startNetNS), which it owns from here: Run starts it before anything
// else, New before the spec compiles.
func newContainer(id string, spec *specs.Spec, opts *Options, netNS *premadeNetNS) (c *Container, err error) {
	defer func() {
		if err != nil {
			netNS.release()
		}
	}()
	c = &Container{id: id, spec: spec}
	if opts != nil {
		c.opts = *opts
	}
	if err := Validate(spec); err != nil {
		return nil, err
	}
	if err := checkCommand(spec); err != nil {
		return nil, err
	}
	pl, err := compile(id, spec, &c.opts)
	if err != nil {
		return nil, err
	}
	c.plan = pl
	c.need = decideCgroup(spec, &c.opts, pl)
	if netNS != nil && (pl.cloneFlags&unix.CLONE_NEWNET == 0 || pl.newUser) {
		// startNetNS reads the spec as compile does; should they ever
		// disagree, the clone makes what the plan says
		netNS.release()
		netNS = nil
	}
	c.netNS = netNS
	return c, nil
}

// startNetNS starts making the sandbox's network namespace when the spec
// asks for a new one and no user namespace would own it; nil otherwise.
// Not for a Setup, which expects the namespaces there at its call, before
// the child's first step joins this one. It reads the spec unvalidated,
// as early as can be: the namespace takes the kernel a millisecond, and
// what comes before the clone (compile, cgroup, state) is about as long.
func startNetNS(s *specs.Spec, opts *Options) *premadeNetNS {
	if s == nil || s.Linux == nil || (opts != nil && opts.Setup != nil) {
		return nil
	}
	newNet := false
	for _, ns := range s.Linux.Namespaces {
		if ns.Path != "" {
			continue
		}
		switch ns.Type {
		case namespaces.Network:
			newNet = true
		case namespaces.User:
			return nil
		}
	}
	if !newNet {
		return nil
	}
	return makeNetNS()
}

// ID returns the container's ID.
func (c *Container) ID() string { return c.id }

// Pid returns the host PID of the sandbox's PID 1, or 0 before Start.
func (c *Container) Pid() int {
	if c.proc == nil {
		return 0
	}
	return c.proc.Pid
}

// Validate checks a spec for what would otherwise fail half-way through a
// start. Errors are *spec.FieldError.
func Validate(s *specs.Spec) error {
	if s == nil {
		return spec.FieldErrorf("spec", "missing")
	}
	if s.Process == nil {
		return spec.FieldErrorf("process", "missing")
	}
	if len(s.Process.Args) == 0 || s.Process.Args[0] == "" {
		return spec.FieldErrorf("process.args", "no command given")
	}
	if s.Root != nil && s.Root.Path != "" {
		fi, err := os.Stat(s.Root.Path)
		if err != nil {
			return spec.FieldErrorf("root.path", "%w", err)
		}
		if !fi.IsDir() {
			return spec.FieldErrorf("root.path", "%s is not a directory", s.Root.Path)
		}
	}
	if len(s.Hostname) > 64 {
		return spec.FieldErrorf("hostname", "%q is longer than 64 bytes", s.Hostname)
	}
	if s.Process.Cwd != "" && !filepath.IsAbs(s.Process.Cwd) {
		return spec.FieldErrorf("process.cwd", "%q is not absolute", s.Process.Cwd)
	}
	return nil
}

// Prepare creates the sandbox up to its first process, which waits
// before its first step: its cgroup and namespaces made (on cgroup v1 the
// process joins its cgroups itself once released).
// Start then lets it run. A judge prepares the next sandbox while others
// run. On error nothing it made is left; Close removes a sandbox that
// never starts.
func (c *Container) Prepare() error {
	if c.proc != nil {
		return errors.New("container: already prepared or started")
	}
	if err := c.prepare(); err != nil {
		return err
	}
	c.prepared = true
	return nil
}

func (c *Container) prepare() (err error) {
	files := []*os.File{c.opts.Stdin, c.opts.Stdout, c.opts.Stderr}
	for i, def := range []*os.File{os.Stdin, os.Stdout, os.Stderr} {
		if files[i] == nil {
			files[i] = def
		}
	}
	files = append(files, c.opts.ExtraFiles...)
	netNS := c.netNS
	c.netNS = nil
	defer netNS.release()
	cleanup := &spawn.Cleanup{}
	if err := c.recordCreate(); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			c.recordAbort()
		}
	}()
	if err := c.makeCgroup(); err != nil {
		return err
	}
	if c.opts.hold {
		// no janitor for a held container: what Create made differs
		// from what was reserved only if someone else made one of the
		// parents meanwhile, which is not this sandbox's to remove
		if err := c.recordCgroup(); err != nil {
			c.cgroup.Destroy()
			return err
		}
	}
	if c.cgroup != nil {
		// every process is in every hierarchy: one is enough to find them
		if dirs := c.cgroup.Paths(); len(dirs) > 0 {
			cleanup.Kill(dirs[0])
		}
		for _, dir := range c.cgroup.Paths() {
			cleanup.Rmdir(dir)
		}
		// those made above it for its cgroupsPath, when empty by then
		for _, dir := range c.cgroup.Parents() {
			cleanup.Rmdir(dir)
		}
	}
	// on cgroup v2 the child starts in its cgroup (CLONE_INTO_CGROUP):
	// nothing to join between clone and release
	cgroupFD := -1
	if c.cgroup != nil {
		if dir := c.cgroup.UnifiedDir(); dir != "" {
			fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				c.cgroup.Destroy()
				return &os.PathError{Op: "open cgroup", Path: dir, Err: err}
			}
			defer unix.Close(fd)
			cgroupFD = fd
		}
	}
	// on cgroup v1 the child moves itself into its cgroups after the
	// release (spawn.Config.CgroupTasks): no RCU grace period, which a
	// pid written to cgroup.procs by nook waits for
	var tasks []*os.File
	defer func() {
		for _, f := range tasks {
			f.Close()
		}
	}()
	if c.cgroup != nil && cgroupFD < 0 {
		for _, path := range c.cgroup.TasksFiles() {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				c.cgroup.Destroy()
				return fmt.Errorf("open cgroup: %w", err)
			}
			tasks = append(tasks, f)
		}
	}
	for _, f := range c.opts.Remove {
		cleanup.Unlink(f)
	}
	var hold, startErrs *os.File
	if c.opts.hold {
		// no janitor: delete removes the cgroup the state records
		cleanup = nil
		defer func() {
			if err != nil {
				c.cgroup.Destroy()
			}
		}()
		if hold, err = c.holdFifo(); err != nil {
			return err
		}
		defer hold.Close()
		if startErrs, err = c.startFifo(); err != nil {
			return err
		}
		defer startErrs.Close()
	}
	var pidNS *os.File
	if c.plan.pidNS != "" {
		if pidNS, err = os.Open(c.plan.pidNS); err != nil {
			c.cgroup.Destroy()
			return fmt.Errorf("linux.namespaces: pid: %w", err)
		}
		defer pidNS.Close()
	}
	cloneFlags := c.plan.cloneFlags
	var net *os.File
	if netNS != nil {
		if net, err = netNS.take(); err != nil {
			c.opts.debugf("the network namespace made beforehand: %v; the clone makes one", err)
			net, err = nil, nil
		} else {
			cloneFlags &^= unix.CLONE_NEWNET
		}
	}
	c.cleanup = cleanup
	cfg := &spawn.Config{
		PidNS:       pidNS,
		NetNS:       net,
		Hold:        hold,
		StartErrors: startErrs,
		Steps:       &c.plan.steps,
		Cleanup:     cleanup,
		CloneFlags:  cloneFlags,
		CgroupFD:    cgroupFD,
		CgroupTasks: tasks,
		Files:       files,
		Init:        c.opts.Init,
		TTY:         c.plan.tty,
		ShareMemory: c.plan.shareMemory,
	}
	c.started = time.Now()
	proc, err := spawn.Start(cfg)
	if err != nil {
		c.cgroup.Destroy()
		return err
	}
	c.proc = proc
	defer func() {
		if err != nil {
			proc.Close()
		}
	}()
	if c.plan.newUser {
		if err := writeIDMaps(proc.Pid, c.spec.Linux, c.opts.DenySetgroups); err != nil {
			return err
		}
	}
	if c.cgroup != nil && cgroupFD < 0 && len(tasks) == 0 {
		if err := c.cgroup.Add(proc.Pid); err != nil {
			return err
		}
	}
	if c.opts.Setup != nil {
		if err := c.opts.Setup(proc.Pid); err != nil {
			return err
		}
	}
	return nil
}

// Start creates the sandbox (unless Prepare did) and starts its command.
// On error nothing it made is left.
func (c *Container) Start() (err error) {
	if c.proc == nil {
		if err := c.prepare(); err != nil {
			return err
		}
	} else if c.prepared {
		// the time is the command's from now
		c.started, c.prepared = time.Now(), false
	} else {
		return errors.New("container: already started")
	}
	proc := c.proc
	defer func() {
		if err != nil {
			proc.Close()
		}
	}()
	// recorded before the command runs, so that whoever it talks to finds
	// it running
	if err := c.recordStart(); err != nil {
		return err
	}
	if c.beforeRelease != nil {
		c.beforeRelease()
	}
	if err := proc.Release(); err != nil {
		var ce *spawn.ChildError
		if errors.As(err, &ce) {
			return &StartError{Err: ce, ExitCode: ce.ExitCode}
		}
		return err
	}
	if c.plan.tty {
		m, err := proc.TTY()
		if err != nil {
			return err
		}
		c.tty = m
	}
	c.watch = c.startWatch()
	if c.opts.Started != nil {
		c.opts.Started()
	}
	return nil
}

// StartError is a failure of the sandbox's set-up or of the command's exec,
// with the exit status a shell would give it (127: not found).
type StartError struct {
	Err      error
	ExitCode int
}

func (e *StartError) Error() string { return e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

// ExitStatus is the exit status a shell would give the failure.
func (e *StartError) ExitStatus() int { return e.ExitCode }

// TTY returns the master side of the command's pseudo-terminal
// (process.terminal), or nil.
func (c *Container) TTY() *os.File { return c.tty }

// Signal sends sig to the sandbox's PID 1; nook's init passes it on to
// the command.
func (c *Container) Signal(sig syscall.Signal) error {
	if c.proc == nil {
		return errors.New("container: not started")
	}
	return c.proc.Signal(sig)
}

// Wait waits for the command to end. When ctx is done first, the sandbox
// is killed.
func (c *Container) Wait(ctx context.Context) (*Result, error) {
	if c.proc == nil {
		return nil, errors.New("container: not started")
	}
	stop := context.AfterFunc(ctx, func() { c.proc.Signal(unix.SIGKILL) })
	defer stop()
	ex, err := c.proc.Wait()
	wall := time.Since(c.started)
	if err != nil {
		c.waitErr = err
		return nil, err
	}
	r := &Result{Rusage: ex.Rusage, Wall: wall}
	r.CPU = time.Duration(ex.Rusage.Utime.Nano() + ex.Rusage.Stime.Nano())
	if c.watch != nil {
		r.Killed = c.watch.stop()
	}
	if c.cgroup != nil {
		r.Warnings = c.cgroup.Warnings()
	}
	if c.cgroup != nil && (c.opts.Accounting || c.opts.Limits.CPUTime > 0) {
		if st, err := c.cgroup.Account(); err == nil {
			r.Cgroup = st
			if st.CPUUsage > 0 {
				r.CPU = st.CPUUsage
			}
		}
	}
	switch {
	case ex.Status.Exited():
		r.ExitCode = ex.Status.ExitStatus()
	case ex.Status.Signaled():
		r.Signal = ex.Status.Signal()
		r.ExitCode = 128 + int(r.Signal)
	}
	c.result = r
	return r, nil
}

// Close kills whatever is left of the sandbox and removes what it made on
// the host. It is idempotent.
func (c *Container) Close() error {
	if c == nil || c.closed {
		return nil
	}
	c.closed = true
	c.netNS.release()
	c.netNS = nil
	if c.tty != nil {
		c.tty.Close()
	}
	err := c.proc.Close()
	if c.proc != nil {
		if rerr := c.recordEnd(c.result, c.waitErr, err); err == nil {
			err = rerr
		}
	}
	return err
}

// Run runs spec to completion in the foreground: New, Start, Wait, Close.
// With a terminal (process.terminal) it copies the pty to and from
// Options.Stdin and Stdout (nook's own by default): in raw mode and
// following the window's size when Stdin is a terminal. With
// Options.ForwardSignals it passes signals on. A terminal without
// process.consoleSize starts at the size of Stdin's.
func Run(ctx context.Context, id string, spec *specs.Spec, opts *Options) (*Result, error) {
	var f Foreground
	if opts != nil {
		f = Foreground{Stdin: opts.Stdin, Stdout: opts.Stdout, ForwardSignals: opts.ForwardSignals}
	}
	// the network namespace first, the longest of what runs beside the
	// compile; the signals are caught meanwhile too (Foreground.catch)
	spec = withConsoleSize(spec, opts)
	if opts != nil && opts.QuickRun != nil {
		o := *opts
		o.Warnf = opts.QuickRun.warnf(opts.Warnf)
		opts = &o
	}
	netNS := startNetNS(spec, opts)
	sc := f.catch()
	defer sc.stop()
	c, err := newContainer(id, spec, opts, netNS)
	if err != nil {
		if opts != nil {
			opts.QuickRun.forget()
		}
		return nil, err
	}
	defer c.Close()
	// the signals caught before the child is let run, not before it is
	// made: the clone need not wait for them
	c.beforeRelease = sc.ready
	return f.wait(ctx, sc, func() (process, error) {
		if err := c.Start(); err != nil {
			c.opts.QuickRun.forget()
			return nil, err
		}
		c.opts.QuickRun.keep(c)
		return c, nil
	})
}

func writeIDMaps(pid int, lx *specs.Linux, deny bool) error {
	dir := "/proc/" + strconv.Itoa(pid)
	if deny {
		if err := os.WriteFile(dir+"/setgroups", []byte("deny"), 0); err != nil {
			return fmt.Errorf("write %s/setgroups: %w", dir, err)
		}
	}
	if len(lx.GIDMappings) > 0 {
		if err := writeMap(pid, "gid", lx.GIDMappings); err != nil {
			return err
		}
	}
	if len(lx.UIDMappings) > 0 {
		if err := writeMap(pid, "uid", lx.UIDMappings); err != nil {
			return err
		}
	}
	return nil
}

func writeMap(pid int, kind string, m []specs.LinuxIDMapping) error {
	path := "/proc/" + strconv.Itoa(pid) + "/" + kind + "_map"
	err := os.WriteFile(path, []byte(namespaces.FormatIDMaps(m)), 0)
	if err == nil {
		return nil
	}
	// an unprivileged user may map more than itself only through the
	// setuid helpers, which check /etc/subuid and /etc/subgid
	if errors.Is(err, unix.EPERM) && os.Geteuid() != 0 {
		if herr := newIDMap(pid, kind, m); herr == nil {
			return nil
		}
	}
	return fmt.Errorf("write %s: %w", path, err)
}

package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/nookrun/nook/state"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// DetachOptions say how to start a sandbox that outlives its starter.
type DetachOptions struct {
	// ID is the sandbox's ID; empty for a random one.
	ID string
	// Name is the user's name for it; empty for none.
	Name string
	// Bundle is the OCI bundle directory, if the spec came from one.
	Bundle string
	// Init makes nook's init PID 1 (Options.Init).
	Init bool
	// DenySetgroups: Options.DenySetgroups.
	DenySetgroups bool
	// Limits are the time limits the monitor enforces (Options.Limits).
	Limits Limits
	// AutoRemove removes the sandbox's state once it has stopped.
	AutoRemove bool
	// LogSize caps the output kept: the log is rotated once at this size,
	// so at most twice it is kept. 0 means DefaultLogSize.
	LogSize int64
	// Monitor is the command that runs Monitor for the sandbox: nook's
	// hidden `monitor` command, or a program of the caller's that calls
	// Monitor. Detach adds the sandbox's ID as its last argument and gives
	// it the report pipe as fd 3.
	Monitor []string
}

// DefaultLogSize is the size at which a detached sandbox's log is rotated.
const DefaultLogSize = 1 << 20

// monitorReport is what the monitor tells its starter over fd 3, once
// the command runs or could not be started.
type monitorReport struct {
	Error    string `json:"error,omitempty"`
	ExitCode int    `json:"exit_code,omitempty"`
}

// reportTimeout is how long Detach waits for the monitor's report.
const reportTimeout = 2 * time.Minute

// reportFD is the monitor's fd of the report pipe.
const reportFD = 3

// Detach records a new sandbox in store, starts its monitor and returns
// once the command runs (or has failed to start: then nothing is left).
// The monitor is a new session, with its standard files on /dev/null; it
// outlives the caller.
func Detach(store *state.Store, spec *specs.Spec, o *DetachOptions) (*Instance, error) {
	if err := Validate(spec); err != nil {
		return nil, err
	}
	if err := checkCommand(spec); err != nil {
		return nil, err
	}
	if len(o.Monitor) == 0 {
		return nil, errors.New("detach: no monitor command")
	}
	id := o.ID
	if id == "" {
		id = state.NewID()
	}
	st := &state.State{
		OCIVersion: specs.Version, ID: id, Name: o.Name, Status: state.Creating,
		NookInit: o.Init, DenySetgroups: o.DenySetgroups, AutoRemove: o.AutoRemove,
		Bundle: o.Bundle, Spec: spec, LogSize: o.LogSize,
	}
	if l := o.Limits; l.CPUTime > 0 || l.WallTime > 0 || l.BestEffort {
		st.Limits = &state.TimeLimits{
			CPUTimeMS: l.CPUTime.Milliseconds(), WallTimeMS: l.WallTime.Milliseconds(),
			ExtraMS: l.Extra.Milliseconds(), BestEffort: l.BestEffort,
		}
	}
	if spec.Annotations != nil {
		st.Annotations = spec.Annotations
	}
	if st.LogSize <= 0 {
		st.LogSize = DefaultLogSize
	}
	h, err := store.Create(st)
	if err != nil {
		return nil, err
	}
	st.Log = filepath.Join(h.Dir(), state.LogFile)
	if err := h.Save(); err != nil {
		h.Remove()
		return nil, err
	}
	h.Close()
	fail := func(err error) (*Instance, error) {
		if h, lerr := store.Lock(id); lerr == nil {
			h.Remove()
		}
		return nil, err
	}

	r, w, err := os.Pipe()
	if err != nil {
		return fail(fmt.Errorf("detach: pipe: %w", err))
	}
	defer r.Close()
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		w.Close()
		return fail(fmt.Errorf("detach: %w", err))
	}
	defer null.Close()
	cmd := exec.Command(o.Monitor[0], append(o.Monitor[1:], id)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	cmd.ExtraFiles = []*os.File{w} // fd 3 = reportFD
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return fail(fmt.Errorf("detach: start monitor %s: %w", o.Monitor[0], err))
	}
	// a start that hangs (a mount that never answers) must not hang the
	// starter
	r.SetReadDeadline(time.Now().Add(reportTimeout))
	b, rerr := io.ReadAll(r)
	if errors.Is(rerr, os.ErrDeadlineExceeded) {
		cmd.Process.Kill()
		cmd.Wait()
		return fail(fmt.Errorf("detach: the sandbox did not start within %v", reportTimeout))
	}
	var rep monitorReport
	if len(b) == 0 {
		// the monitor died before it reported
		cmd.Wait()
		return fail(fmt.Errorf("detach: the monitor ended before the sandbox ran (%s)", cmd.ProcessState))
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return fail(fmt.Errorf("detach: the monitor's report %q: %w", b, err))
	}
	if rep.Error != "" {
		cmd.Wait()
		return fail(&StartError{Err: errors.New(rep.Error), ExitCode: rep.ExitCode})
	}
	// the monitor lives on; it is the caller's child until the caller
	// exits, then the subreaper's
	cmd.Process.Release()
	in, err := LoadIn(store, id)
	if errors.Is(err, state.ErrNotExist) && o.AutoRemove {
		// it ran, ended and was removed already
		st.Status = state.Stopped
		return &Instance{store: store, State: st}, nil
	}
	return in, err
}

// MonitorOptions adapt Monitor to what its caller adds to a sandbox.
type MonitorOptions struct {
	// Prepare, when set, runs before the sandbox is made, in the
	// monitor's process, and may change its spec and options: for what
	// must be held by the process that runs the sandbox for as long as it
	// runs (a network: its namespace, address and firewall rules are
	// held by that process's descriptors). Its cleanup runs once the
	// sandbox has ended.
	Prepare func(spec *specs.Spec, opts *Options) (cleanup func(), err error)
}

// Monitor runs sandbox id, recorded in store by Detach, in the calling
// process until it ends: it starts the command with its output going to
// the sandbox's log, records init in the state and reports to its starter
// over report (nil for none), then waits for the end, records the exit
// status and resource use, and removes what the sandbox made on the host.
// Signals the process gets (TERM, INT, HUP, QUIT, USR1, USR2) go to the
// sandbox.
func Monitor(ctx context.Context, store *state.Store, id string, report *os.File, mo *MonitorOptions) error {
	rep := func(r monitorReport) {
		if report != nil {
			b, _ := json.Marshal(r)
			report.Write(b)
			report.Close()
			report = nil
		}
	}
	defer rep(monitorReport{Error: "monitor: ended before the sandbox ran", ExitCode: 125})
	st, err := store.Load(id)
	if err != nil {
		rep(monitorReport{Error: err.Error(), ExitCode: 125})
		return err
	}
	// until the command runs, a failure removes the record: nook run -d
	// leaves nothing half-made
	failStart := func(err error) error {
		if h, lerr := store.Lock(id); lerr == nil {
			h.Remove()
		}
		code := 125
		var se *StartError
		if errors.As(err, &se) {
			code = se.ExitCode
		}
		rep(monitorReport{Error: err.Error(), ExitCode: code})
		return err
	}
	if st.Status != state.Creating {
		err := fmt.Errorf("monitor: sandbox %s is %s, not creating", id, st.Status)
		rep(monitorReport{Error: err.Error(), ExitCode: 125})
		return err
	}
	log, err := openLog(st.Log, st.LogSize)
	if err != nil {
		return failStart(err)
	}
	defer log.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return failStart(fmt.Errorf("monitor: pipe: %w", err))
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		return failStart(err)
	}
	spec, err := store.Spec(id)
	if err != nil {
		return failStart(err)
	}
	var limits Limits
	if l := st.Limits; l != nil {
		limits = Limits{
			CPUTime: time.Duration(l.CPUTimeMS) * time.Millisecond, WallTime: time.Duration(l.WallTimeMS) * time.Millisecond,
			Extra: time.Duration(l.ExtraMS) * time.Millisecond, BestEffort: l.BestEffort,
		}
	}
	opts := &Options{
		Bundle: st.Bundle, Init: st.NookInit, DenySetgroups: st.DenySetgroups, Limits: limits,
		Stdin: null, Stdout: pw, Stderr: pw,
		// Start records this process as the monitor, and init, in the
		// state Detach made
		Record: &Record{Store: store, Name: st.Name, AutoRemove: st.AutoRemove, created: true},
	}
	cleanup := func() {}
	if mo != nil && mo.Prepare != nil {
		done, err := mo.Prepare(spec, opts)
		if err != nil {
			return failStart(err)
		}
		if done != nil {
			cleanup = done
		}
	}
	defer func() { cleanup() }()
	c, err := New(id, spec, opts)
	if err != nil {
		return failStart(err)
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
	defer signal.Stop(sigs)
	err = c.Start()
	pw.Close()
	null.Close()
	if err != nil {
		pr.Close()
		return failStart(err)
	}
	copied := make(chan struct{})
	go func() {
		io.Copy(log, pr)
		pr.Close()
		close(copied)
	}()
	rep(monitorReport{})
	// the first nook exec finds the cache of what it needs of the spec
	// made (execParts: the spec's process, its seccomp filter compiled),
	// here, where nook run -d has already returned: a first exec that
	// made it took 2.3 ms longer than the next (measured on a loaded
	// 2-core VM). One that comes first makes the same cache, atomically
	execParts(store, id)

	go func() {
		for sig := range sigs {
			c.Signal(sig.(syscall.Signal))
		}
	}()
	_, werr := c.Wait(ctx)
	// the output is complete before the end is recorded (by Close)
	select {
	case <-copied:
	case <-time.After(time.Second):
		pr.Close() // a process outside the pid namespace holds the pipe
	}
	// what Prepare holds goes before the end is recorded (by Close), so
	// that nothing of the sandbox is left once it is recorded stopped
	cleanup()
	cleanup = func() {}
	return errors.Join(werr, c.Close())
}

// cgroupUndo lists the directories of the sandbox's cgroup, then those
// made above it for its cgroupsPath, as the state records them.
func (c *Container) cgroupUndo() []state.Undo {
	if c.cgroup == nil {
		return nil
	}
	return cgroupUndo(c.cgroup.Paths(), c.cgroup.Parents())
}

func cgroupUndo(dirs, parents []string) []state.Undo {
	var u []state.Undo
	for _, dir := range dirs {
		u = append(u, state.Undo{Kind: state.UndoCgroup, Path: dir})
	}
	for _, dir := range parents {
		u = append(u, state.Undo{Kind: state.UndoCgroupParent, Path: dir})
	}
	return u
}

// cappedLog is a file that is rotated (to NAME.1) when it reaches its cap.
type cappedLog struct {
	path string
	max  int64
	f    *os.File
	size int64
}

func openLog(path string, max int64) (*cappedLog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	fi, _ := f.Stat()
	l := &cappedLog{path: path, max: max, f: f}
	if fi != nil {
		l.size = fi.Size()
	}
	return l, nil
}

func (l *cappedLog) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		room := l.max - l.size
		if room <= 0 {
			if err := l.rotate(); err != nil {
				return n - len(p), err
			}
			continue
		}
		chunk := p[:min(int64(len(p)), room)]
		w, err := l.f.Write(chunk)
		l.size += int64(w)
		p = p[w:]
		if err != nil {
			return n - len(p), err
		}
	}
	return n, nil
}

func (l *cappedLog) rotate() error {
	l.f.Close()
	if err := os.Rename(l.path, l.path+".1"); err != nil {
		return fmt.Errorf("rotate log: %w", err)
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("rotate log: %w", err)
	}
	l.f, l.size = f, 0
	return nil
}

func (l *cappedLog) Close() error { return l.f.Close() }

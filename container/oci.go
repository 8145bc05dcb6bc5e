package container

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/nookrun/nook/internal/spawn"
	"github.com/nookrun/nook/spec"
	"github.com/nookrun/nook/state"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// HoldFile is the FIFO in a created container's state directory that its
// init waits on before exec; Instance.Start writes the byte it waits for.
const HoldFile = "exec.fifo"

// StartFile is the FIFO in a created container's state directory that
// tells Instance.Start how the start went: init holds its write end,
// close-on-exec, and from start's byte on writes its error record there
// (spawn.ReadError) if a startContainer hook or the exec fails; the
// command's exec closes it, which start reads as EOF with no record.
// Whoever reaps init, and however quickly the command ends, the answer
// is in the FIFO.
const StartFile = "start.fifo"

// CreateOptions say how Create makes an OCI container (runc's create).
type CreateOptions struct {
	// Bundle is the OCI bundle directory: relative paths in the spec
	// start from it, and state reports it.
	Bundle string
	// Stdin, Stdout and Stderr are the container's; nil means the
	// caller's own. They are handed over as they are.
	Stdin, Stdout, Stderr *os.File
	// ExtraFiles become fds 3, 4, ... in the container (runc's
	// --preserve-fds and LISTEN_FDS).
	ExtraFiles []*os.File
	// ConsoleSocket is the path of a unix socket the pseudo-terminal's
	// master is sent over (SCM_RIGHTS), for a spec with
	// process.terminal; required then.
	ConsoleSocket string
	// NoPivot is Options.NoPivot (runc's --no-pivot).
	NoPivot bool
	// Warnf and Debugf are Options.Warnf and Options.Debugf.
	Warnf, Debugf func(format string, args ...any)
}

// Create makes OCI container id from spec, recorded in store: its cgroup,
// namespaces, root file system and every other step, with init stopped
// just before it execs the command, until Instance.Start. Create returns
// once that is done; init does not depend on the calling process and
// becomes the child of the nearest subreaper (containerd's shim,
// conmon) when the caller exits. A failure leaves nothing: no state, no
// cgroup, no process.
func Create(store *state.Store, id string, spec *specs.Spec, o *CreateOptions) (*Instance, error) {
	if o == nil {
		o = &CreateOptions{}
	}
	if err := state.CheckID(id); err != nil {
		return nil, err
	}
	if spec != nil && spec.Process != nil && spec.Process.Terminal && o.ConsoleSocket == "" {
		return nil, fieldErr("process.terminal", "a console socket is needed to pass the terminal on (CreateOptions.ConsoleSocket)")
	}
	var console *net.UnixConn
	if o.ConsoleSocket != "" {
		c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: o.ConsoleSocket, Net: "unix"})
		if err != nil {
			return nil, fmt.Errorf("console socket %s: %w", o.ConsoleSocket, err)
		}
		defer c.Close()
		console = c
	}
	c, err := New(id, spec, &Options{
		Bundle: o.Bundle, Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, ExtraFiles: o.ExtraFiles, Warnf: o.Warnf,
		NoPivot: o.NoPivot, Debugf: o.Debugf,
		// every hierarchy, not only the limits': pause needs the
		// freezer, events and the engines' statistics the accounts
		Cgroup: CgroupAuto, Accounting: true, Record: &Record{Store: store}, hold: true,
	})
	if err != nil {
		return nil, err
	}
	if err := c.Start(); err != nil {
		if c.proc != nil {
			// the child failed a step (Start has killed and reaped
			// it): with no janitor for a held container, what was
			// made goes here
			c.cgroup.Destroy()
			c.recordAbort()
		}
		return nil, err
	}
	fail := func(err error) (*Instance, error) {
		c.proc.Signal(unix.SIGKILL)
		c.proc.Close()
		c.cgroup.Destroy()
		c.recordAbort()
		return nil, err
	}
	if c.tty != nil {
		err := sendFD(console, c.tty)
		c.tty.Close()
		c.tty = nil
		if err != nil {
			return fail(fmt.Errorf("console socket %s: %w", o.ConsoleSocket, err))
		}
	}
	h, err := store.Lock(id)
	if err != nil {
		return fail(err)
	}
	if hk := spec.Hooks; hk != nil {
		// prestart is createRuntime's older name: both run now, on the
		// host, while init waits; their state says created, as the
		// conformance suite (runtime-spec 1.0.2) wants for prestart
		for _, ph := range []struct {
			name  string
			hooks []specs.Hook
		}{{"createRuntime", hk.CreateRuntime}, {"prestart", hk.Prestart}} {
			if err := runHooks(ph.name, ph.hooks, h.State, state.Created); err != nil {
				h.Close()
				return fail(err)
			}
		}
	}
	err = h.Transition(state.Created)
	h.Close()
	if err != nil {
		return fail(err)
	}
	// init now waits on its FIFO; it is not ours to kill or reap
	c.proc.Abandon()
	c.closed = true
	return LoadIn(store, id)
}

// sendFD passes f over conn, as runc passes a console's master.
func sendFD(conn *net.UnixConn, f *os.File) error {
	rights := unix.UnixRights(int(f.Fd()))
	_, _, err := conn.WriteMsgUnix([]byte("/dev/ptmx"), rights, nil)
	return err
}

// holdFifo makes the FIFO that init waits on, in the state directory, and
// opens it for init: read and write, so that init's read blocks until
// start writes, rather than ending at once for want of a writer.
func (c *Container) holdFifo() (*os.File, error) {
	path := filepath.Join(c.opts.Record.Store.Path(c.id), HoldFile)
	if err := unix.Mkfifo(path, 0o600); err != nil {
		return nil, &os.PathError{Op: "mkfifo", Path: path, Err: err}
	}
	return os.OpenFile(path, os.O_RDWR|unix.O_CLOEXEC, 0)
}

// startFifo makes StartFile and opens its write end for init. A reader
// is open meanwhile, as opening a FIFO to write needs one; so, when start
// opens its own, a writer (init) is there, and the kernel reports the
// writer's close (POLLHUP) to start's non-blocking read.
func (c *Container) startFifo() (*os.File, error) {
	path := filepath.Join(c.opts.Record.Store.Path(c.id), StartFile)
	if err := unix.Mkfifo(path, 0o600); err != nil {
		return nil, &os.PathError{Op: "mkfifo", Path: path, Err: err}
	}
	r, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return os.OpenFile(path, os.O_WRONLY|unix.O_CLOEXEC, 0)
}

// Start lets a created container's init exec its command (runc's start).
// Only a created container can be started, once.
func (in *Instance) Start() error {
	h, err := in.store.Lock(in.State.ID)
	if err != nil {
		return err
	}
	defer h.Close()
	in.State = h.State
	if cur := h.State.Current(); !cur.CanStart() {
		return fmt.Errorf("container %s is %s: only a created container can be started", h.State.ID, cur)
	}
	hooks, _ := storedHooks(in.store, h.State.ID)
	// opened before the byte, while init holds the write end: whether
	// the startContainer hooks and the exec went well is read there
	// (runc's start fails with them too)
	// A container created by a nook older than StartFile has none: it
	// starts, unseen, as it would have then.
	status, err := os.OpenFile(filepath.Join(h.Dir(), StartFile), os.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	switch {
	case err == nil:
		defer status.Close()
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("start container %s: %w", h.State.ID, err)
	}
	path := filepath.Join(h.Dir(), HoldFile)
	// non-blocking: with init gone there is no reader, and the open
	// fails (ENXIO) instead of waiting for ever
	f, err := os.OpenFile(path, os.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("start container %s: %w", h.State.ID, err)
	}
	_, err = f.Write([]byte{0})
	f.Close()
	if err != nil {
		return fmt.Errorf("start container %s: %w", h.State.ID, err)
	}
	os.Remove(path)
	var startHooks []specs.Hook
	if hooks != nil {
		startHooks = hooks.StartContainer
	}
	// bounded by the hooks' own timeouts (init enforces them); a hook
	// with none could run for ever, and start then says so
	var serr error
	if status != nil {
		status.SetReadDeadline(time.Now().Add(hookLimit(startHooks)))
		serr = spawn.ReadError(status)
		os.Remove(filepath.Join(h.Dir(), StartFile))
	}
	if errors.Is(serr, os.ErrDeadlineExceeded) {
		return fmt.Errorf("start container %s: its startContainer hooks still run after %v", h.State.ID, hookLimit(startHooks))
	}
	// recorded as running even if the command has ended already (true
	// ends before this line), or never ran: it was created, and started
	now := time.Now().UTC()
	h.State.Status = state.Running
	h.State.Started = &now
	if err := h.Save(); err != nil {
		return err
	}
	in.State = h.State
	if serr != nil {
		// init has exited, and the container is stopped: no poststart
		return fmt.Errorf("start container %s: %w", h.State.ID, serr)
	}
	// a poststart hook that fails does not undo the start (the runtime
	// spec: it is logged); the caller gets the error
	if hooks != nil {
		if err := runHooks("poststart", hooks.Poststart, h.State, state.Running); err != nil {
			return err
		}
	}
	return nil
}

// hookLimit bounds how long the startContainer hooks may take: their
// timeouts, or defaultHookWait each where a hook has none, and
// execWait for the rest of init's way to exec (generous: it bounds only a
// start that never ends, on a machine that may be loaded).
func hookLimit(hooks []specs.Hook) time.Duration {
	const defaultHookWait, execWait = 30 * time.Second, 10 * time.Second
	d := execWait
	for _, h := range hooks {
		if h.Timeout != nil && *h.Timeout > 0 {
			d += time.Duration(*h.Timeout) * time.Second
		} else {
			d += defaultHookWait
		}
	}
	return d
}

// Delete removes an OCI container (runc's delete): its state, cgroup and
// whatever else it left. One that is not stopped is refused unless force
// is set; then it is killed first.
func (in *Instance) Delete(force bool) error {
	h, err := in.store.Lock(in.State.ID)
	if err != nil {
		return err
	}
	cur := h.State.Current()
	if h.State.Monitor.Alive() && h.State.Monitor.Pid != os.Getpid() && cur != state.Creating {
		// a sandbox with a monitor of its own (nook run -d, --name): the
		// monitor records the end and cleans up
		h.Close()
		return in.Remove(force)
	}
	if !cur.CanDelete(force) {
		h.Close()
		return fmt.Errorf("container %s is %s: stop it first, or delete it with force", h.State.ID, cur)
	}
	defer h.Close()
	if cur != state.Stopped || h.State.Init.Alive() {
		h.State.Init.Signal(unix.SIGKILL)
		// a frozen init (v1) dies only once thawed
		thawForKill(h)
		// what init started outside its pid namespace, and what a
		// killed create left: the cgroup's processes go with undo
		waitGone(h.State.Init, time.Now().Add(killWait))
	}
	if h.State.Status != state.Stopped {
		h.State.Status = state.Stopped
	}
	uerr := undo(h.State)
	var hooks []specs.Hook
	if sh, err := storedHooks(in.store, h.State.ID); err == nil && sh != nil {
		hooks = sh.Poststop
	}
	st := *h.State
	if err := h.Remove(); err != nil {
		return err
	}
	// after everything is gone, as the runtime spec says; a failure is
	// reported, the delete stands
	return errors.Join(uerr, runHooks("poststop", hooks, &st, state.Stopped))
}

// storedHooks reads the hooks of the spec recorded for container id,
// all that the OCI commands start and delete need of it: spec.DecodeHooks
// builds no decoder for the rest of the spec (median peak RSS, 21 runs:
// start 8536 -> 8348 KiB, delete 8408 -> 8348, against spec.Decode).
func storedHooks(store *state.Store, id string) (*specs.Hooks, error) {
	b, err := os.ReadFile(store.SpecFile(id))
	if err != nil {
		return nil, err
	}
	h, err := spec.DecodeHooks(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", store.SpecFile(id), err)
	}
	return h, nil
}

package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nookrun/nook/cgroups"
	"github.com/nookrun/nook/namespaces"
	"github.com/nookrun/nook/state"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Instance is a sandbox known by its state on disk: one started detached
// (Detach), or by another nook process. Its methods act on the processes
// the state records, checked by start time, so a PID that the kernel has
// given to another process is never signalled.
type Instance struct {
	store *state.Store
	// State is the state as last read (Refresh reads it again).
	State *state.State
}

// Load reads the state of sandbox ref (an ID or a name) from the default
// state directory (state.DefaultDir).
func Load(ref string) (*Instance, error) {
	return LoadFrom("", ref)
}

// LoadFrom reads the state of sandbox ref from the state directory root
// ("" for the default).
func LoadFrom(root, ref string) (*Instance, error) {
	s, err := state.Open(root)
	if err != nil {
		return nil, err
	}
	return LoadIn(s, ref)
}

// LoadIn reads the state of sandbox ref from store.
func LoadIn(s *state.Store, ref string) (*Instance, error) {
	st, err := s.Load(ref)
	if err != nil {
		return nil, err
	}
	return &Instance{store: s, State: st}, nil
}

// Refresh reads the state again.
func (in *Instance) Refresh() error {
	st, err := in.store.Load(in.State.ID)
	if err != nil {
		return err
	}
	in.State = st
	return nil
}

// Spec reads the OCI runtime spec the sandbox runs.
func (in *Instance) Spec() (*specs.Spec, error) { return in.store.Spec(in.State.ID) }

// Status is the sandbox's status now (see state.State.Current).
func (in *Instance) Status() state.Status { return in.State.Current() }

// ErrNotRunning is what signalling a sandbox whose init has ended wraps.
// Its words are runc's: containerd's shim takes an error that says
// "container not running" for a process that has finished already, not
// for a failure (so a pod's stop goes on).
var ErrNotRunning = errors.New("container not running")

// lockToSignal locks the sandbox's state, refreshes in.State from it, and
// checks that the sandbox has something to signal; with stoppedToo a
// stopped one passes as well (what is left in its cgroup). The caller
// closes the handle.
func (in *Instance) lockToSignal(stoppedToo bool) (*state.Handle, error) {
	h, err := in.store.Lock(in.State.ID)
	if err != nil {
		return nil, err
	}
	in.State = h.State
	cur := h.State.Current()
	if !cur.CanKill() && !(stoppedToo && cur == state.Stopped) {
		h.Close()
		return nil, fmt.Errorf("sandbox %s is %s: %w", h.State.DisplayName(), cur, ErrNotRunning)
	}
	return h, nil
}

// Signal sends sig to the sandbox's init (nook's init passes it on to the
// command). It fails for a sandbox that is not created, running or
// paused.
func (in *Instance) Signal(sig unix.Signal) error {
	h, err := in.lockToSignal(false)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := h.State.Init.Signal(sig); err != nil {
		if errors.Is(err, state.ErrGone) {
			return fmt.Errorf("sandbox %s is stopped: %w", h.State.DisplayName(), ErrNotRunning)
		}
		return err
	}
	if sig == unix.SIGKILL {
		return thawForKill(h)
	}
	return nil
}

// SignalAll sends sig to every process of the sandbox (runc's kill --all).
// Each is held by a pidfd and checked to still be the sandbox's before
// the signal goes, so a PID reused meanwhile is not signalled. A stopped
// sandbox is no error, as with runc: its init is gone, but processes
// exec'd into a pid namespace it shared (a Kubernetes pod's) may be left
// in its cgroup, and containerd's shim kills those with kill --all after
// init's exit.
func (in *Instance) SignalAll(sig unix.Signal) error {
	h, err := in.lockToSignal(true)
	if err != nil {
		return err
	}
	defer h.Close()
	pids, err := in.Processes()
	if err != nil {
		return err
	}
	var errs []error
	for _, pid := range pids {
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue // gone
		}
		again, _ := in.Processes()
		if slices.Contains(again, pid) {
			if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil && err != unix.ESRCH {
				errs = append(errs, fmt.Errorf("signal %d to pid %d: %w", sig, pid, err))
			}
		}
		unix.Close(fd)
	}
	if sig == unix.SIGKILL {
		errs = append(errs, thawForKill(h))
	}
	return errors.Join(errs...)
}

// waitGone waits until p has ended, or until the deadline; it reports
// whether p has ended.
func waitGone(p state.Process, until time.Time) bool {
	fd, err := p.Open()
	if err != nil {
		return true // already gone
	}
	defer unix.Close(fd)
	for {
		left := time.Until(until)
		if left <= 0 {
			return false
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(min(left, time.Second).Milliseconds())+1)
		if err == nil && n > 0 {
			return true
		}
		if err != nil && err != unix.EINTR {
			return !p.Alive()
		}
	}
}

// Stop sends SIGTERM to the sandbox, and SIGKILL after timeout if it is
// still running; then it waits until its monitor has recorded the end.
func (in *Instance) Stop(ctx context.Context, timeout time.Duration) error {
	if cur := in.Status(); !cur.CanKill() {
		return in.Wait(ctx)
	}
	if err := in.Signal(unix.SIGTERM); err != nil && in.Status().CanKill() {
		return err
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if !waitGone(in.State.Init, deadline) {
		if err := in.Signal(unix.SIGKILL); err != nil && in.Status().CanKill() {
			return err
		}
		waitGone(in.State.Init, time.Now().Add(killWait))
	}
	return in.Wait(ctx)
}

// killWait is how long nook waits for a SIGKILLed process to go.
const killWait = 5 * time.Second

// Wait waits until the sandbox has stopped and its monitor has recorded
// how (State.Exit), or has died without recording it (State.Exit nil).
func (in *Instance) Wait(ctx context.Context) error {
	for {
		if err := in.Refresh(); err != nil {
			return err
		}
		st := in.State
		if st.Status == state.Stopped {
			return nil
		}
		if !st.Monitor.Alive() && !st.Init.Alive() {
			// the monitor writes the end before it exits: read the state
			// once more, now that it is gone, not to miss what it wrote
			// since the first read
			return in.Refresh()
		}
		// the monitor records the end right after init's: wait on
		// whichever of them lives
		p := st.Init
		if !p.Alive() {
			p = st.Monitor
		}
		until := time.Now().Add(100 * time.Millisecond)
		if p.Alive() {
			until = time.Now().Add(time.Second)
		}
		if d, ok := ctx.Deadline(); ok && d.Before(until) {
			until = d
		}
		if p.Alive() {
			waitGone(p, until)
		} else {
			time.Sleep(time.Until(until))
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// Remove deletes the sandbox: its state and whatever its Undo list says
// is left on the host. A sandbox that is not stopped is refused unless
// force is set; then it is killed first.
func (in *Instance) Remove(force bool) error {
	h, err := in.store.Lock(in.State.ID)
	if err != nil {
		return err
	}
	cur := h.State.Current()
	if !cur.CanDelete(force) {
		h.Close()
		return fmt.Errorf("sandbox %s is %s: stop it first (nook stop %s), or remove it with -f", h.State.DisplayName(), cur, h.State.DisplayName())
	}
	if cur != state.Stopped {
		// kill it, then let its monitor record the end and clean up:
		// the monitor needs the lock for that
		h.State.Init.Signal(unix.SIGKILL)
		init := h.State.Init
		h.Close()
		waitGone(init, time.Now().Add(killWait))
		ctx, cancel := context.WithTimeout(context.Background(), killWait)
		err := in.Wait(ctx)
		cancel()
		if errors.Is(err, state.ErrNotExist) {
			return nil // removed by its monitor (--rm) or another nook
		}
		if h, err = in.store.Lock(in.State.ID); err != nil {
			if errors.Is(err, state.ErrNotExist) {
				return nil
			}
			return err
		}
	}
	// what the monitor did not remove (it was killed, say): the monitor
	// itself is left alone, it may be a program that watches others too
	uerr := undo(h.State)
	if err := h.Remove(); err != nil {
		return err
	}
	return uerr
}

// ForceRemove removes a sandbox whose state cannot be read (damaged, or
// written by another version of nook): what its directory holds is
// deleted, and its cgroups, found by its ID, are killed and removed.
func ForceRemove(s *state.Store, ref string) error {
	h, err := s.LockDamaged(ref)
	if err != nil {
		return err
	}
	if m, err := cgroups.Open(h.State.ID); err == nil {
		m.Destroy()
	}
	return h.Remove()
}

// undo removes what the state says the sandbox left on the host.
func undo(st *state.State) error {
	var errs []error
	var cgroupDirs []string
	for _, u := range st.Undo {
		if u.Kind == state.UndoCgroup || u.Kind == state.UndoCgroupParent {
			cgroupDirs = append(cgroupDirs, u.Path)
		}
	}
	// the directories recorded, and only those: a cgroupsPath's
	// parents that existed before are another owner's. Deepest first,
	// whatever order they were recorded in (a parent found missing late
	// is recorded after the others).
	slices.SortStableFunc(cgroupDirs, func(a, b string) int {
		return strings.Count(b, "/") - strings.Count(a, "/")
	})
	if err := cgroups.DestroyPaths(st.ID, cgroupDirs); err != nil {
		errs = append(errs, err)
	}
	for _, u := range st.Undo {
		switch u.Kind {
		case state.UndoMount, state.UndoNSBind:
			if err := unix.Unmount(u.Path, unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT {
				errs = append(errs, fmt.Errorf("umount %s: %w", u.Path, err))
			}
			if u.Kind == state.UndoNSBind {
				os.Remove(u.Path)
			}
		case state.UndoLease, state.UndoFile:
			if err := os.Remove(u.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Processes lists the host PIDs of the sandbox's processes: those of its
// cgroup, or, without one, those in its init's pid namespace.
func (in *Instance) Processes() ([]int, error) {
	st := in.State
	// the cgroup, where there is one, also has what outlived init
	for _, u := range st.Undo {
		if u.Kind != state.UndoCgroup {
			continue
		}
		b, err := os.ReadFile(u.Path + "/cgroup.procs")
		if err != nil {
			continue
		}
		var pids []int
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
		return pids, nil
	}
	if !st.Init.Alive() {
		return nil, nil
	}
	target, err := joinTarget(st.Init)
	if err != nil {
		return nil, err
	}
	want, err := namespaces.Inode(target, namespaces.PID)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ino, err := namespaces.Inode(pid, namespaces.PID); err == nil && ino == want {
			pids = append(pids, pid)
		}
	}
	if len(pids) == 0 {
		pids = []int{st.Init.Pid}
	}
	slices.Sort(pids)
	return pids, nil
}

package container

import (
	"errors"
	"os"
	"slices"

	"github.com/nookrun/nook/state"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Record asks a Container run in the foreground to keep its state in a
// state directory while it runs, so that other nook processes can list,
// enter, signal and stop it (nook run --name). Its process is the
// sandbox's monitor.
type Record struct {
	Store *state.Store
	// Name is the user's name for the sandbox; empty for none.
	Name string
	// AutoRemove removes the state once the sandbox has stopped;
	// otherwise it stays, stopped, until removed (nook rm).
	AutoRemove bool
	// created: the state exists already (Detach made it; Monitor runs
	// the sandbox)
	created bool
}

// recordCreate records the sandbox as creating, before anything exists.
func (c *Container) recordCreate() error {
	r := c.opts.Record
	if r == nil {
		return nil
	}
	if c.id == "" {
		c.id = state.NewID()
	}
	self, err := state.Identify(os.Getpid())
	if err != nil {
		return err
	}
	if r.created {
		h, err := r.Store.Lock(c.id)
		if err != nil {
			return err
		}
		defer h.Close()
		h.State.Monitor = self
		return h.Save()
	}
	h, err := r.Store.Create(&state.State{
		OCIVersion: specs.Version, ID: c.id, Name: r.Name, Status: state.Creating,
		NookInit: c.opts.Init, DenySetgroups: c.opts.DenySetgroups, AutoRemove: r.AutoRemove,
		Bundle: c.opts.Bundle, Spec: c.spec, Monitor: self, Annotations: c.spec.Annotations,
	})
	if err != nil {
		return err
	}
	h.Close()
	return nil
}

// recordStart records init and what must be undone, and the sandbox as
// running.
func (c *Container) recordStart() error {
	if c.opts.Record == nil {
		return nil
	}
	h, err := c.opts.Record.Store.Lock(c.id)
	if err != nil {
		return err
	}
	defer h.Close()
	return markRunning(h, c)
}

func markRunning(h *state.Handle, c *Container) error {
	init, err := state.Identify(c.Pid())
	if err != nil {
		return err
	}
	h.State.Init = init
	if !c.opts.hold { // recorded already (recordCgroup)
		h.State.Undo, _ = c.cgroupRecorded(h.State.Undo)
	}
	if c.opts.hold {
		// saved before the child runs its steps, so that delete finds
		// init and the cgroup even if create is killed halfway; Create
		// records it created once every step has run
		return h.Save()
	}
	return h.Transition(state.Running)
}

// reserveCgroup records the cgroup directories that cgroups.Create is
// about to make (cgroups.Options.Reserve), before the first mkdir: a
// SIGKILL between the mkdirs and a record made after them would leave
// them to nobody. Undo removes what of them exists (none may: Create
// refuses one that existed before it is reserved, so the list never
// holds another sandbox's).
func (c *Container) reserveCgroup(dirs, parents []string) error {
	if c.opts.Record == nil || len(dirs)+len(parents) == 0 {
		return nil
	}
	u := cgroupUndo(dirs, parents)
	h, err := c.opts.Record.Store.Lock(c.id)
	if err != nil {
		return err
	}
	defer h.Close()
	h.State.Undo = append(h.State.Undo, u...)
	if err := h.Save(); err != nil {
		return err
	}
	// a second call reserves a parent found missing after the first
	c.reserved = append(c.reserved, u...)
	return nil
}

// cgroupRecorded returns undo with the cgroup's directories as Create
// made them in place of those reserved, and whether that changed it:
// a parent that someone else made between the reservation and the mkdir
// is theirs, not the sandbox's.
func (c *Container) cgroupRecorded(undo []state.Undo) ([]state.Undo, bool) {
	made := c.cgroupUndo()
	if slices.Equal(made, c.reserved) {
		return undo, false
	}
	undo = slices.DeleteFunc(undo, func(u state.Undo) bool { return slices.Contains(c.reserved, u) })
	c.reserved = made
	return append(undo, made...), true
}

// recordCgroup records the sandbox's cgroup for removal as Create made
// it, before any process is in it (reserveCgroup recorded it already,
// unless someone else made one of its parents meanwhile).
func (c *Container) recordCgroup() error {
	if c.opts.Record == nil || c.cgroup == nil {
		return nil
	}
	if slices.Equal(c.cgroupUndo(), c.reserved) {
		return nil
	}
	h, err := c.opts.Record.Store.Lock(c.id)
	if err != nil {
		return err
	}
	defer h.Close()
	h.State.Undo, _ = c.cgroupRecorded(h.State.Undo)
	return h.Save()
}

// recordAbort removes the record of a sandbox that could not start.
func (c *Container) recordAbort() {
	if c.opts.Record == nil {
		return
	}
	if h, err := c.opts.Record.Store.Lock(c.id); err == nil {
		h.Remove()
	}
}

// recordEnd records how the sandbox ended, once what it made is removed.
func (c *Container) recordEnd(res *Result, werr, cerr error) error {
	if c.opts.Record == nil {
		return nil
	}
	return markStopped(c.opts.Record.Store, c.id, res, werr, cerr)
}

func markStopped(s *state.Store, id string, res *Result, werr, cerr error) error {
	h, err := s.Lock(id)
	if err != nil {
		if errors.Is(err, state.ErrNotExist) {
			return nil // removed meanwhile (rm -f)
		}
		return err
	}
	defer h.Close()
	st := h.State
	if res != nil {
		st.Exit = &state.Exit{
			Code: res.ExitCode, Signal: int(res.Signal), Killed: res.Killed,
			CPUTimeMS: res.CPU.Milliseconds(), WallTimeMS: res.Wall.Milliseconds(),
			MaxRSSKiB: res.Rusage.Maxrss,
		}
	}
	if werr != nil {
		st.Error = werr.Error()
	}
	if cerr == nil {
		st.Undo = nil // the janitor removed it all
	}
	if err := h.Transition(state.Stopped); err != nil {
		return err
	}
	if st.AutoRemove {
		undo(st)
		return h.Remove()
	}
	return nil
}

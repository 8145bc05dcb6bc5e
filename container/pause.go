package container

import (
	"errors"
	"fmt"

	"github.com/nookrun/nook/cgroups"
	"github.com/nookrun/nook/spec"
	"github.com/nookrun/nook/state"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ErrNoCgroup is returned by Pause, Resume, Update and Stats for a
// sandbox that has no cgroup of its own: one that nothing needed a cgroup
// for (CgroupNeed: `nook run --name` without limits, an unprivileged one
// without limits), or one run with CgroupNever.
var ErrNoCgroup = errors.New("the sandbox has no cgroup of its own")

// cgroupOf opens the sandbox's cgroups from the directories its state
// records.
func cgroupOf(st *state.State) (*cgroups.Manager, error) {
	var dirs []string
	for _, u := range st.Undo {
		if u.Kind == state.UndoCgroup || u.Kind == state.UndoCgroupParent {
			dirs = append(dirs, u.Path)
		}
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("sandbox %s: %w", st.DisplayName(), ErrNoCgroup)
	}
	return cgroups.OpenPaths(st.ID, dirs)
}

// Pause freezes every process of a running sandbox (runc's pause): the
// cgroup freezer, v1's freezer.state or v2's cgroup.freeze. Its status is
// paused until Resume.
func (in *Instance) Pause() error {
	return in.freeze(true)
}

// Resume thaws a paused sandbox (runc's resume).
func (in *Instance) Resume() error {
	return in.freeze(false)
}

func (in *Instance) freeze(frozen bool) error {
	h, err := in.store.Lock(in.State.ID)
	if err != nil {
		return err
	}
	defer h.Close()
	in.State = h.State
	cur := h.State.Current()
	to, ok := state.Running, cur.CanResume()
	if frozen {
		to, ok = state.Paused, cur.CanPause()
	}
	if !ok {
		return &state.TransitionError{ID: h.State.DisplayName(), From: cur, To: to}
	}
	m, err := cgroupOf(h.State)
	if err != nil {
		return err
	}
	if frozen {
		err = m.Freeze()
	} else {
		err = m.Thaw()
	}
	if err != nil {
		return err
	}
	return h.Transition(to)
}

// thawForKill thaws a paused sandbox so that a fatal signal takes
// effect (a v1-frozen task does not die until thawed) and records it
// running again, as runc does for a kill of a paused container.
func thawForKill(h *state.Handle) error {
	if h.State.Current() != state.Paused {
		return nil
	}
	m, err := cgroupOf(h.State)
	if err != nil {
		return err
	}
	if err := m.Thaw(); err != nil {
		return err
	}
	// the signal already sent may end init the moment it thaws: stopped
	// is then what the kill was for (seen under load)
	if err := h.Transition(state.Running); err != nil && h.State.Current() != state.Stopped {
		return err
	}
	return nil
}

// Update changes the limits of a created, running or paused sandbox
// (runc's update): the fields of r that are set; see cgroups.Manager.Update.
// Errors about a limit are *spec.FieldError naming its field.
func (in *Instance) Update(r *specs.LinuxResources) error {
	h, err := in.store.Lock(in.State.ID)
	if err != nil {
		return err
	}
	defer h.Close()
	in.State = h.State
	if cur := h.State.Current(); !cur.CanKill() {
		return fmt.Errorf("sandbox %s is %s: only a created, running or paused one can be updated", h.State.DisplayName(), cur)
	}
	m, err := cgroupOf(h.State)
	if err != nil {
		return err
	}
	if err := m.Update(r); err != nil {
		var le *cgroups.LimitError
		if errors.As(err, &le) {
			return &spec.FieldError{Field: resourceField(le.Limit), Err: err}
		}
		return err
	}
	return nil
}

// Stats are a sandbox's resource usage and the limits in force, for
// runc's events.
type Stats struct {
	cgroups.Stats
	Limits cgroups.Limits
}

// Stats reads the sandbox's usage from its cgroup.
func (in *Instance) Stats() (*Stats, error) {
	m, err := cgroupOf(in.State)
	if err != nil {
		return nil, err
	}
	st, err := m.Stats()
	if err != nil {
		return nil, err
	}
	l, err := m.Limits()
	if err != nil {
		return nil, err
	}
	return &Stats{Stats: *st, Limits: *l}, nil
}

package state

import "fmt"

// Status is where a sandbox is in its life, as the OCI runtime spec names
// the states.
type Status string

// The statuses, in the order a sandbox goes through them.
const (
	// Creating: nook is making the sandbox; its init does not run yet.
	Creating Status = "creating"
	// Created: the sandbox exists and its init waits before exec
	// (OCI create).
	Created Status = "created"
	// Running: the command runs.
	Running Status = "running"
	// Paused: every process of the sandbox is frozen.
	Paused Status = "paused"
	// Stopped: the command has ended; what is left is the record.
	Stopped Status = "stopped"
)

// next lists, for each status, the ones it may change to: a table, not a
// map, as a map literal is built by code at package initialisation.
var next = [...]struct {
	from Status
	to   []Status
}{
	{Creating, []Status{Created, Running, Stopped}},
	{Created, []Status{Running, Stopped}},
	{Running, []Status{Paused, Stopped}},
	{Paused, []Status{Running, Stopped}},
	{Stopped, nil},
}

// nextOf returns the statuses s may change to, and whether s is one.
func nextOf(s Status) ([]Status, bool) {
	for _, n := range next {
		if n.from == s {
			return n.to, true
		}
	}
	return nil, false
}

// Valid reports whether s is one of the five statuses.
func (s Status) Valid() bool {
	_, ok := nextOf(s)
	return ok
}

// CanBecome reports whether a sandbox in status s may move to status to.
func (s Status) CanBecome(to Status) bool {
	tos, _ := nextOf(s)
	for _, n := range tos {
		if n == to {
			return true
		}
	}
	return false
}

// CanStart: only a created sandbox can be started.
func (s Status) CanStart() bool { return s == Created }

// CanKill: signals go to a sandbox whose init exists.
func (s Status) CanKill() bool { return s == Created || s == Running || s == Paused }

// CanExec: a new process can join only a running sandbox.
func (s Status) CanExec() bool { return s == Running }

// CanPause and CanResume: freezing is for running sandboxes.
func (s Status) CanPause() bool  { return s == Running }
func (s Status) CanResume() bool { return s == Paused }

// CanDelete: a sandbox is removed once stopped; with force, in any status
// (it is killed first).
func (s Status) CanDelete(force bool) bool { return force || s == Stopped }

// TransitionError is a change of status the rules do not allow.
type TransitionError struct {
	ID       string
	From, To Status
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("sandbox %s is %s: it cannot become %s", e.ID, e.From, e.To)
}

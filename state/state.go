package state

import (
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// FormatVersion names the layout of state.json. A state written in another
// format is refused with a clear error rather than half-read.
const FormatVersion = "nook.state/1"

// State is everything nook records about one sandbox.
type State struct {
	// Format is FormatVersion.
	Format string `json:"format"`
	// OCIVersion is the runtime spec version, as `state` reports it.
	OCIVersion string `json:"ociVersion"`
	ID         string `json:"id"`
	// Name is the user's name for the sandbox (--name); empty for OCI
	// containers, which have only an ID.
	Name   string `json:"name,omitempty"`
	Status Status `json:"status"`
	// Init is the sandbox's PID 1 on the host, with its start time.
	Init Process `json:"init"`
	// Monitor is the process that waits for init and records its end:
	// nook's monitor for a detached sandbox, or the nook that runs it in
	// the foreground.
	Monitor Process `json:"monitor"`
	// NookInit: nook's init is PID 1 and the command its child.
	NookInit bool `json:"nook_init,omitempty"`
	// DenySetgroups: "deny" was written to the user namespace's
	// setgroups (an unprivileged creator).
	DenySetgroups bool `json:"deny_setgroups,omitempty"`
	// AutoRemove: the monitor removes the state once the sandbox stops.
	AutoRemove bool `json:"auto_remove,omitempty"`
	// LogSize is the size at which Log is rotated to Log.1.
	LogSize int64 `json:"log_size,omitempty"`
	// Limits are the time limits the monitor enforces.
	Limits *TimeLimits `json:"limits,omitempty"`
	Bundle string      `json:"bundle,omitempty"`
	// Spec is the OCI runtime spec the sandbox runs. It is kept in a file
	// of its own (config.json, written once by Create), so that the
	// state, written at every change, stays small; Store.Spec reads it.
	Spec *specs.Spec `json:"-"`
	// Rootfs and Command summarise the spec for lists.
	Rootfs  string   `json:"rootfs,omitempty"`
	Command []string `json:"command,omitempty"`
	// Owner is the user ID of whoever created the sandbox.
	Owner       int               `json:"owner"`
	Created     time.Time         `json:"created"`
	Started     *time.Time        `json:"started,omitempty"`
	Finished    *time.Time        `json:"finished,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// Exit is how the command ended; nil until it has, and nil when
	// nobody saw it end (the monitor was killed).
	Exit *Exit `json:"exit,omitempty"`
	// Undo lists what must be removed from the host when the sandbox is
	// removed, in order.
	Undo []Undo `json:"undo,omitempty"`
	// Log is the file a detached sandbox's output goes to; empty in the
	// foreground.
	Log string `json:"log,omitempty"`
	// Error is why the sandbox could not be started, when it could not.
	Error string `json:"error,omitempty"`
}

// TimeLimits are a sandbox's time limits (see container.Limits).
type TimeLimits struct {
	CPUTimeMS  int64 `json:"cpu_time_ms,omitempty"`
	WallTimeMS int64 `json:"wall_time_ms,omitempty"`
	ExtraMS    int64 `json:"extra_time_ms,omitempty"`
	BestEffort bool  `json:"best_effort,omitempty"`
}

// Exit is how a sandbox's command ended and what it used.
type Exit struct {
	// Code is the exit status, or 128+N when signal N killed it.
	Code   int `json:"code"`
	Signal int `json:"signal,omitempty"`
	// CPUTimeMS is the CPU time (user and system) of the whole sandbox.
	CPUTimeMS int64 `json:"cpu_time_ms"`
	// WallTimeMS is the time from start to end.
	WallTimeMS int64 `json:"wall_time_ms"`
	// MaxRSSKiB is the largest resident set of any process of it.
	MaxRSSKiB int64 `json:"max_rss_kib"`
	// Killed names the limit nook killed it for, if any.
	Killed string `json:"killed,omitempty"`
}

// UndoKind says what an Undo entry removes.
type UndoKind string

// What a sandbox may leave on the host.
const (
	// UndoCgroup: a cgroup directory; its processes are killed, then it
	// is removed.
	UndoCgroup UndoKind = "cgroup"
	// UndoMount: a mount point, detached.
	UndoMount UndoKind = "mount"
	// UndoNSBind: a namespace bind-mounted to a file (/run/netns/NAME),
	// unmounted and the file removed.
	UndoNSBind UndoKind = "ns-bind"
	// UndoLease: a network address lease file, removed.
	UndoLease UndoKind = "lease"
	// UndoFile: a file, removed.
	UndoFile UndoKind = "file"
	// UndoCgroupParent: a cgroup directory made above the sandbox's own
	// (for linux.cgroupsPath), removed after it if nothing else uses it.
	UndoCgroupParent UndoKind = "cgroup-parent"
)

// Undo is one thing to remove from the host.
type Undo struct {
	Kind UndoKind `json:"kind"`
	Path string   `json:"path"`
}

// Current is the status now: the recorded one, unless the processes it
// depends on are gone. A sandbox recorded as created, running or paused
// whose init has ended is stopped; one still being created whose creator
// has ended never will be created, and counts as stopped too.
func (s *State) Current() Status {
	switch s.Status {
	case Created, Running, Paused:
		if !s.Init.Alive() {
			return Stopped
		}
	case Creating:
		if !s.Monitor.Alive() && !s.Init.Alive() {
			return Stopped
		}
	}
	return s.Status
}

// DisplayName is the name, or the ID when there is none.
func (s *State) DisplayName() string {
	if s.Name != "" {
		return s.Name
	}
	return s.ID
}

package container

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nookrun/nook/cgroups"
	"github.com/nookrun/nook/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Limits are time limits on a whole sandbox. When one is reached, every
// process of the sandbox is killed and Result.Killed names the limit.
type Limits struct {
	// CPUTime limits the CPU time of the whole sandbox, every process
	// together, as its cgroup accounts it.
	CPUTime time.Duration
	// WallTime limits the time from start to end.
	WallTime time.Duration
	// Extra is a grace period past each limit before the kill (isolate's
	// --extra-time): a run that ends within it still exceeded the
	// limit, but its output is complete.
	Extra time.Duration
	// BestEffort turns a cgroup limit the host cannot enforce into a
	// warning (Result.Warnings) instead of an error.
	BestEffort bool
}

// CgroupPolicy says when a sandbox gets a cgroup of its own.
type CgroupPolicy int

const (
	// CgroupAuto: when something needs one (CgroupNeed): limits, which
	// fail clearly where cgroups cannot be made, and, as root,
	// accounting, an OCI container, a shared pid namespace or device
	// rules that something could get past.
	CgroupAuto CgroupPolicy = iota
	// CgroupAlways: always; failing to make one is an error.
	CgroupAlways
	// CgroupNever: never; limits in the spec are an error.
	CgroupNever
)

func hasResources(r *specs.LinuxResources) bool {
	return r != nil && (r.Memory != nil || r.Pids != nil || r.CPU != nil || len(r.Devices) > 0 || len(r.Unified) > 0)
}

// makeCgroup creates the sandbox's cgroup before its first process exists,
// so that nothing the sandbox runs is ever outside it.
func (c *Container) makeCgroup() error {
	n := c.need
	res := n.Resources
	if c.opts.Cgroup == CgroupNever && hasResources(res) {
		if n.Devices {
			return spec.FieldErrorf("linux.resources.devices", "device rules need a cgroup here: %s", n.DevicesWhy)
		}
		return spec.FieldErrorf("linux.resources", "limits need a cgroup")
	}
	c.opts.debugf("%s", n)
	if !n.Needed() {
		return nil
	}
	name := c.id
	if name == "" {
		var b [6]byte
		rand.Read(b[:])
		name = hex.EncodeToString(b[:])
	}
	// without an account to read, only the hierarchies the limits need;
	// a CPU-time limit needs the CPU account
	var path string
	if c.spec.Linux != nil {
		path = c.spec.Linux.CgroupsPath
	}
	var reserve func(dirs, parents []string) error
	if c.opts.Record != nil {
		// not for an unrecorded run: its janitor is its only record,
		// and the look before each mkdir would cost it for nothing
		reserve = c.reserveCgroup
	}
	m, err := cgroups.Create(name, res, &cgroups.Options{
		Path:       path,
		Updatable:  c.opts.hold,
		BestEffort: c.opts.Limits.BestEffort,
		Minimal:    !c.opts.Accounting,
		CPUUsage:   c.opts.Limits.CPUTime > 0,
		Track:      n.Track,
		Reserve:    reserve,
		Log:        c.opts.QuickRun != nil,
	})
	if err != nil {
		var le *cgroups.LimitError
		if errors.As(err, &le) {
			return &spec.FieldError{Field: resourceField(le.Limit), Err: err}
		}
		if path != "" {
			return &spec.FieldError{Field: "linux.cgroupsPath", Err: err}
		}
		return err
	}
	c.cgroup = m
	return nil
}

// watcher enforces the time limits while the command runs.
type watcher struct {
	once   sync.Once
	done   chan struct{}
	mu     sync.Mutex
	killed string
}

func (c *Container) startWatch() *watcher {
	l := c.opts.Limits
	if l.CPUTime <= 0 && l.WallTime <= 0 {
		return nil
	}
	w := &watcher{done: make(chan struct{})}
	kill := func(why string) {
		w.mu.Lock()
		if w.killed == "" {
			w.killed = why
		}
		w.mu.Unlock()
		c.proc.Signal(unix.SIGKILL)
		if c.cgroup != nil {
			c.cgroup.Kill() // processes outside the pid namespace, if it is shared
		}
	}
	if l.WallTime > 0 {
		t := time.AfterFunc(l.WallTime+l.Extra-time.Since(c.started), func() { kill("wall-time") })
		go func() { <-w.done; t.Stop() }()
	}
	if l.CPUTime > 0 && c.cgroup != nil {
		go c.watchCPU(w, l.CPUTime+l.Extra, kill)
	}
	return w
}

// watchCPU polls the cgroup's CPU account. The sandbox cannot use more
// than one CPU-second per second per CPU, so it sleeps for the time the
// rest of the budget takes at full speed, at most 50ms and at least 1ms:
// the overshoot stays within a few milliseconds per CPU. The first poll
// comes after the first sleep: the cgroup is new, and what its set-up
// used is far below any budget, so a read at the start would only cost
// a short run (most runs a judge makes) a file read. The verdict does not
// depend on the polls: it compares the account read after the end.
func (c *Container) watchCPU(w *watcher, limit time.Duration, kill func(string)) {
	ncpu := time.Duration(runtime.NumCPU())
	var used time.Duration
	for {
		left := limit - used
		if left <= 0 {
			kill("cpu-time")
			return
		}
		sleep := min(max(left/ncpu, time.Millisecond), 50*time.Millisecond)
		select {
		case <-w.done:
			return
		case <-time.After(sleep):
		}
		var err error
		if used, err = c.cgroup.CPUUsage(); err != nil {
			return
		}
	}
}

func (w *watcher) stop() string {
	w.once.Do(func() { close(w.done) })
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.killed
}

// memoryLimited reports whether r limits memory: a sandbox whose OOM
// killer may act.
func memoryLimited(r *specs.LinuxResources) bool {
	if r == nil {
		return false
	}
	if m := r.Memory; m != nil && ((m.Limit != nil && *m.Limit > 0) || (m.Swap != nil && *m.Swap > 0)) {
		return true
	}
	for k := range r.Unified {
		if strings.HasPrefix(k, "memory.") {
			return true
		}
	}
	return false
}

// resourceFields are the linux.resources fields of the limits package
// cgroups names in a LimitError, by the start of the name.
var resourceFields = []struct{ limit, field string }{
	{"memory+swap limit", "memory.swap"},
	{"memory limit", "memory.limit"},
	{"memory reservation", "memory.reservation"},
	{"memory swappiness", "memory.swappiness"},
	{"memory disableOOMKiller", "memory.disableOOMKiller"},
	{"kernel memory limit", "memory.kernel"},
	{"kernel TCP memory limit", "memory.kernelTCP"},
	{"memory settings", "memory"},
	{"pids limit", "pids.limit"},
	{"cpu shares", "cpu.shares"},
	{"cpu quota", "cpu.quota"},
	{"cpu period", "cpu.period"},
	{"cpuset cpus", "cpu.cpus"},
	{"cpuset mems", "cpu.mems"},
	{"devices", "devices"},
	{"unified", "unified"},
}

// resourceField is the spec field of a limit cgroups could not apply:
// "linux.resources.memory.limit" for "memory limit", or
// "linux.resources" for one it has no field for.
func resourceField(limit string) string {
	for _, f := range resourceFields {
		if strings.HasPrefix(limit, f.limit) {
			return "linux.resources." + f.field
		}
	}
	return "linux.resources"
}

// fieldErr is a mistake in the spec field named, as a *spec.FieldError,
// for functions whose spec parameter hides the package's name.
func fieldErr(field, format string, args ...any) error {
	return spec.FieldErrorf(field, format, args...)
}

// allowSpecDevices adds to a device cgroup's rules an allow rule for each
// node linux.devices makes, as runc does: a container is given the
// devices its spec lists, even where its rules deny every device. Without
// rules of its own the cgroup restricts nothing and r is returned as it
// is; otherwise a copy.
func allowSpecDevices(r *specs.LinuxResources, devs []specs.LinuxDevice) *specs.LinuxResources {
	if r == nil || len(r.Devices) == 0 || len(devs) == 0 {
		return r
	}
	cp := *r
	cp.Devices = slices.Clone(r.Devices)
	allow := func(typ string, major, minor int64) {
		rule := specs.LinuxDeviceCgroup{Allow: true, Type: typ, Major: &major, Access: "rwm"}
		if minor >= 0 {
			rule.Minor = &minor
		}
		cp.Devices = append(cp.Devices, rule)
	}
	for _, d := range devs {
		if d.Type == "" || d.Type == "p" {
			continue // the host's node, or a FIFO, which no rule governs
		}
		typ := d.Type
		if typ == "u" {
			typ = "c"
		}
		allow(typ, d.Major, d.Minor)
	}
	return &cp
}

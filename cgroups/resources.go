package cgroups

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/fs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// validate rejects malformed settings (ErrInvalid, always an error) and
// settings of LinuxResources this package does not implement (ErrNotSupported:
// an error, or a warning with BestEffort), before anything is created.
func (m *Manager) validate(r *specs.LinuxResources) error {
	if mem := r.Memory; mem != nil {
		if l := mem.Limit; l != nil && *l != -1 && *l < MinMemoryLimit {
			return &LimitError{"memory limit", invalid("%d bytes is below the minimum of %d bytes (-1 means unlimited)", *l, MinMemoryLimit)}
		}
		if s := mem.Swap; s != nil && *s != -1 {
			switch {
			case mem.Limit == nil || *mem.Limit == -1:
				return &LimitError{"memory+swap limit", invalid("%d bytes set without a memory limit", *s)}
			case *s < *mem.Limit:
				return &LimitError{"memory+swap limit", invalid("%d bytes is below the memory limit of %d bytes (swap is memory+swap, OCI semantics)", *s, *mem.Limit)}
			}
		}
		type opt struct {
			name string
			set  bool
		}
		if s := mem.Swappiness; s != nil && *s > 100 {
			return &LimitError{"memory swappiness", invalid("%d is outside [0, 100]", *s)}
		}
		// v1 has a file for each (memoryV1); v2 has memory.low for the
		// reservation and nothing for the others
		v2 := m.mode == Unified
		for _, o := range []opt{
			{"kernel memory limit", v2 && mem.Kernel != nil},
			{"kernel TCP memory limit", v2 && mem.KernelTCP != nil},
			{"memory swappiness", v2 && mem.Swappiness != nil},
			{"memory disableOOMKiller", v2 && mem.DisableOOMKiller != nil && *mem.DisableOOMKiller},
			{"memory useHierarchy", mem.UseHierarchy != nil && !*mem.UseHierarchy},
			// CheckBeforeUpdate only matters when a limit is lowered
			// below the current usage, which a new cgroup has none of.
		} {
			if o.set {
				if err := m.fail(o.name, notSupported("no such setting on cgroup v2")); err != nil {
					return err
				}
			}
		}
	}
	if p := r.Pids; p != nil && p.Limit != nil && *p.Limit < -1 {
		return &LimitError{"pids limit", invalid("%d (use -1 for unlimited)", *p.Limit)}
	}
	if c := r.CPU; c != nil {
		if s := c.Shares; s != nil && (*s < 2 || *s > 262144) {
			return &LimitError{"cpu shares", invalid("%d is outside [2, 262144]", *s)}
		}
		if q := c.Quota; q != nil && *q != -1 && *q < 1000 {
			return &LimitError{"cpu quota", invalid("%dµs (minimum 1000µs, -1 for unlimited)", *q)}
		}
		if p := c.Period; p != nil && (*p < 1000 || *p > 1000000) {
			return &LimitError{"cpu period", invalid("%dµs is outside [1000, 1000000]", *p)}
		}
		type opt struct {
			name string
			set  bool
		}
		for _, o := range []opt{
			{"cpu burst", c.Burst != nil},
			{"cpu realtime runtime", c.RealtimeRuntime != nil},
			{"cpu realtime period", c.RealtimePeriod != nil},
			{"cpu idle", c.Idle != nil},
		} {
			if o.set {
				if err := m.fail(o.name, notSupported("not implemented by nook")); err != nil {
					return err
				}
			}
		}
	}
	for i, d := range r.Devices {
		if _, err := deviceRule(d); err != nil {
			return &LimitError{fmt.Sprintf("devices[%d]", i), err}
		}
	}
	// Rule lists whose effect on cgroup v1 would contradict their order
	// (see devices.go) are errors on every host, so that v1 and v2
	// enforce the same lists the same way.
	if len(r.Devices) > 0 {
		if _, err := canonDevices(r.Devices); err != nil {
			return &LimitError{"devices", err}
		}
	}
	for k := range r.Unified {
		if k == "" || strings.ContainsRune(k, '/') || k[0] == '.' {
			return &LimitError{"unified " + strconv.Quote(k), invalid("not a cgroup file name")}
		}
		switch k {
		case "cgroup.procs", "cgroup.threads", "cgroup.kill", "cgroup.freeze", "cgroup.subtree_control", "cgroup.type":
			return &LimitError{"unified " + k, invalid("not a resource setting")}
		}
		if !strings.Contains(k, ".") {
			return &LimitError{"unified " + k, invalid("must be CONTROLLER.SETTING")}
		}
	}
	type opt struct {
		name string
		v    any
	}
	for _, o := range []opt{
		{"blockIO", r.BlockIO},
		{"hugepageLimits", r.HugepageLimits},
		{"network", r.Network},
		{"rdma", r.Rdma},
	} {
		if isSet(o.v) {
			if err := m.fail(o.name, notSupported("not implemented by nook")); err != nil {
				return err
			}
		}
	}
	return nil
}

// isSet reports whether an optional LinuxResources field carries a setting.
func isSet(v any) bool {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer:
		return !rv.IsNil() && !rv.Elem().IsZero()
	case reflect.Slice, reflect.Map:
		return rv.Len() > 0
	}
	return !rv.IsZero()
}

// deviceRule turns an OCI device cgroup entry into the v1 devices.allow /
// devices.deny syntax ("c 1:3 rwm", or "a" for all devices).
func deviceRule(d specs.LinuxDeviceCgroup) (string, error) {
	typ := d.Type
	switch typ {
	case "", "a":
		if (d.Major != nil && *d.Major != -1) || (d.Minor != nil && *d.Minor != -1) {
			return "", invalid("type %q (all devices) with a major/minor number", typ)
		}
		return "a", nil
	case "c", "b":
	default:
		return "", invalid("device type %q (want a, b or c)", typ)
	}
	num := func(p *int64) (string, error) {
		switch {
		case p == nil || *p == -1:
			return "*", nil
		case *p < 0 || *p > 0xfffff:
			return "", invalid("device number %d out of range", *p)
		}
		return strconv.FormatInt(*p, 10), nil
	}
	maj, err := num(d.Major)
	if err != nil {
		return "", err
	}
	mnr, err := num(d.Minor)
	if err != nil {
		return "", err
	}
	acc := d.Access
	if acc == "" {
		acc = "rwm"
	}
	if strings.Trim(acc, "rwm") != "" || len(acc) > 3 {
		return "", invalid("device access %q (want a combination of r, w, m)", acc)
	}
	return typ + " " + maj + ":" + mnr + " " + acc, nil
}

// writePidsMax sets pids.max. Written here rather than with the library's
// PidsGroup.Set / fs2 setPids because those turn 0 into 1, while the OCI spec
// says 0 is a valid limit and must be treated as such.
func writePidsMax(dir string, limit int64) error {
	val := "max"
	if limit >= 0 {
		val = strconv.FormatInt(limit, 10)
	}
	return cgroups.WriteFile(dir, "pids.max", val)
}

// hostHasSwap reports whether any swap space is active. It is only consulted
// when a memory+swap limit is asked for and the kernel has no swap accounting:
// without swap such a limit holds anyway.
func hostHasSwap() bool {
	b, err := os.ReadFile("/proc/swaps")
	if err != nil {
		return true // be conservative: assume the limit would not hold
	}
	return strings.Count(strings.TrimSpace(string(b)), "\n") > 0
}

// swapUnenforceable is what to do when the swap control file does not exist:
// nothing (nil) if there is no swap or the setting is "unlimited", otherwise
// an ErrNotSupported error.
func swapUnenforceable(err error, unlimited bool, file string) error {
	if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, unix.ENOENT) {
		return err
	}
	if unlimited || !hostHasSwap() {
		return nil
	}
	return notSupported("swap accounting not available (no %s)", file)
}

// memoryV1 applies the memory settings beside the limits on v1: the
// reservation (memory.soft_limit_in_bytes), swappiness, the OOM killer's
// switch (memory.oom_control), and the kernel and kernel TCP limits, which
// the library leaves out. Kernels since 5.16 accept the kernel memory
// limit and enforce nothing (their log says so): the write is made, as
// the spec asks, and reads back as unlimited.
func memoryV1(dir string, mem *specs.LinuxMemory) (string, error) {
	res := &cgroups.Resources{MemorySwappiness: mem.Swappiness}
	if mem.Reservation != nil {
		res.MemoryReservation = *mem.Reservation
	}
	if mem.DisableOOMKiller != nil {
		res.OomKillDisable = *mem.DisableOOMKiller
	}
	// the library's setter, with no limit or swap in res, writes only these
	if err := (&fs.MemoryGroup{}).Set(dir, res); err != nil {
		return "memory settings", err
	}
	for _, k := range []struct {
		name, file string
		v          *int64
	}{
		{"kernel memory limit", "memory.kmem.limit_in_bytes", mem.Kernel},
		{"kernel TCP memory limit", "memory.kmem.tcp.limit_in_bytes", mem.KernelTCP},
	} {
		if k.v == nil {
			continue
		}
		if err := cgroups.WriteFile(dir, k.file, strconv.FormatInt(*k.v, 10)); err != nil {
			return k.name, err
		}
	}
	return "memory settings", nil
}

// hasMemoryExtras reports whether mem has a setting memoryV1 applies.
func hasMemoryExtras(mem *specs.LinuxMemory) bool {
	return mem != nil && (mem.Reservation != nil || mem.Swappiness != nil || mem.Kernel != nil ||
		mem.KernelTCP != nil || (mem.DisableOOMKiller != nil && *mem.DisableOOMKiller))
}

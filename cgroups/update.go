package cgroups

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/fs"
	"github.com/opencontainers/cgroups/fs2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Update changes the limits of a running sandbox (runc's update): the
// fields of r that are set, the others left as they are. The same fields
// as Create are supported, and checked the same way (never BestEffort: a
// limit that cannot be applied is an error); a limit whose hierarchy the
// sandbox was made without (a cpuset on v1, say) is ErrNotSupported.
func (m *Manager) Update(r *specs.LinuxResources) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gone || len(m.dirs) == 0 {
		return fmt.Errorf("cgroups: update %s: %w", m.name, os.ErrClosed)
	}
	if r == nil {
		return nil
	}
	saved := m.bestEff
	m.bestEff = false
	defer func() { m.bestEff = saved }()
	if err := m.validate(r); err != nil {
		return err
	}
	res := &cgroups.Resources{}
	var mem, pids, cpu, cpuset bool
	if r.Memory != nil {
		if r.Memory.Limit != nil {
			res.Memory, mem = *r.Memory.Limit, true
		}
		if r.Memory.Swap != nil {
			res.MemorySwap, mem = *r.Memory.Swap, true
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		pids = true
	}
	extras := hasMemoryExtras(r.Memory)
	if extras && r.Memory.Reservation != nil {
		res.MemoryReservation = *r.Memory.Reservation
	}
	if c := r.CPU; c != nil {
		if c.Shares != nil {
			res.CpuShares, cpu = *c.Shares, true
		}
		if c.Quota != nil {
			res.CpuQuota, cpu = *c.Quota, true
		}
		if c.Period != nil {
			res.CpuPeriod, cpu = *c.Period, true
		}
		res.CpusetCpus, res.CpusetMems = c.Cpus, c.Mems
		cpuset = c.Cpus != "" || c.Mems != ""
	}
	if m.mode == Unified {
		res.Unified = r.Unified
		if res.CpuShares != 0 {
			res.CpuWeight = cgroups.ConvertCPUSharesToCgroupV2Value(res.CpuShares)
			res.CpuShares = 0
		}
		for c, want := range map[string]bool{"memory": mem || extras, "pids": pids, "cpu": cpu, "cpuset": cpuset} {
			if want && m.ctrl[c] == "" {
				return &LimitError{c, notSupported("%s controller not enabled for %s", c, m.dirs[0])}
			}
		}
		if pids {
			if err := writePidsMax(m.dirs[0], *r.Pids.Limit); err != nil {
				return fmt.Errorf("cgroups: update %s: %w", m.dirs[0], err)
			}
		}
		mgr, err := fs2.NewManager(&cgroups.Cgroup{Resources: &cgroups.Resources{}}, m.dirs[0])
		if err == nil {
			err = mgr.Set(res)
		}
		if err != nil {
			return fmt.Errorf("cgroups: update %s: %w", m.dirs[0], err)
		}
		return nil
	}
	if len(r.Unified) > 0 {
		return &LimitError{"unified resources", notSupported("cgroup v2 is not in use here (%s host)", m.mode)}
	}
	type setter struct {
		ctrl  string
		want  bool
		group interface {
			Set(string, *cgroups.Resources) error
		}
	}
	for _, s := range []setter{
		{"cpuset", cpuset, &fs.CpusetGroup{}},
		{"memory", mem, &fs.MemoryGroup{}},
		{"pids", pids, pidsSetter{r.Pids}},
		{"cpu", cpu, &fs.CpuGroup{}},
	} {
		if !s.want {
			continue
		}
		dir := m.ctrl[s.ctrl]
		if dir == "" {
			return &LimitError{s.ctrl, notSupported("the sandbox was made without a %s cgroup", s.ctrl)}
		}
		if err := s.group.Set(dir, res); err != nil {
			return fmt.Errorf("cgroups: update %s: %w", dir, err)
		}
	}
	if extras {
		dir := m.ctrl["memory"]
		if dir == "" {
			return &LimitError{"memory", notSupported("the sandbox was made without a memory cgroup")}
		}
		if name, err := memoryV1(dir, r.Memory); err != nil {
			return &LimitError{name, err}
		}
	}
	return nil
}

// Limits are the limits in force, for reports: zero where there is none
// or the controller is not there.
type Limits struct {
	Memory, MemorySwap uint64 // bytes; math.MaxUint64 for unlimited
	Pids               uint64 // 0 for unlimited
}

// Limits reads the memory and pids limits in force.
func (m *Manager) Limits() (*Limits, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gone || len(m.dirs) == 0 {
		return nil, fmt.Errorf("cgroups: limits of %s: %w", m.name, os.ErrClosed)
	}
	l := &Limits{}
	read := func(ctrl, file string, dst *uint64, unlimited uint64) {
		dir := m.ctrl[ctrl]
		if dir == "" {
			return
		}
		s, err := cgroups.ReadFile(dir, file)
		if err != nil {
			return
		}
		s = strings.TrimSpace(s)
		if s == "max" {
			*dst = unlimited
			return
		}
		if v, err := strconv.ParseUint(s, 10, 64); err == nil {
			*dst = v
		}
	}
	if m.mode == Unified {
		read("memory", "memory.max", &l.Memory, math.MaxUint64)
		read("memory", "memory.swap.max", &l.MemorySwap, math.MaxUint64)
	} else {
		read("memory", "memory.limit_in_bytes", &l.Memory, math.MaxUint64)
		read("memory", "memory.memsw.limit_in_bytes", &l.MemorySwap, math.MaxUint64)
	}
	read("pids", "pids.max", &l.Pids, 0)
	return l, nil
}

// pidsSetter writes pids.max as Create does (writePidsMax).
type pidsSetter struct{ p *specs.LinuxPids }

func (s pidsSetter) Set(dir string, _ *cgroups.Resources) error { return writePidsMax(dir, *s.p.Limit) }

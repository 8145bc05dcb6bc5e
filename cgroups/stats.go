package cgroups

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/fscommon"
)

// Stats is the sandbox's resource usage. Fields whose controller is not
// available (see Manager.Warnings) are zero.
type Stats struct {
	// CPUUsage is the total CPU time (v1 cpuacct.usage, v2 cpu.stat
	// usage_usec); CPUUser and CPUSystem split it (v2 user_usec and
	// system_usec; on v1 the tick-sampled cpuacct.usage_user/usage_sys, or
	// cpuacct.stat on old kernels, scaled to add up to CPUUsage).
	CPUUsage, CPUUser, CPUSystem time.Duration
	// MemoryPeak is the highest memory usage seen (v1
	// memory.max_usage_in_bytes; v2 memory.peak, kernel 5.19+, see
	// HaveMemoryPeak).
	MemoryPeak     uint64
	HaveMemoryPeak bool
	// MemoryCurrent is the memory in use now (memory.usage_in_bytes /
	// memory.current).
	MemoryCurrent uint64
	// OOMKills counts processes the OOM killer killed in the sandbox
	// (v1 memory.oom_control oom_kill, v2 memory.events oom_kill).
	OOMKills uint64
	// PidsPeak is the highest number of tasks seen (pids.peak, where the
	// kernel has it: see HavePidsPeak).
	PidsPeak     uint64
	HavePidsPeak bool
	// PidsCurrent is the number of tasks (threads included) now. The
	// kernel counts a dead task until it is reaped, so killed orphans count
	// until init collects them.
	PidsCurrent uint64
}

// userHZ is the unit of cpuacct.stat (USER_HZ, 100 on every Linux ABI).
const userHZ = 100

// Stats reads the sandbox's current usage. It reads the few files it needs
// with the library's fscommon helpers rather than the fs/fs2 GetStats
// methods, which read many unrelated files (memory.stat, per-CPU usage, PSI)
// and do not report oom_kill or pids.peak.
func (m *Manager) Stats() (*Stats, error) {
	return m.read("stats", m.statsV2, m.statsV1)
}

// Account reads what a finished run is judged by: the CPU time
// (CPUUsage), the memory peak, the OOM kills and the pids peak, each as
// Stats has it; the other fields are zero. It reads half the files Stats
// does (on v1 four, not eight): a judge reads it once per run, and each
// read is an open, a read and a close of a cgroup file.
func (m *Manager) Account() (*Stats, error) {
	return m.read("account", m.accountV2, m.accountV1)
}

// read fills a Stats with v2 or v1, as the machine's cgroups are, under
// the Manager's lock; what names the reading in its error.
func (m *Manager) read(what string, v2, v1 func(*Stats) error) (*Stats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gone {
		return nil, fmt.Errorf("cgroups: %s of %s: %w", what, m.name, os.ErrClosed)
	}
	s := &Stats{}
	fill := v1
	if m.mode == Unified {
		fill = v2
	}
	if err := fill(s); err != nil {
		return nil, fmt.Errorf("cgroups: %s of %s: %w", what, m.name, err)
	}
	return s, nil
}

func (m *Manager) accountV1(s *Stats) error {
	if dir := m.ctrl["cpuacct"]; dir != "" {
		ns, err := fscommon.GetCgroupParamUint(dir, "cpuacct.usage")
		if err != nil {
			return err
		}
		s.CPUUsage = time.Duration(ns)
	}
	if dir := m.ctrl["memory"]; dir != "" {
		if err := memoryVerdictV1(dir, s); err != nil {
			return err
		}
	}
	return m.pidsPeak(s)
}

func (m *Manager) accountV2(s *Stats) error {
	dir := m.dirs[0]
	v, err := fscommon.GetValueByKey(dir, "cpu.stat", "usage_usec")
	if err != nil {
		return err
	}
	s.CPUUsage = time.Duration(v) * time.Microsecond
	if m.ctrl["memory"] != "" {
		if err := memoryVerdictV2(dir, s); err != nil {
			return err
		}
	}
	return m.pidsPeak(s)
}

// memoryVerdictV1 reads what a verdict takes from a v1 memory cgroup:
// the peak and the OOM kills (oom_kill is there since 4.13; older
// kernels leave it 0).
func memoryVerdictV1(dir string, s *Stats) error {
	var err error
	if s.MemoryPeak, err = fscommon.GetCgroupParamUint(dir, "memory.max_usage_in_bytes"); err != nil {
		return err
	}
	s.HaveMemoryPeak = true
	s.OOMKills, err = fscommon.GetValueByKey(dir, "memory.oom_control", "oom_kill")
	return err
}

// memoryVerdictV2 is memoryVerdictV1 on v2, where memory.peak is there
// since 5.19 only.
func memoryVerdictV2(dir string, s *Stats) error {
	peak, err := fscommon.GetCgroupParamUint(dir, "memory.peak")
	if s.HaveMemoryPeak, err = optional(err); err != nil {
		return err
	}
	if s.HaveMemoryPeak {
		s.MemoryPeak = peak
	}
	s.OOMKills, err = fscommon.GetValueByKey(dir, "memory.events", "oom_kill")
	return err
}

func (m *Manager) pidsPeak(s *Stats) error {
	dir := m.ctrl["pids"]
	if dir == "" {
		return nil
	}
	peak, err := fscommon.GetCgroupParamUint(dir, "pids.peak")
	s.HavePidsPeak, err = optional(err)
	if s.HavePidsPeak {
		s.PidsPeak = peak
	}
	return err
}

// optional turns "file does not exist" into ok=false.
func optional(err error) (ok bool, _ error) {
	if err == nil {
		return true, nil
	}
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return false, err
}

func (m *Manager) statsV1(s *Stats) error {
	if dir := m.ctrl["cpuacct"]; dir != "" {
		ns, err := fscommon.GetCgroupParamUint(dir, "cpuacct.usage")
		if err != nil {
			return err
		}
		s.CPUUsage = time.Duration(ns)
		user, err := fscommon.GetCgroupParamUint(dir, "cpuacct.usage_user")
		if ok, err := optional(err); err != nil {
			return err
		} else if ok {
			sys, err := fscommon.GetCgroupParamUint(dir, "cpuacct.usage_sys")
			if err != nil {
				return err
			}
			s.CPUUser, s.CPUSystem = time.Duration(user), time.Duration(sys)
		} else {
			// Kernels before 4.7 have only cpuacct.stat, in ticks.
			u, err := fscommon.GetValueByKey(dir, "cpuacct.stat", "user")
			if err != nil {
				return err
			}
			sy, err := fscommon.GetValueByKey(dir, "cpuacct.stat", "system")
			if err != nil {
				return err
			}
			s.CPUUser = time.Duration(u) * time.Second / userHZ
			s.CPUSystem = time.Duration(sy) * time.Second / userHZ
		}
		// The v1 user/system split is sampled at each timer tick
		// while the total is exact, so the parts can add up to more
		// or less than the total. Scale them to the total, as the
		// kernel does for v2's user_usec/system_usec.
		if sum := s.CPUUser + s.CPUSystem; sum > 0 {
			s.CPUUser = time.Duration(float64(s.CPUUsage) * float64(s.CPUUser) / float64(sum))
			s.CPUSystem = s.CPUUsage - s.CPUUser
		}
	}
	if dir := m.ctrl["memory"]; dir != "" {
		var err error
		if s.MemoryCurrent, err = fscommon.GetCgroupParamUint(dir, "memory.usage_in_bytes"); err != nil {
			return err
		}
		if err := memoryVerdictV1(dir, s); err != nil {
			return err
		}
	}
	return m.statsPids(s)
}

func (m *Manager) statsPids(s *Stats) error {
	dir := m.ctrl["pids"]
	if dir == "" {
		return nil
	}
	var err error
	if s.PidsCurrent, err = fscommon.GetCgroupParamUint(dir, "pids.current"); err != nil {
		return err
	}
	return m.pidsPeak(s)
}

func (m *Manager) statsV2(s *Stats) error {
	dir := m.dirs[0]
	// cpu.stat is there with or without the cpu controller; one read for
	// the three keys.
	st, err := cgroups.ReadFile(dir, "cpu.stat")
	if err != nil {
		return err
	}
	for line := range strings.SplitSeq(st, "\n") {
		k, v, err := fscommon.ParseKeyValue(line)
		if err != nil {
			continue
		}
		switch k {
		case "usage_usec":
			s.CPUUsage = time.Duration(v) * time.Microsecond
		case "user_usec":
			s.CPUUser = time.Duration(v) * time.Microsecond
		case "system_usec":
			s.CPUSystem = time.Duration(v) * time.Microsecond
		}
	}
	if m.ctrl["memory"] != "" {
		if s.MemoryCurrent, err = fscommon.GetCgroupParamUint(dir, "memory.current"); err != nil {
			return err
		}
		if err := memoryVerdictV2(dir, s); err != nil {
			return err
		}
	}
	return m.statsPids(s)
}

// CPUUsage reads only the total CPU time (one file), for callers that poll
// it, e.g. to enforce a CPU-time budget.
func (m *Manager) CPUUsage() (time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gone {
		return 0, fmt.Errorf("cgroups: cpu usage of %s: %w", m.name, os.ErrClosed)
	}
	if m.mode == Unified {
		v, err := fscommon.GetValueByKey(m.dirs[0], "cpu.stat", "usage_usec")
		if err != nil {
			return 0, fmt.Errorf("cgroups: cpu usage of %s: %w", m.name, err)
		}
		return time.Duration(v) * time.Microsecond, nil
	}
	dir := m.ctrl["cpuacct"]
	if dir == "" {
		return 0, fmt.Errorf("cgroups: cpu usage of %s: %w", m.name, notSupported("cpuacct controller not available"))
	}
	ns, err := fscommon.GetCgroupParamUint(dir, "cpuacct.usage")
	if err != nil {
		return 0, fmt.Errorf("cgroups: cpu usage of %s: %w", m.name, err)
	}
	return time.Duration(ns), nil
}

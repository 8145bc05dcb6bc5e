package cgroups

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/fs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// v1Mount is where a v1 controller's hierarchy is mounted; dev identifies the
// hierarchy (co-mounted controllers such as cpu,cpuacct share it).
type v1Mount struct {
	path string
	dev  uint64
}

// v1Controllers are the only v1 hierarchies nook ever uses.
var v1Controllers = []string{"freezer", "cpuset", "devices", "memory", "pids", "cpu", "cpuacct"}

// v1Mounts finds the hierarchies once per process. The fast path is a statfs
// and a stat of /sys/fs/cgroup/<controller> (what every distribution mounts);
// the library's FindCgroupMountpoint, which may parse /proc/self/mountinfo,
// is only the fallback for unusual layouts.
var v1Mounts = sync.OnceValue(func() map[string]v1Mount {
	mounts := make(map[string]v1Mount, len(v1Controllers))
	for _, c := range v1Controllers {
		p := Root + "/" + c
		var sfs unix.Statfs_t
		if unix.Statfs(p, &sfs) != nil || sfs.Type != unix.CGROUP_SUPER_MAGIC {
			var err error
			if p, err = cgroups.FindCgroupMountpoint("", c); err != nil {
				continue
			}
		}
		var st unix.Stat_t
		if unix.Stat(p, &st) != nil {
			continue
		}
		mounts[c] = v1Mount{path: p, dev: st.Dev}
	}
	return mounts
})

func (m *Manager) createV1(r *specs.LinuxResources) error {
	if len(r.Unified) > 0 {
		if err := m.fail("unified resources", notSupported("cgroup v2 is not in use here (%s host: controllers are on cgroup v1)", m.mode)); err != nil {
			return err
		}
	}
	cpu := r.CPU
	if cpu == nil {
		cpu = &specs.LinuxCPU{}
	}
	wantCPU := cpu.Shares != nil || cpu.Quota != nil || cpu.Period != nil || m.updatable
	wantCpuset := cpu.Cpus != "" || cpu.Mems != "" || m.updatable
	mounts := v1Mounts()
	if len(mounts) == 0 {
		return fmt.Errorf("cgroups: create %s: %w", m.name, notSupported("no cgroup v1 hierarchy mounted under %s", Root))
	}

	// What each controller is for, when it is not there.
	purpose := map[string]string{
		"freezer": "Kill cannot freeze before signalling",
		"memory":  "no memory accounting",
		"pids":    "no pids accounting",
		"cpuacct": "no cpu accounting",
	}
	m.ctrl = make(map[string]string, len(v1Controllers))
	made := make(map[uint64]string, len(v1Controllers))
	// chosen first, made after Options.Reserve has been told of them
	var tops, dirs []string
	for _, c := range v1Controllers {
		if m.minimal {
			switch c {
			case "memory", "pids", "cpuacct", "freezer":
				limited := (c == "memory" && r.Memory != nil) || (c == "pids" && r.Pids != nil) ||
					(c == "cpuacct" && m.cpuUsage) || (c == "freezer" && m.track)
				if !limited {
					continue
				}
			}
		}
		switch c {
		case "cpuset":
			if !wantCpuset {
				continue
			}
		case "devices":
			if len(r.Devices) == 0 {
				continue
			}
		case "cpu":
			// cpu is for limits only (accounting is cpuacct's);
			// when co-mounted with cpuacct it costs nothing extra.
			if !wantCPU && (m.minimal || mounts["cpuacct"].dev != mounts["cpu"].dev || mounts["cpu"].path == "") {
				continue
			}
		}
		mnt, ok := mounts[c]
		if !ok {
			if p := purpose[c]; p != "" {
				m.warn(fmt.Sprintf("cgroups: %s controller not available: %s", c, p))
			}
			continue // a limit that needs it fails below
		}
		if dir, ok := made[mnt.dev]; ok {
			m.ctrl[c] = dir
			continue
		}
		dir := filepath.Join(mnt.path, dirPrefixV1+m.name)
		if m.path != "" {
			var err error
			if dir, err = m.pathIn(mnt.path, c); err != nil {
				return err
			}
		}
		tops, dirs = append(tops, mnt.path), append(dirs, dir)
		made[mnt.dev] = dir
		m.ctrl[c] = dir
	}
	if len(dirs) == 0 && !m.minimal {
		return fmt.Errorf("cgroups: create %s: %w", m.name, notSupported("none of the v1 controllers nook uses is mounted"))
	}
	if err := m.reserveDirs(tops, dirs); err != nil {
		return err
	}
	for i, dir := range dirs {
		if m.path != "" {
			if err := m.mkParents(tops[i], dir); err != nil {
				return err
			}
		}
		if err := m.mkdir(dir); err != nil {
			return err
		}
	}

	// cpuset first: a v1 cpuset with empty cpus or mems cannot be joined.
	if wantCpuset {
		if err := m.limitV1("cpuset", "cpuset", true, func(dir string) (string, error) {
			return setCpusetV1(dir, cpu.Cpus, cpu.Mems)
		}); err != nil {
			return err
		}
	}
	if len(r.Devices) > 0 {
		if err := m.limitV1("devices", "devices", true, func(dir string) (string, error) {
			return "devices", setDevicesV1(dir, r.Devices, m.logWrite)
		}); err != nil {
			return err
		}
	}
	if mem := r.Memory; mem != nil && mem.Limit != nil {
		if err := m.limitV1("memory limit", "memory", false, func(dir string) (string, error) {
			return "memory limit", (&fs.MemoryGroup{}).Set(dir, &cgroups.Resources{Memory: *mem.Limit})
		}); err != nil {
			return err
		}
		if s := mem.Swap; s != nil && m.ctrl["memory"] != "" {
			if err := m.limitV1("memory+swap limit", "memory", false, func(dir string) (string, error) {
				// Memory was set above, so swap (>= memory, see
				// validate) can go in on its own.
				err := (&fs.MemoryGroup{}).Set(dir, &cgroups.Resources{MemorySwap: *s})
				if err != nil {
					err = swapUnenforceable(err, *s == -1, "memory.memsw.limit_in_bytes")
				}
				return "memory+swap limit", err
			}); err != nil {
				return err
			}
		}
	}
	if hasMemoryExtras(r.Memory) {
		if err := m.limitV1("memory settings", "memory", false, func(dir string) (string, error) {
			return memoryV1(dir, r.Memory)
		}); err != nil {
			return err
		}
	}
	if p := r.Pids; p != nil && p.Limit != nil {
		if err := m.limitV1("pids limit", "pids", false, func(dir string) (string, error) {
			return "pids limit", writePidsMax(dir, *p.Limit)
		}); err != nil {
			return err
		}
	}
	if cpu.Shares != nil {
		if err := m.limitV1("cpu shares", "cpu", false, func(dir string) (string, error) {
			return "cpu shares", (&fs.CpuGroup{}).Set(dir, &cgroups.Resources{CpuShares: *cpu.Shares})
		}); err != nil {
			return err
		}
	}
	if cpu.Quota != nil || cpu.Period != nil {
		res := &cgroups.Resources{}
		if cpu.Quota != nil {
			res.CpuQuota = *cpu.Quota
		}
		if cpu.Period != nil {
			res.CpuPeriod = *cpu.Period
		}
		if err := m.limitV1("cpu quota", "cpu", false, func(dir string) (string, error) {
			return "cpu quota", (&fs.CpuGroup{}).Set(dir, res)
		}); err != nil {
			return err
		}
	}
	return nil
}

// limitV1 applies one limit with set, in the directory of controller ctrl.
// set returns the limit's precise name for messages. If the controller is
// missing or set fails, the limit fails (see Manager.fail); when it is dropped
// and own is true (the directory exists only for this limit), the directory is
// removed again so that joining it cannot fail or restrict anything.
func (m *Manager) limitV1(limit, ctrl string, own bool, set func(dir string) (string, error)) error {
	if ctrl != "devices" {
		m.unlogged() // set through the library, or not listed
	}
	dir := m.ctrl[ctrl]
	if dir == "" {
		return m.fail(limit, notSupported("%s controller not available", ctrl))
	}
	name, err := set(dir)
	if err == nil {
		return nil
	}
	if err := m.fail(name, err); err != nil {
		return err
	}
	if own && m.sharedBy(dir) == 1 {
		_ = unix.Rmdir(dir)
		m.forget(dir)
	}
	return nil
}

// sharedBy counts the controllers using dir.
func (m *Manager) sharedBy(dir string) int {
	n := 0
	for _, d := range m.ctrl {
		if d == dir {
			n++
		}
	}
	return n
}

// setCpusetV1 writes the requested cpus/mems and copies the other one from
// the parent, using the library's CpusetGroup (which also handles "noprefix"
// cpuset mounts).
func setCpusetV1(dir, cpus, mems string) (string, error) {
	cs := &fs.CpusetGroup{}
	// pid -1: join nothing; fill the directory, and any parents a
	// cgroupsPath made, with the parent's cpus and mems first: a cpuset
	// below an empty one cannot be given any
	if err := cs.ApplyDir(dir, &cgroups.Resources{}, -1); err != nil {
		return "cpuset", err
	}
	if cpus != "" {
		if err := cs.Set(dir, &cgroups.Resources{CpusetCpus: cpus}); err != nil {
			return fmt.Sprintf("cpuset cpus %q", cpus), explainCpuset(err, filepath.Dir(dir), "cpus")
		}
	}
	if mems != "" {
		if err := cs.Set(dir, &cgroups.Resources{CpusetMems: mems}); err != nil {
			return fmt.Sprintf("cpuset mems %q", mems), explainCpuset(err, filepath.Dir(dir), "mems")
		}
	}
	return "cpuset", nil
}

// explainCpuset adds what the parent offers to a rejected cpuset write (the
// kernel only says EINVAL or ERANGE).
func explainCpuset(err error, parent, what string) error {
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ERANGE) {
		return err
	}
	avail, rerr := cgroups.ReadFile(parent, "cpuset.effective_"+what)
	if rerr != nil {
		avail, rerr = cgroups.ReadFile(parent, "cpuset."+what)
	}
	if rerr != nil {
		return err
	}
	return fmt.Errorf("%w (not available here; available %s: %s)", err, what, strings.TrimSpace(avail))
}

// setDevicesV1 denies all devices, then applies the OCI rules in order.
// Written here because the library's v1 device code lives in
// opencontainers/cgroups/devices, which also brings the systemd-driver device
// properties and the eBPF loader; all v1 needs is two files written line by
// line. The files are opened once for all rules. Each write is told to
// logWrite.
func setDevicesV1(dir string, rules []specs.LinuxDeviceCgroup, logWrite func(path, data string)) error {
	deny, err := cgroups.OpenFile(dir, "devices.deny", unix.O_WRONLY)
	if err != nil {
		return err
	}
	defer deny.Close()
	allow, err := cgroups.OpenFile(dir, "devices.allow", unix.O_WRONLY)
	if err != nil {
		return err
	}
	defer allow.Close()
	if _, err := deny.WriteString("a"); err != nil {
		return fmt.Errorf("deny all devices: %w", err)
	}
	logWrite(filepath.Join(dir, "devices.deny"), "a")
	for _, d := range rules {
		rule, err := deviceRule(d)
		if err != nil {
			return err // validated already
		}
		f, name := deny, "devices.deny"
		if d.Allow {
			f, name = allow, "devices.allow"
		}
		if _, err := f.WriteString(rule); err != nil {
			return fmt.Errorf("rule %q: %w", rule, err)
		}
		logWrite(filepath.Join(dir, name), rule)
	}
	return nil
}

package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/fs2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// v2Base are the controllers always enabled for sandboxes on v2: memory and
// pids for accounting and limits, cpu for cpu.weight/cpu.max. (cpu.stat's
// usage is there even without the cpu controller.)
var v2Base = []string{"memory", "pids", "cpu"}

func (m *Manager) createV2(r *specs.LinuxResources) error {
	cpu := r.CPU
	if cpu == nil {
		cpu = &specs.LinuxCPU{}
	}
	want := slices.Clone(v2Base)
	if cpu.Cpus != "" || cpu.Mems != "" || m.updatable {
		want = append(want, "cpuset")
	}
	for k := range r.Unified {
		if c, _, _ := strings.Cut(k, "."); c != "cgroup" && !slices.Contains(want, c) {
			want = append(want, c)
		}
	}
	// Device rules: an eBPF program (devices_bpf.go), loaded before
	// anything is made, since loading is what fails where eBPF is not
	// available, and attached right after the mkdir, before any process
	// can join. -1 if there are no rules or they allow everything.
	devProg := -1
	var devCode []byte
	if len(r.Devices) > 0 {
		var err error
		if devCode, devProg, err = loadDevices(r.Devices); err != nil {
			if err := m.fail("devices", err); err != nil {
				return err
			}
		} else if devProg >= 0 {
			defer unix.Close(devProg) // the attachment keeps its own reference
		}
	}

	place, err := findPlaceV2()
	if err != nil {
		return err
	}
	leaf := place.parent + "/" + m.name
	var enabled map[string]bool
	var why map[string]error
	if m.path != "" {
		m.unlogged() // parents placed for the path: not for replaying
		if os.Geteuid() != 0 {
			return fmt.Errorf("cgroups: path %q: %w", m.path, notSupported("placing a cgroup by path needs root"))
		}
		if leaf, err = m.pathIn(v2Root, ""); err != nil {
			return err
		}
		if err := m.reserveDirs([]string{v2Root}, []string{leaf}); err != nil {
			return err
		}
		if enabled, why, err = m.placeV2(leaf, want); err != nil {
			return err
		}
		if err := m.mkdir(leaf); err != nil {
			return err
		}
	}
	if m.path == "" {
		// the shared parent is not the sandbox's: only the leaf
		if err := m.reserveDirs([]string{place.parent}, []string{leaf}); err != nil {
			return err
		}
	}
	for attempt := 0; m.path == ""; attempt++ {
		var err error
		if enabled, why, err = ensureParentV2(place, want); err != nil {
			return fmt.Errorf("cgroups: create %s: %w", leaf, err)
		}
		err = m.mkdir(leaf)
		if err == nil {
			if m.log != nil {
				var words []string
				for _, c := range want {
					if enabled[c] {
						words = append(words, c)
					}
				}
				m.log.Checks = append(m.log.Checks, LogWrite{Path: place.parent + "/cgroup.subtree_control", Data: []byte(strings.Join(words, " "))})
			}
			break
		}
		// ENOENT: RemoveParent in another process removed the
		// parent between the two steps; set it up again.
		if !errors.Is(err, unix.ENOENT) || attempt == 3 {
			return err
		}
	}
	if devProg >= 0 {
		if err := attachDeviceProgram(leaf, devProg); err != nil {
			if err := m.fail("devices", err); err != nil {
				return err
			}
		} else if m.log != nil {
			m.log.Programs = append(m.log.Programs, LogWrite{Path: leaf, Data: devCode})
		}
	}
	m.ctrl = make(map[string]string, len(want))
	for c := range enabled {
		m.ctrl[c] = leaf
	}
	for _, c := range []string{"memory", "pids"} {
		if !enabled[c] {
			m.warn(fmt.Sprintf("cgroups: %s controller not available: no %s accounting: %v", c, c, why[c]))
		}
	}

	mgr, err := fs2.NewManager(&cgroups.Cgroup{Resources: &cgroups.Resources{}}, leaf)
	if err != nil {
		return fmt.Errorf("cgroups: create %s: %w", leaf, err)
	}
	// limit applies one limit through the library's fs2 setters, after
	// checking that the controller it needs is enabled.
	limit := func(name, ctrl string, res *cgroups.Resources) error {
		m.unlogged() // through the library
		if !enabled[ctrl] {
			return m.fail(name, notSupported("%s controller not available: %v", ctrl, why[ctrl]))
		}
		if err := mgr.Set(res); err != nil {
			return m.fail(name, err)
		}
		return nil
	}

	if cpu.Cpus != "" {
		if err := limit(fmt.Sprintf("cpuset cpus %q", cpu.Cpus), "cpuset", &cgroups.Resources{CpusetCpus: cpu.Cpus}); err != nil {
			return err
		}
		if err := m.checkEffectiveV2(leaf, "cpus", cpu.Cpus); err != nil {
			return err
		}
	}
	if cpu.Mems != "" {
		if err := limit(fmt.Sprintf("cpuset mems %q", cpu.Mems), "cpuset", &cgroups.Resources{CpusetMems: cpu.Mems}); err != nil {
			return err
		}
		if err := m.checkEffectiveV2(leaf, "mems", cpu.Mems); err != nil {
			return err
		}
	}
	if mem := r.Memory; mem != nil && mem.Limit != nil {
		if err := limit("memory limit", "memory", &cgroups.Resources{Memory: *mem.Limit}); err != nil {
			return err
		}
		if s := mem.Swap; s != nil && enabled["memory"] {
			if err := m.setSwapV2(leaf, *s, *mem.Limit); err != nil {
				return err
			}
		}
	}
	if mem := r.Memory; mem != nil && mem.Reservation != nil {
		if err := limit("memory reservation", "memory", &cgroups.Resources{MemoryReservation: *mem.Reservation}); err != nil {
			return err
		}
	}
	if p := r.Pids; p != nil && p.Limit != nil {
		m.unlogged()
		if !enabled["pids"] {
			if err := m.fail("pids limit", notSupported("pids controller not available: %v", why["pids"])); err != nil {
				return err
			}
		} else if err := writePidsMax(leaf, *p.Limit); err != nil {
			if err := m.fail("pids limit", err); err != nil {
				return err
			}
		}
	}
	if cpu.Shares != nil {
		w := cgroups.ConvertCPUSharesToCgroupV2Value(*cpu.Shares)
		if err := limit(fmt.Sprintf("cpu shares (cpu.weight %d)", w), "cpu", &cgroups.Resources{CpuWeight: w}); err != nil {
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
		if err := limit("cpu quota", "cpu", res); err != nil {
			return err
		}
	}
	// Unified last, so that it can refine what the fields above set.
	keys := make([]string, 0, len(r.Unified))
	for k := range r.Unified {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) > 0 {
		m.unlogged()
	}
	for _, k := range keys {
		c, _, _ := strings.Cut(k, ".")
		if c == "cgroup" {
			c = ""
		}
		name := "unified " + k
		if c != "" && !enabled[c] {
			if err := m.fail(name, notSupported("%s controller not available: %v", c, why[c])); err != nil {
				return err
			}
			continue
		}
		if err := mgr.Set(&cgroups.Resources{Unified: map[string]string{k: r.Unified[k]}}); err != nil {
			if err := m.fail(name, err); err != nil {
				return err
			}
		}
	}
	return nil
}

// setSwapV2 writes memory.swap.max: OCI's memory+swap total minus the memory
// limit (the library's conversion). Written here, not by fs2's setter, to tell
// a swap failure apart from a memory-limit failure and to refuse, rather than
// ignore, a missing memory.swap.max when the host has swap.
func (m *Manager) setSwapV2(dir string, swap, limit int64) error {
	v, err := cgroups.ConvertMemorySwapToCgroupV2Value(swap, limit)
	if err != nil {
		return m.fail("memory+swap limit", invalid("%v", err))
	}
	val := "max"
	if v >= 0 {
		val = strconv.FormatInt(v, 10)
	}
	if err := cgroups.WriteFile(dir, "memory.swap.max", val); err != nil {
		if err := swapUnenforceable(err, val == "max", "memory.swap.max"); err != nil {
			return m.fail("memory+swap limit", err)
		}
	}
	return nil
}

// checkEffectiveV2 fails the cpuset setting if the kernel accepted CPUs or
// memory nodes it cannot grant: on v2, unlike v1, cpuset.cpus may name CPUs
// the parent does not have, and cpuset.cpus.effective then silently differs.
func (m *Manager) checkEffectiveV2(dir, what, want string) error {
	eff, err := cgroups.ReadFile(dir, "cpuset."+what+".effective")
	if err != nil {
		return m.fail("cpuset "+what, err)
	}
	wantSet, err1 := parseList(want)
	effSet, err2 := parseList(strings.TrimSpace(eff))
	if err1 != nil || err2 != nil {
		return nil // the kernel accepted it; nothing better to compare
	}
	var missing []string
	for n := range wantSet {
		if !effSet[n] {
			missing = append(missing, strconv.Itoa(n))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	return m.fail(fmt.Sprintf("cpuset %s %q", what, want),
		notSupported("%s not available here (effective: %s)", strings.Join(missing, ","), strings.TrimSpace(eff)))
}

// parseList parses a kernel list such as "0-3,8".
func parseList(s string) (map[int]bool, error) {
	set := make(map[int]bool)
	if s == "" {
		return set, nil
	}
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return nil, err
			}
		}
		if b < a || b-a > 1<<16 {
			return nil, fmt.Errorf("bad range %q", part)
		}
		for i := a; i <= b; i++ {
			set[i] = true
		}
	}
	return set, nil
}

// placeV2 makes the missing parents of leaf (below v2Root) and enables
// want in the cgroup.subtree_control of each, from the root down, as a
// child cgroup needs. A parent that holds processes (nook's own cgroup,
// for a relative path) cannot pass controllers on: those are reported in
// why, as for the shared parent.
func (m *Manager) placeV2(leaf string, want []string) (enabled map[string]bool, why map[string]error, _ error) {
	if err := m.mkParents(v2Root, leaf); err != nil {
		return nil, nil, err
	}
	rel, err := filepath.Rel(v2Root, filepath.Dir(leaf))
	if err != nil {
		return nil, nil, err
	}
	enabled = make(map[string]bool)
	for _, c := range want {
		enabled[c] = true
	}
	why = make(map[string]error)
	top := v2Root
	if rel == "." {
		// the leaf is straight below the root: enable there only
		e, w, err := ensureParentV2(placeV2{root: v2Root, parent: v2Root}, want)
		if err != nil {
			return nil, nil, fmt.Errorf("cgroups: create %s: %w", leaf, err)
		}
		return e, w, nil
	}
	for el := range strings.SplitSeq(rel, "/") {
		next := filepath.Join(top, el)
		e, w, err := ensureParentV2(placeV2{root: top, parent: next}, want)
		if err != nil {
			return nil, nil, fmt.Errorf("cgroups: create %s: %w", leaf, err)
		}
		for _, c := range want {
			if !e[c] && enabled[c] {
				enabled[c] = false
				why[c] = w[c]
			}
		}
		top = next
	}
	for c, ok := range enabled {
		if !ok {
			delete(enabled, c)
		}
	}
	return enabled, why, nil
}

// ensureParentV2 makes sure p.parent (ParentV2 as root) exists and has the
// wanted controllers in its cgroup.subtree_control, enabling them in p.root's
// first if needed. In the common case (parent already set up) this is one
// read. It reports which of want are enabled, and why the others are not.
func ensureParentV2(p placeV2, want []string) (enabled map[string]bool, why map[string]error, _ error) {
	sub, err := cgroups.ReadFile(p.parent, "cgroup.subtree_control")
	if errors.Is(err, os.ErrNotExist) {
		if err := unix.Mkdir(p.parent, 0o755); err != nil && err != unix.EEXIST {
			return nil, nil, &os.PathError{Op: "mkdir", Path: p.parent, Err: err}
		}
		sub, err = cgroups.ReadFile(p.parent, "cgroup.subtree_control")
	}
	if err != nil {
		return nil, nil, err
	}
	enabled = make(map[string]bool, len(want))
	for _, c := range strings.Fields(sub) {
		enabled[c] = true
	}
	var missing []string
	for _, c := range want {
		if !enabled[c] {
			missing = append(missing, c)
		}
	}
	if len(missing) == 0 {
		return enabled, nil, nil
	}

	why = make(map[string]error)
	avail, err := cgroups.ReadFile(p.root, "cgroup.controllers")
	if err != nil {
		return nil, nil, err
	}
	rootSub, err := cgroups.ReadFile(p.root, "cgroup.subtree_control")
	if err != nil {
		return nil, nil, err
	}
	for _, c := range missing {
		if !slices.Contains(strings.Fields(avail), c) {
			why[c] = notSupported("not in %s/cgroup.controllers", p.root)
			continue
		}
		// One controller per write, so that one the kernel refuses
		// does not keep the others from being enabled.
		if !slices.Contains(strings.Fields(rootSub), c) {
			if err := cgroups.WriteFile(p.root, "cgroup.subtree_control", "+"+c); err != nil {
				if errors.Is(err, unix.EBUSY) && p.root != v2Root {
					// the no-internal-process rule
					err = notSupported("%s holds processes (nook's own among them), so it cannot pass controllers on: start nook in a cgroup below it", p.root)
				}
				why[c] = err
				continue
			}
		}
		if err := cgroups.WriteFile(p.parent, "cgroup.subtree_control", "+"+c); err != nil {
			why[c] = err
			continue
		}
		enabled[c] = true
	}
	return enabled, why, nil
}

// RemoveParent removes the shared v2 parent (/sys/fs/cgroup/nook) if no
// sandbox uses it any more. A busy parent is not an error. It does nothing on
// v1 and hybrid hosts, where there is no shared parent. Create copes with the
// parent disappearing concurrently.
func RemoveParent() error {
	if detectMode() != Unified {
		return nil
	}
	switch err := unix.Rmdir(v2Parent); err {
	case nil, unix.ENOENT, unix.EBUSY, unix.ENOTEMPTY:
		return nil
	default:
		return fmt.Errorf("cgroups: %w", &os.PathError{Op: "rmdir", Path: v2Parent, Err: err})
	}
}

package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"
)

// An OCI spec's linux.cgroupsPath places the sandbox's cgroup where the
// engine wants it (a Kubernetes pod's cgroup, a podman slice) instead of
// nook's own naming. Its meaning is runc's (cgroupfs driver):
//
//   - an absolute path is below the root of each hierarchy: "/a/b" is
//     /sys/fs/cgroup/memory/a/b on v1 and /sys/fs/cgroup/a/b on v2;
//   - a relative path is below the cgroup of the runtime itself (nook's
//     own, from /proc/self/cgroup, per hierarchy on v1);
//   - systemd's "slice:prefix:name" is for the systemd driver only, which
//     nook does not have: it is refused, never taken as a relative path.
//
// The directories above the sandbox's that do not exist yet are made and
// recorded (Manager.Parents), and removed after the sandbox's own if they
// are empty by then; those that existed are another owner's and are never
// removed or changed, apart from enabling the wanted controllers in their
// cgroup.subtree_control on v2, which a child cgroup needs.

// ErrSystemdPath is wrapped by the error for a cgroupsPath in systemd's
// "slice:prefix:name" form.
var ErrSystemdPath = errors.New(`systemd's "slice:prefix:name" form needs the systemd cgroup driver (--systemd-cgroup), which nook does not have`)

// CheckPath checks a linux.cgroupsPath before anything is made.
func CheckPath(p string) error {
	if p == "" {
		return nil
	}
	if !strings.Contains(p, "/") && strings.Count(p, ":") == 2 {
		return fmt.Errorf("cgroups: path %q: %w", p, ErrSystemdPath)
	}
	for el := range strings.SplitSeq(p, "/") {
		if el == ".." {
			return fmt.Errorf("cgroups: path %q: %w", p, invalid(`".." is not allowed`))
		}
	}
	if strings.Trim(p, "/") == "" {
		return fmt.Errorf("cgroups: path %q: %w", p, invalid("names no cgroup below the root"))
	}
	return nil
}

// ownCgroup is this process's cgroup in the hierarchy of controller c (""
// for v2), from /proc/self/cgroup.
func ownCgroup(c string) (string, error) {
	m, err := cgroups.ParseCgroupFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	p, ok := m[c]
	if !ok {
		return "", fmt.Errorf("no %q hierarchy in /proc/self/cgroup", c)
	}
	return p, nil
}

// pathIn is the directory m.path names in the hierarchy mounted at mnt
// for controller c ("" on v2).
func (m *Manager) pathIn(mnt, c string) (string, error) {
	if filepath.IsAbs(m.path) {
		return filepath.Join(mnt, m.path), nil
	}
	own, err := ownCgroup(c)
	if err != nil {
		return "", fmt.Errorf("cgroups: relative path %q: %w", m.path, err)
	}
	return filepath.Join(mnt, own, m.path), nil
}

// mkParents makes the missing directories between top (which exists) and
// dir, dir excluded, recording each made in m.parents.
func (m *Manager) mkParents(top, dir string) error {
	m.unlogged() // a parent exists or not: not for replaying
	rel, err := filepath.Rel(top, filepath.Dir(dir))
	if err != nil || rel == "." {
		return err
	}
	cur := top
	for el := range strings.SplitSeq(rel, "/") {
		cur = filepath.Join(cur, el)
		if err := m.reserveParent(cur); err != nil {
			return err
		}
		switch err := unix.Mkdir(cur, 0o755); err {
		case nil:
			m.parents = append(m.parents, cur)
		case unix.EEXIST:
		default:
			return fmt.Errorf("cgroups: create: %w", &os.PathError{Op: "mkdir", Path: cur, Err: err})
		}
	}
	return nil
}

// reserveParent tells Options.Reserve of a parent that did not need
// making when Create looked (reserveDirs) but is missing now: another
// sandbox's clean-up removed it since. Made without a word, it would be
// nobody's if this process died before Create's record of what it made.
func (m *Manager) reserveParent(dir string) error {
	if m.reserve == nil || slices.Contains(m.reserved, dir) {
		return nil
	}
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := m.reserve(nil, []string{dir}); err != nil {
		return err
	}
	m.reserved = append(m.reserved, dir)
	return nil
}

// Parents returns the directories Create made above the sandbox's own
// ones for a Path, deepest first: they are removed after the sandbox's,
// when empty.
func (m *Manager) Parents() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := make([]string, 0, len(m.parents))
	for i := len(m.parents) - 1; i >= 0; i-- {
		p = append(p, m.parents[i])
	}
	return p
}

// rmParents removes the parents made for the sandbox that nobody else
// uses now; one that another sandbox made a cgroup in meanwhile stays.
func (m *Manager) rmParents() {
	var busy []string
	for i := len(m.parents) - 1; i >= 0; i-- {
		dir := m.parents[i]
		// a busy parent keeps those above it, in its own hierarchy only:
		// the parents of the other hierarchies are tried all the same
		if slices.ContainsFunc(busy, func(b string) bool { return strings.HasPrefix(b, dir+"/") }) {
			busy = append(busy, dir)
			continue
		}
		switch unix.Rmdir(dir) {
		case nil, unix.ENOENT:
		default:
			busy = append(busy, dir)
		}
	}
	// keep the ones left, shallowest first, as made
	slices.Reverse(busy)
	m.parents = busy
}

// OpenPaths returns a Manager for the cgroup directories a sandbox
// recorded (Paths, then Parents): those below no other of dirs are the
// sandbox's own, the others the parents made for them. Unlike Open, it
// finds cgroups placed by a Path too. It fails with os.ErrNotExist when
// none of the sandbox's own directories exists.
func OpenPaths(name string, dirs []string) (*Manager, error) {
	m, err := openPaths(name, dirs)
	if err != nil {
		return nil, err
	}
	if len(m.dirs) == 0 {
		return nil, fmt.Errorf("cgroups: open %s: %w", name, os.ErrNotExist)
	}
	return m, nil
}

// DestroyPaths removes what exists of the cgroup directories a sandbox
// recorded (as OpenPaths takes them), killing their processes: the
// sandbox's own, then the parents made for them that nobody else uses.
// A parent is removed even when none of the sandbox's own directories
// exists, as a Create killed between making a parent and the directory
// below it leaves.
func DestroyPaths(name string, dirs []string) error {
	m, err := openPaths(name, dirs)
	if err != nil {
		return err
	}
	return m.Destroy()
}

// openPaths is OpenPaths, with a Manager also for parents alone.
func openPaths(name string, dirs []string) (*Manager, error) {
	m := &Manager{name: name, mode: detectMode(), ctrl: make(map[string]string)}
	for _, d := range dirs {
		parent := false
		for _, o := range dirs {
			if strings.HasPrefix(o, d+"/") {
				parent = true
				break
			}
		}
		if _, err := os.Stat(d); err != nil {
			continue
		}
		if parent {
			// recorded deepest first; kept shallowest first
			m.parents = append([]string{d}, m.parents...)
			continue
		}
		m.dirs = append(m.dirs, d)
	}
	if len(m.dirs) == 0 {
		return m, nil
	}
	switch m.mode {
	case Unified:
		ctrls, err := cgroups.ReadFile(m.dirs[0], "cgroup.controllers")
		if err != nil {
			return nil, fmt.Errorf("cgroups: open %s: %w", name, err)
		}
		for _, c := range strings.Fields(ctrls) {
			m.ctrl[c] = m.dirs[0]
		}
	default:
		// a hierarchy is known by its device, whatever name (cpu,
		// cpuacct or a symlink) the directory was made under
		for _, d := range m.dirs {
			var st unix.Stat_t
			if unix.Stat(d, &st) != nil {
				continue
			}
			for c, mnt := range v1Mounts() {
				if mnt.dev == st.Dev {
					m.ctrl[c] = d
				}
			}
		}
	}
	return m, nil
}

package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/opencontainers/cgroups"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Mode is the host's cgroup layout.
type Mode int

const (
	// Unavailable means no cgroup filesystem is mounted at /sys/fs/cgroup.
	Unavailable Mode = iota
	// Legacy is pure cgroup v1: one hierarchy per controller (or group).
	Legacy
	// Hybrid is cgroup v1 controllers plus a controller-less v2 tree at
	// /sys/fs/cgroup/unified. nook uses the v1 controllers.
	Hybrid
	// Unified is pure cgroup v2.
	Unified
)

func (m Mode) String() string {
	switch m {
	case Legacy:
		return "legacy"
	case Hybrid:
		return "hybrid"
	case Unified:
		return "unified"
	default:
		return "unavailable"
	}
}

// Root is where the cgroup filesystems are expected.
const Root = "/sys/fs/cgroup"

// ParentV2 is the shared parent of all sandbox cgroups on cgroup v2.
const ParentV2 = Root + "/nook"

// dirPrefixV1 prefixes a sandbox's directory in each v1 hierarchy.
const dirPrefixV1 = "nook-"

// MinMemoryLimit is the smallest memory limit Create accepts, in bytes. The
// kernel itself accepts any value and silently rounds it down to whole pages
// (so a 1-byte limit becomes 0), which no process can start under; a limit
// this small is always a configuration mistake, so it is rejected with
// ErrInvalid rather than turned into a useless limit.
const MinMemoryLimit = 1 << 20

var (
	// ErrNotSupported is wrapped by errors about limits or operations that
	// this host cannot enforce (controller not mounted or not enabled, a
	// v2-only setting on v1, no eBPF for device rules on v2, ...).
	ErrNotSupported = errors.New("not supported on this host")
	// ErrInvalid is wrapped by errors about malformed or nonsensical
	// settings. These are errors even with Options.BestEffort.
	ErrInvalid = errors.New("invalid setting")
)

// kindError is an error whose text is msg and which matches kind (one of
// ErrNotSupported, ErrInvalid) with errors.Is.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }

func notSupported(format string, args ...any) error {
	return &kindError{kind: ErrNotSupported, msg: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) error {
	return &kindError{kind: ErrInvalid, msg: fmt.Sprintf(format, args...)}
}

// LimitError reports a limit that could not be applied.
type LimitError struct {
	Limit string // e.g. "memory limit", "cpuset cpus", "unified io.max"
	Err   error
}

func (e *LimitError) Error() string { return "cgroups: " + e.Limit + ": " + e.Err.Error() }
func (e *LimitError) Unwrap() error { return e.Err }

// detectMode, v2Root and v2Parent are variables only so that the tests can
// run the v2 code on the (controller-less) v2 tree of a hybrid host.
var (
	detectMode = DetectMode
	v2Root     = Root
	v2Parent   = ParentV2
)

// DetectMode reports the host's cgroup layout. It costs one statfs(2) of
// /sys/fs/cgroup and, unless that is cgroup2, one of /sys/fs/cgroup/unified.
func DetectMode() Mode {
	var st unix.Statfs_t
	if err := unix.Statfs(Root, &st); err != nil {
		return Unavailable
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		return Unified
	}
	if err := unix.Statfs(Root+"/unified", &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return Hybrid
	}
	return Legacy
}

// Options tune Create.
type Options struct {
	// BestEffort makes a limit that cannot be enforced here a warning (see
	// Manager.Warnings) instead of an error; the limit is dropped. Malformed
	// settings (ErrInvalid) are errors regardless.
	BestEffort bool
	// Minimal makes, on cgroup v1, only the hierarchies the limits in r
	// need: no memory, pids and cpuacct for accounting alone, and no
	// freezer. Each hierarchy costs a start-up a directory and a join,
	// and a v1 join waits for an RCU grace period; a sandbox that reads
	// no account needs none of them. Stats then reports zero for what is
	// not accounted, and Kill signals without freezing. On v2 there is
	// one directory either way.
	Minimal bool
	// CPUUsage keeps the CPU account (cpuacct on v1) in Minimal mode, for
	// Manager.CPUUsage: a CPU-time limit needs it.
	CPUUsage bool
	// Track keeps the freezer hierarchy in Minimal mode, without limits:
	// the cgroup is then what finds the sandbox's processes to kill (one
	// without a pid namespace of its own), and Kill freezes them first.
	Track bool
	// Path is an OCI linux.cgroupsPath: where the sandbox's cgroup goes,
	// as runc places it (path.go), instead of nook's own naming. It must
	// not exist yet.
	Path string
	// Updatable makes, on v1, the cpu and cpuset hierarchies' directories
	// even without a limit in them (and enables cpuset on v2), so that
	// Update can set those limits later, as runc's update can.
	Updatable bool
	// Reserve, where set, is told every directory Create is about to
	// make, before the first mkdir: the sandbox's own (as Paths will
	// list them) and the parents above them for Path that do not exist
	// yet (deepest first, as Parents will list them). A caller that may
	// be killed halfway records them there, so that a later cleanup
	// finds whatever of them was made. A sandbox directory that exists
	// already is refused before Reserve is called, so it is never told
	// of one that is not the sandbox's; an error from Reserve stops
	// Create with nothing made.
	Reserve func(dirs, parents []string) error
	// Log keeps what Create does on the host (Manager.Log), for a caller
	// that will do it again itself.
	Log bool
}

// Log is what Create did on the host, for a caller that replays it (the
// container package's prepared runs): each directory made, in order, each
// device program attached (v2), then each file written, with what; and
// what must hold for that to be all: the controllers the shared v2 parent
// passes on. Complete is false where Create did anything it does not list
// here: a limit set through opencontainers/cgroups, a parent made for a
// cgroupsPath, a limit dropped.
type Log struct {
	Mkdirs []string
	// Programs are the v2 device programs, attached right after the
	// mkdirs: Path is the cgroup, Data the program's instructions
	// (struct bpf_insn).
	Programs []LogWrite
	Writes   []LogWrite
	// Checks are files that must hold every word of Data (a
	// cgroup.subtree_control and the controllers Create found or made
	// enabled there), or the rest does not make the same cgroup.
	Checks   []LogWrite
	Complete bool
}

// LogWrite is one write(2) of Data to the file at Path (or, in
// Log.Programs and Log.Checks, a program or the words for Path).
type LogWrite struct {
	Path string
	Data []byte
}

// Manager owns the cgroup directories of one sandbox.
type Manager struct {
	mu        sync.Mutex
	mode      Mode
	name      string
	bestEff   bool
	minimal   bool
	cpuUsage  bool
	track     bool
	dirs      []string // unique directories, in creation order
	path      string   // Options.Path
	updatable bool     // Options.Updatable
	reserve   func(dirs, parents []string) error
	parents   []string          // made above dirs for path, shallowest first
	reserved  []string          // parents Reserve has been told of
	ctrl      map[string]string // controller -> its directory (v2: enabled ones)
	warnings  []string
	gone      bool // Destroy succeeded
	log       *Log // Options.Log
}

// Create makes the cgroup(s) of the sandbox called name (see the package
// documentation for where), applies r (which may be nil) and returns their
// Manager. No process is added. On error, everything Create made has been
// removed again. name must be 1 to 128 characters of [A-Za-z0-9_.-], not
// starting with '.', and must not be in use by another live sandbox.
func Create(name string, r *specs.LinuxResources, opts *Options) (*Manager, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	m := &Manager{name: name, mode: detectMode()}
	if opts != nil {
		m.bestEff = opts.BestEffort
		m.minimal = opts.Minimal
		m.cpuUsage = opts.CPUUsage
		m.track = opts.Track
		m.path = opts.Path
		m.updatable = opts.Updatable
		m.reserve = opts.Reserve
		if opts.Log {
			m.log = &Log{Complete: true}
		}
	}
	if err := CheckPath(m.path); err != nil {
		return nil, err
	}
	if r == nil {
		r = &specs.LinuxResources{}
	}
	if err := m.validate(r); err != nil {
		return nil, err
	}
	var err error
	switch m.mode {
	case Unified:
		err = m.createV2(r)
	case Legacy, Hybrid:
		if os.Geteuid() != 0 {
			// nook's v1 directories sit at the hierarchies' roots
			_, err = DelegatedV2()
			break
		}
		err = m.createV1(r)
	default:
		err = fmt.Errorf("cgroups: create %s: %w", name, notSupported("no cgroup filesystem mounted at %s", Root))
	}
	if err != nil {
		m.rollback()
		return nil, err
	}
	return m, nil
}

// Open returns a Manager for the existing cgroups of sandbox name, made by
// Create in this or another process (for example one that crashed), so that
// they can be inspected, killed or destroyed. It fails with os.ErrNotExist if
// there are none. Warnings are not recovered. Managers identify cgroups by
// path only: once one Manager destroyed the sandbox and the name was reused,
// another Manager for the old sandbox would act on the new one, so destroy
// through one of them only.
func Open(name string) (*Manager, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	m := &Manager{name: name, mode: detectMode(), ctrl: make(map[string]string)}
	switch m.mode {
	case Unified:
		place, err := findPlaceV2()
		if err != nil {
			return nil, fmt.Errorf("cgroups: open %s: %w", name, err)
		}
		dir := place.parent + "/" + name
		ctrls, err := cgroups.ReadFile(dir, "cgroup.controllers")
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				break
			}
			return nil, fmt.Errorf("cgroups: open %s: %w", name, err)
		}
		m.dirs = []string{dir}
		for _, c := range strings.Fields(ctrls) {
			m.ctrl[c] = dir
		}
	case Legacy, Hybrid:
		seen := make(map[uint64]string)
		for _, c := range v1Controllers {
			mnt, ok := v1Mounts()[c]
			if !ok {
				continue
			}
			if dir, ok := seen[mnt.dev]; ok {
				m.ctrl[c] = dir
				continue
			}
			dir := filepath.Join(mnt.path, dirPrefixV1+name)
			if _, err := os.Stat(dir); err != nil {
				continue
			}
			seen[mnt.dev] = dir
			m.ctrl[c] = dir
			m.dirs = append(m.dirs, dir)
		}
	}
	if len(m.dirs) == 0 {
		return nil, fmt.Errorf("cgroups: open %s: %w", name, os.ErrNotExist)
	}
	return m, nil
}

func checkName(name string) error {
	if name == "" || len(name) > 128 || name[0] == '.' {
		return fmt.Errorf("cgroups: sandbox name %q: %w", name, invalid("must be 1-128 characters and not start with '.'"))
	}
	for _, c := range []byte(name) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '.', c == '-':
		default:
			return fmt.Errorf("cgroups: sandbox name %q: %w", name, invalid("only [A-Za-z0-9_.-] allowed"))
		}
	}
	return nil
}

// mkdir makes dir, which must not exist yet, and records it for removal.
func (m *Manager) mkdir(dir string) error {
	if err := unix.Mkdir(dir, 0o755); err != nil {
		if err == unix.EEXIST {
			return m.existsErr(dir)
		}
		return fmt.Errorf("cgroups: create: %w", &os.PathError{Op: "mkdir", Path: dir, Err: err})
	}
	m.dirs = append(m.dirs, dir)
	if m.log != nil {
		m.log.Mkdirs = append(m.log.Mkdirs, dir)
	}
	return nil
}

// Log returns what Create did (Options.Log), or nil.
func (m *Manager) Log() *Log { return m.log }

// unlogged marks the Log incomplete: Create did something it does not
// list.
func (m *Manager) unlogged() {
	if m.log != nil {
		m.log.Complete = false
	}
}

// logWrite keeps a write of Create's.
func (m *Manager) logWrite(path, data string) {
	if m.log != nil {
		m.log.Writes = append(m.log.Writes, LogWrite{Path: path, Data: []byte(data)})
	}
}

func (m *Manager) existsErr(dir string) error {
	return fmt.Errorf("cgroups: create %s: %w (cgroup already exists; is another sandbox called %q running?)",
		dir, os.ErrExist, m.name)
}

// reserveDirs tells Options.Reserve what Create is about to make: each of
// dirs, below tops[i] (its hierarchy's root, which exists), and the
// parents between them that do not exist yet. A dir that exists is
// refused first: it is another sandbox's, and must not be recorded as
// this one's. (One made by someone else between this look and the mkdir
// is still refused by the mkdir, and Create fails.)
func (m *Manager) reserveDirs(tops, dirs []string) error {
	if m.reserve == nil {
		return nil
	}
	var parents []string // in the order they will be made
	for i, dir := range dirs {
		if _, err := os.Lstat(dir); err == nil {
			return m.existsErr(dir)
		}
		rel, err := filepath.Rel(tops[i], filepath.Dir(dir))
		if err != nil || rel == "." {
			continue
		}
		cur := tops[i]
		for el := range strings.SplitSeq(rel, "/") {
			cur = filepath.Join(cur, el)
			if _, err := os.Lstat(cur); errors.Is(err, os.ErrNotExist) && !slices.Contains(parents, cur) {
				parents = append(parents, cur)
			}
		}
	}
	// in the order Paths and Parents give: the order of removal
	d := slices.Clone(dirs)
	slices.Reverse(d)
	slices.Reverse(parents)
	if err := m.reserve(d, parents); err != nil {
		return err
	}
	m.reserved = append(m.reserved, parents...)
	return nil
}

// rollback removes what a failed Create made. Nothing has joined yet, so a
// plain rmdir suffices.
func (m *Manager) rollback() {
	for i := len(m.dirs) - 1; i >= 0; i-- {
		_ = unix.Rmdir(m.dirs[i])
	}
	m.dirs = nil
	m.rmParents()
}

// fail records a limit that could not be applied: an error, or with
// BestEffort (and unless the setting is malformed) a warning, in which case
// fail returns nil and the caller goes on without the limit.
func (m *Manager) fail(limit string, err error) error {
	le := &LimitError{Limit: limit, Err: err}
	if m.bestEff && !errors.Is(err, ErrInvalid) {
		m.warn(le.Error() + " (limit dropped)")
		return nil
	}
	return le
}

func (m *Manager) warn(s string) {
	m.unlogged()
	m.warnings = append(m.warnings, s)
}

// forget drops dir from the directories to remove and from the controller
// map, after it was removed early (a BestEffort limit that was dropped).
func (m *Manager) forget(dir string) {
	m.dirs = slices.DeleteFunc(m.dirs, func(d string) bool { return d == dir })
	for c, d := range m.ctrl {
		if d == dir {
			delete(m.ctrl, c)
		}
	}
}

// Mode reports the layout the Manager was created for.
func (m *Manager) Mode() Mode { return m.mode }

// Name reports the sandbox name given to Create.
func (m *Manager) Name() string { return m.name }

// Paths returns every directory the Manager made (and owns), in the order
// they must be removed. Directories already removed by Destroy are omitted.
// The shared v2 parent (ParentV2) is not included: it is not the sandbox's.
func (m *Manager) Paths() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := slices.Clone(m.dirs)
	slices.Reverse(p)
	return p
}

// UnifiedDir returns the sandbox's one directory on a cgroup v2 host, where
// a new process can start straight in it (clone3's CLONE_INTO_CGROUP, with
// an fd of the directory) instead of being moved there by Add; "" on v1
// and hybrid hosts, where a process joins one directory per hierarchy.
func (m *Manager) UnifiedDir() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mode != Unified || m.gone || len(m.dirs) != 1 {
		return ""
	}
	return m.dirs[0]
}

// ProcsFiles returns the cgroup.procs files a pid must be written into to
// join all of the sandbox's cgroups, in the order Add uses.
func (m *Manager) ProcsFiles() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := make([]string, len(m.dirs))
	for i, d := range m.dirs {
		f[i] = filepath.Join(d, "cgroup.procs")
	}
	return f
}

// TasksFiles returns, on cgroup v1 and hybrid hosts, the tasks file of
// each of the sandbox's directories, in the order Add uses: a
// single-threaded process that writes "0" to each moves itself into all
// of them. That is cheaper than Add: the kernel moves a task that moves
// itself without taking the lock that a pid written to cgroup.procs
// takes, whose first taker waits for an RCU grace period. Nil on v2,
// where a process starts in its cgroup instead (UnifiedDir).
func (m *Manager) TasksFiles() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mode == Unified {
		return nil
	}
	f := make([]string, len(m.dirs))
	for i, d := range m.dirs {
		f[i] = filepath.Join(d, "tasks")
	}
	return f
}

// Warnings returns the limits dropped because of Options.BestEffort and the
// features (accounting, freezer) that are unavailable on this host.
func (m *Manager) Warnings() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.warnings)
}

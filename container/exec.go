package container

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/nookrun/nook/namespaces"
	"github.com/nookrun/nook/state"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ExecOptions describe a process to start in a running sandbox, as docker
// exec does. What is not set is the sandbox's own: its user, working
// directory and environment.
type ExecOptions struct {
	Args []string
	// Env is added to the sandbox's environment (K=V replaces K).
	Env []string
	// Cwd is the working directory inside; "" for the sandbox's.
	Cwd string
	// User is who the process runs as; nil for the sandbox's user.
	User *specs.User
	// TTY gives the process a new pseudo-terminal in the sandbox, of
	// ConsoleSize (nil: the kernel's default size).
	TTY         bool
	ConsoleSize *specs.Box
	// Stdin, Stdout and Stderr are the process's; nil means nook's own.
	Stdin, Stdout, Stderr *os.File
	// Process, when set, is the whole process to start (runc's exec
	// --process FILE): Args, Env, Cwd and User above are ignored, and
	// nothing of the sandbox's own process is kept but its seccomp
	// filter.
	Process *specs.Process
	// Caps are capabilities (CAP_NAME) added to every set.
	Caps []string
	// NoNewPrivs sets no_new_privs for the process.
	NoNewPrivs bool
	// Warnf is told what of Process (or Caps) is skipped because it
	// cannot be had here, as Options.Warnf.
	Warnf func(format string, args ...any)
	// Detach makes the command the caller's child, outliving it, instead
	// of one that Wait waits for (runc's exec --detach): Execution.Pid is
	// then the command's pid, for the caller or its subreaper (a
	// containerd shim, conmon) to reap.
	Detach bool
	// Quick says that this is the plain command line (nook [--root DIR]
	// exec SANDBOX [--] COMMAND...), which nook's ELF entry point
	// replays without Go: the exec's plan is kept beside the sandbox's
	// state, where the entry can do all that it does (keepQuick).
	Quick bool
	// BeforeStart, when set, is called once the command's process exists
	// and right before it is let run its first step (Foreground.Exec
	// waits there for the signals it catches, which it caught while exec
	// read, planned and cloned).
	BeforeStart func()
}

// Exec starts a process in the sandbox: in all of its namespaces and its
// cgroup, with its root, capabilities, seccomp filter, no_new_privs and
// environment. It fails for a sandbox that is not running.
func (in *Instance) Exec(o *ExecOptions) (*Execution, error) {
	// whether init still runs is read from /proc, not from the state, once:
	// the pidfd exec works through is opened after reading init's start
	// time (state.Process.Open), which is all that State.Current would
	// read too. The state is read again only when that fails, in case it
	// has moved on since it was loaded (an OCI container started since):
	// what exec needs of it otherwise (init, cgroups) is fixed once it
	// runs
	st := in.State
	initFD := -1
	if st.Status == state.Running {
		initFD, _ = st.Init.Open()
	}
	if initFD < 0 {
		if err := in.Refresh(); err != nil {
			return nil, err
		}
		st = in.State
		if cur := st.Current(); !cur.CanExec() {
			return nil, fmt.Errorf("sandbox %s is %s: nook exec needs a running sandbox", st.DisplayName(), cur)
		}
		fd, err := st.Init.Open()
		if err != nil {
			return nil, fmt.Errorf("sandbox %s is stopped", st.DisplayName())
		}
		initFD = fd
	}
	initPidfd := os.NewFile(uintptr(initFD), "pidfd of "+strconv.Itoa(st.Init.Pid))
	defer initPidfd.Close()
	if o.Process != nil {
		if len(o.Process.Args) == 0 || o.Process.Args[0] == "" {
			return nil, errors.New("exec: process.args: no command given")
		}
	} else if len(o.Args) == 0 || o.Args[0] == "" {
		return nil, errors.New("exec: no command given")
	}
	x, err := in.exec(st, initPidfd, o)
	// a sandbox that stops meanwhile fails the start in ways that name
	// no sandbox (its init's /proc entries are gone; a pid namespace
	// whose init is gone takes no new process: ENOMEM): say what
	// happened, once init is seen to end. An init that is PID 1 ends
	// only after every other process of its namespace has, which can
	// take longer under load: ENOMEM waits for it longer.
	wait := 200 * time.Millisecond
	if errors.Is(err, unix.ENOMEM) {
		wait = 5 * time.Second
	}
	if err != nil && waitGone(st.Init, time.Now().Add(wait)) {
		var se *StartError
		if errors.As(err, &se) {
			se.Err = fmt.Errorf("sandbox %s stopped while the command started: %w", st.DisplayName(), se.Err)
			return nil, se
		}
		return nil, fmt.Errorf("sandbox %s stopped while the command started: %w", st.DisplayName(), err)
	}
	return x, err
}

// exec starts the process; initPidfd is a pidfd of st.Init, checked
// against pid reuse.
func (in *Instance) exec(st *state.State, initPidfd *os.File, o *ExecOptions) (*Execution, error) {
	parts, err := execParts(in.store, st.ID)
	if err != nil {
		return nil, err
	}
	proc := parts.Process
	// the sandbox's process, changed as asked
	if o.Process != nil {
		p := *o.Process
		proc = &p
		if proc.Cwd == "" {
			proc.Cwd = "/"
		}
		if !filepath.IsAbs(proc.Cwd) {
			return nil, fmt.Errorf("exec: process.cwd %q is not absolute", proc.Cwd)
		}
		o.TTY = proc.Terminal
		if proc.ConsoleSize != nil && o.ConsoleSize == nil {
			o.ConsoleSize = proc.ConsoleSize
		}
	} else {
		proc.Args = o.Args
		proc.Terminal = o.TTY
		proc.Env = mergeEnv(proc.Env, o.Env)
		if o.Cwd != "" {
			if !filepath.IsAbs(o.Cwd) {
				return nil, fmt.Errorf("exec: working directory %q is not absolute", o.Cwd)
			}
			proc.Cwd = o.Cwd
		}
		if o.User != nil {
			proc.User = *o.User
		}
	}
	if o.NoNewPrivs {
		proc.NoNewPrivileges = true
	}
	if len(o.Caps) > 0 {
		c := specs.LinuxCapabilities{}
		if proc.Capabilities != nil {
			c = *proc.Capabilities
		}
		for _, name := range o.Caps {
			name = strings.ToUpper(name)
			if !strings.HasPrefix(name, "CAP_") {
				name = "CAP_" + name
			}
			c.Bounding = append(c.Bounding, name)
			c.Effective = append(c.Effective, name)
			c.Permitted = append(c.Permitted, name)
			c.Inheritable = append(c.Inheritable, name)
			c.Ambient = append(c.Ambient, name)
		}
		proc.Capabilities = &c
	}
	target, theirs, err := joinTargetNS(st.Init)
	if err != nil {
		return nil, fmt.Errorf("exec into %s: %w", st.DisplayName(), err)
	}
	join, err := joinsOf(target, theirs)
	if err != nil {
		return nil, err
	}
	root := ""
	if parts.SharedRoot {
		// a container with no mount namespace of its own has its init
		// chrooted into its root (compileSharedRoot): so is what joins
		// it. The link reads as the path in init's mount namespace,
		// which the command has joined (or shares) by the chroot.
		if r, err := os.Readlink("/proc/" + strconv.Itoa(target) + "/root"); err == nil && r != "/" {
			root = r
		}
	}
	var cg []string
	for _, u := range st.Undo {
		if u.Kind == state.UndoCgroup {
			cg = append(cg, u.Path)
		}
	}
	if err := checkExecDevices(o, cg); err != nil {
		return nil, fmt.Errorf("exec into %s: %w", st.DisplayName(), err)
	}
	var rows, cols uint16
	if b := o.ConsoleSize; b != nil && o.TTY {
		if b.Height > 0xffff || b.Width > 0xffff {
			return nil, fmt.Errorf("exec: console size %dx%d is larger than a terminal can be", b.Height, b.Width)
		}
		rows, cols = uint16(b.Height), uint16(b.Width)
	}
	// root clones the command straight into the sandbox's pid namespace;
	// others cannot enter it from a thread of nook's (that needs
	// CAP_SYS_ADMIN here), so their child joins it and forks the command
	// under an init of nook's, as a detached command needs anyway
	isRoot := os.Geteuid() == 0
	pidNS := join.has(namespaces.PID) && isRoot && !o.Detach
	var targetFD *os.File
	if target == st.Init.Pid {
		targetFD = initPidfd
	}
	// an exec that warns is not replayed: the entry would not warn
	warned, warnf := false, o.Warnf
	if o.Quick {
		warnf = func(format string, args ...any) {
			warned = true
			if o.Warnf != nil {
				o.Warnf(format, args...)
			}
		}
	}
	e := &enterPlan{
		rows: rows, cols: cols,
		joins: join, userFirst: !isRoot, target: target, targetFD: targetFD, proc: proc, filter: parts.Filter, filterFlags: parts.FilterFlags,
		setGroups: !st.DenySetgroups, pidNS: pidNS, fork: (join.has(namespaces.PID) && !pidNS) || o.Detach,
		detach: o.Detach, cgroups: cg, files: []*os.File{o.Stdin, o.Stdout, o.Stderr}, tty: o.TTY, cwd: proc.Cwd,
		root: root, warnf: warnf, beforeStart: o.BeforeStart,
	}
	steps, err := e.compile()
	if err != nil {
		return nil, err
	}
	x, err := e.start(steps)
	if err == nil && o.Quick && !warned {
		// kept once the command runs: it waits for none of this
		in.keepQuick(st, e, steps)
	}
	return x, err
}

// NamespacePid returns the host PID of a process of the sandbox whose
// namespaces the caller may open (see joinTarget): for nook enter --sandbox
// and nook ns show.
func (in *Instance) NamespacePid() (int, error) {
	if cur := in.State.Current(); !cur.CanKill() {
		return 0, fmt.Errorf("sandbox %s is %s: it has no processes", in.State.DisplayName(), cur)
	}
	return joinTarget(in.State.Init)
}

// execSpec is the part of a sandbox's spec that nook exec needs: its
// process, and its seccomp profile undecoded (decoding the whole spec
// would cost an exec more than the rest of its work).
type execSpec struct {
	Process *specs.Process `json:"process"`
	Linux   *struct {
		Seccomp    json.RawMessage        `json:"seccomp"`
		Namespaces []specs.LinuxNamespace `json:"namespaces"`
	} `json:"linux"`
}

// sharedRoot: the sandbox has no mount namespace of its own, and its
// init is chrooted into its root (compileSharedRoot).
func (es *execSpec) sharedRoot() bool {
	if es.Linux == nil {
		return true
	}
	for _, ns := range es.Linux.Namespaces {
		if ns.Type == specs.MountNamespace && ns.Path == "" {
			return false
		}
	}
	return true
}

// execCache is what the first exec keeps of execSpec beside the state
// (execCacheFile), with the seccomp filter compiled: the spec is some
// 9 KB, most of it the seccomp profile, which the JSON decoder must scan
// even to skip; reading the process and the filter took 0.45 ms from the
// spec (its filter compiled) and 0.03 ms from the cache, config.json
// hashed (BenchmarkExecParts, warm, on a loaded 2-core VM), and the cache
// is decoded without reflection (decodeExecCache), which a fresh process
// would otherwise pay 0.07-0.1 ms for. A sandbox's spec does not change while it exists,
// but the cache is used only for the spec, architecture and format its
// Key names, so that no other filter is ever applied: one that an older
// nook left, or that a damaged file would give, is made again.
type execCache struct {
	// Key is execCacheKey of what the cache was made from.
	Key     string         `json:"key"`
	Process *specs.Process `json:"process"`
	// Filter is the compiled seccomp filter (nil: the spec has none),
	// with the flags it is loaded with.
	Filter      []byte `json:"filter,omitempty"`
	FilterFlags uint32 `json:"filterFlags,omitempty"`
	// SharedRoot: see execSpec.sharedRoot
	SharedRoot bool `json:"sharedRoot,omitempty"`
}

// execCacheFile holds the sandbox's execCache, in its state directory.
// (Not exec.json, the older cache, which a nook of before the key reads
// as a spec without seccomp when its seccomp field is missing.)
const execCacheFile = "exec-cache.json"

// execCacheFormat names what an execCache holds and how its filter was
// compiled; a cache of another format is made again. Change it with
// either.
const execCacheFormat = "nook.exec/2"

// execCacheKey names the cache made from the spec whose bytes are spec,
// on this architecture, in execCacheFormat.
func execCacheKey(spec []byte) string {
	sum := sha256.Sum256(spec)
	return execCacheFormat + " " + runtime.GOARCH + " sha256:" + hex.EncodeToString(sum[:])
}

// execParts returns what exec needs of the sandbox's spec, its seccomp
// filter compiled: from the cache beside its state where an exec left
// one for this spec, else from the spec (and caches it).
func execParts(s *state.Store, id string) (*execCache, error) {
	path := s.SpecFile(id)
	spec, err := state.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("exec: read spec: %w", err)
	}
	key := execCacheKey(spec)
	cache := filepath.Join(s.Path(id), execCacheFile)
	if b, err := state.ReadFile(cache); err == nil {
		if c, err := decodeExecCache(b); err == nil && c.Key == key && c.Process != nil && len(c.Filter)%8 == 0 {
			return c, nil
		}
	}
	var es execSpec
	if err := json.Unmarshal(spec, &es); err != nil {
		return nil, fmt.Errorf("exec: %s: %w", path, err)
	}
	if es.Process == nil {
		return nil, fmt.Errorf("exec: %s: no process", path)
	}
	filter, flags, err := es.filter()
	if err != nil {
		return nil, err
	}
	c := &execCache{Key: key, Process: es.Process, Filter: filter, FilterFlags: flags, SharedRoot: es.sharedRoot()}
	// a cache that cannot be written costs the next exec time, nothing
	// else
	if b, err := json.Marshal(c); err == nil {
		state.WriteFile(cache, b)
	}
	return c, nil
}

// filter compiles the spec's seccomp profile (nil: it has none).
func (es *execSpec) filter() ([]byte, uint32, error) {
	if es.Linux == nil || len(es.Linux.Seccomp) == 0 || string(es.Linux.Seccomp) == "null" {
		return nil, 0, nil
	}
	var sc specs.LinuxSeccomp
	if err := json.Unmarshal(es.Linux.Seccomp, &sc); err != nil {
		return nil, 0, fmt.Errorf("exec: linux.seccomp: %w", err)
	}
	return compileSeccomp(&sc, nil)
}

// mergeEnv returns base with each K=V of over replacing base's K.
func mergeEnv(base, over []string) []string {
	out := append([]string(nil), base...)
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, b := range out {
			if bk, _, _ := strings.Cut(b, "="); bk == k {
				out[i] = kv
				replaced = true
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

// checkExecDevices refuses a device among the exec'd command's stdin,
// stdout and stderr that the sandbox has no device cgroup to hold back: a
// sandbox gets none where nothing in it could reach a node its rules deny
// (CgroupNeed), and the command could reopen a device it is given through
// /proc/self/fd, for writing too where its fd is read-only. A terminal
// (the caller's own, without -t) and the standard nodes every sandbox has
// are always allowed. Only a v1 devices hierarchy counts as holding it
// back: on v2 the state does not say whether a device program is
// attached, so the answer is the safe one.
func checkExecDevices(o *ExecOptions, cgroupPaths []string) error {
	if devicesHeld(cgroupPaths) {
		return nil
	}
	standard := append([]specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}, StandardDevices()...)
	fds := []int{0, 1, 2} // nook's own where o names none
	for i, f := range []*os.File{o.Stdin, o.Stdout, o.Stderr} {
		if f != nil {
			fds[i] = int(f.Fd())
		}
	}
	isTerminal := func(fd int) bool {
		_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
		return err == nil
	}
	if i, d, denied := deniedDevice(fds, standard, isTerminal); denied {
		return fmt.Errorf("%s is the device %c %d:%d, and the sandbox has no device cgroup to keep it from reopening that device through /proc/self/fd: give it through a pipe, or use -t for a terminal",
			[]string{"stdin", "stdout", "stderr"}[i], d.Type, d.Major, d.Minor)
	}
	return nil
}

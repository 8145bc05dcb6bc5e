package container

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nookrun/nook/internal/spawn"
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
}

// Execution is a process started in namespaces that already exist (Exec,
// Enter). Its owner must Close it.
type Execution struct {
	proc    *spawn.Process
	tty     *os.File
	started time.Time
}

// Pid is the host PID of the process nook started: with a fork into a pid
// namespace, the small init that waits outside it for the command.
func (e *Execution) Pid() int { return e.proc.Pid }

// TTY returns the master side of the process's terminal, or nil.
func (e *Execution) TTY() *os.File { return e.tty }

// Signal sends sig to the process (passed on to the command).
func (e *Execution) Signal(sig syscall.Signal) error { return e.proc.Signal(sig) }

// Wait waits for the command to end; when ctx is done first, it is killed.
func (e *Execution) Wait(ctx context.Context) (*Result, error) {
	stop := context.AfterFunc(ctx, func() { e.proc.Signal(unix.SIGKILL) })
	defer stop()
	ex, err := e.proc.Wait()
	if err != nil {
		return nil, err
	}
	r := &Result{Rusage: ex.Rusage, Wall: time.Since(e.started)}
	r.CPU = time.Duration(ex.Rusage.Utime.Nano() + ex.Rusage.Stime.Nano())
	switch {
	case ex.Status.Exited():
		r.ExitCode = ex.Status.ExitStatus()
	case ex.Status.Signaled():
		r.Signal = ex.Status.Signal()
		r.ExitCode = 128 + int(r.Signal)
	}
	return r, nil
}

// Close kills what is left of the process and releases it. Idempotent.
func (e *Execution) Close() error {
	if e == nil || e.proc == nil {
		return nil
	}
	if e.tty != nil {
		e.tty.Close()
	}
	err := e.proc.Close()
	e.proc = nil
	return err
}

// Exec starts a process in the sandbox: in all of its namespaces and its
// cgroup, with its root, capabilities, seccomp filter, no_new_privs and
// environment. It fails for a sandbox that is not running.
func (in *Instance) Exec(o *ExecOptions) (*Execution, error) {
	if err := in.Refresh(); err != nil {
		return nil, err
	}
	st := in.State
	if cur := st.Current(); !cur.CanExec() {
		return nil, fmt.Errorf("sandbox %s is %s: nook exec needs a running sandbox", st.DisplayName(), cur)
	}
	if len(o.Args) == 0 || o.Args[0] == "" {
		return nil, errors.New("exec: no command given")
	}
	es, err := loadExecSpec(in.store, st.ID)
	if err != nil {
		return nil, err
	}
	// the sandbox's process, changed as asked
	proc := es.Process
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
	filter, flags, err := es.filter(in.store.Path(st.ID))
	if err != nil {
		return nil, err
	}
	fd, err := st.Init.Open()
	if err != nil {
		return nil, fmt.Errorf("sandbox %s is stopped", st.DisplayName())
	}
	defer unix.Close(fd)
	target, err := joinTarget(st.Init)
	if err != nil {
		return nil, fmt.Errorf("exec into %s: %w", st.DisplayName(), err)
	}
	join, err := sandboxJoins(target)
	if err != nil {
		return nil, err
	}
	var cg []string
	for _, u := range st.Undo {
		if u.Kind == state.UndoCgroup {
			cg = append(cg, u.Path)
		}
	}
	var rows, cols uint16
	if b := o.ConsoleSize; b != nil && o.TTY {
		if b.Height > 0xffff || b.Width > 0xffff {
			return nil, fmt.Errorf("exec: console size %dx%d is larger than a terminal can be", b.Height, b.Width)
		}
		rows, cols = uint16(b.Height), uint16(b.Width)
	}
	return start(&enterPlan{
		rows: rows, cols: cols,
		joins: join, userFirst: os.Geteuid() != 0, target: target, proc: proc, filter: filter, filterFlags: flags,
		setGroups: !st.DenySetgroups, fork: join.has(namespaces.PID), cgroups: cg,
		files: []*os.File{o.Stdin, o.Stdout, o.Stderr}, tty: o.TTY, cwd: proc.Cwd,
	})
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

// joinTarget returns a process of the sandbox whose namespace files nook
// may open: its init, or else a child of init. A sandbox made by a user
// other than root has an init that never exec'd and lost its "dumpable"
// flag when it gained capabilities in its new user namespace, so the
// kernel hides its namespace files from that user (nsenter -t fails on
// it too); the command, once exec'd, is dumpable again.
func joinTarget(init state.Process) (int, error) {
	_, err := namespaces.Of(init.Pid)
	if err == nil || !errors.Is(err, os.ErrPermission) {
		return init.Pid, err
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, perr := strconv.Atoi(e.Name())
		if perr != nil || pid == init.Pid {
			continue
		}
		b, rerr := os.ReadFile("/proc/" + e.Name() + "/stat")
		if rerr != nil {
			continue
		}
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(init.Pid) {
			continue
		}
		if _, oerr := namespaces.Of(pid); oerr == nil && init.Alive() {
			return pid, nil
		}
	}
	return 0, err
}

// execSpec is the part of a sandbox's spec that nook exec needs: its
// process, and its seccomp profile undecoded (decoding the whole spec
// would cost an exec more than the rest of its work).
type execSpec struct {
	Process *specs.Process `json:"process"`
	Linux   *struct {
		Seccomp json.RawMessage `json:"seccomp"`
	} `json:"linux"`
}

func loadExecSpec(s *state.Store, id string) (*execSpec, error) {
	path := s.SpecFile(id)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("exec: read spec: %w", err)
	}
	var es execSpec
	if err := json.Unmarshal(b, &es); err != nil {
		return nil, fmt.Errorf("exec: %s: %w", path, err)
	}
	if es.Process == nil {
		return nil, fmt.Errorf("exec: %s: no process", path)
	}
	return &es, nil
}

// seccompCache is the sandbox's compiled seccomp filter, kept beside its
// state by the first exec: its flags (4 bytes), then the BPF program.
const seccompCache = "seccomp.bpf"

// filter returns the compiled seccomp filter, from the cache in dir or
// compiled (and cached).
func (es *execSpec) filter(dir string) ([]byte, uint32, error) {
	if es.Linux == nil || len(es.Linux.Seccomp) == 0 || string(es.Linux.Seccomp) == "null" {
		return nil, 0, nil
	}
	cache := filepath.Join(dir, seccompCache)
	if b, err := os.ReadFile(cache); err == nil && len(b) > 4 && (len(b)-4)%8 == 0 {
		return b[4:], binary.NativeEndian.Uint32(b), nil
	}
	var sc specs.LinuxSeccomp
	if err := json.Unmarshal(es.Linux.Seccomp, &sc); err != nil {
		return nil, 0, fmt.Errorf("exec: linux.seccomp: %w", err)
	}
	filter, flags, err := compileSeccomp(&sc)
	if err != nil {
		return nil, 0, err
	}
	if filter != nil {
		state.WriteFile(cache, append(binary.NativeEndian.AppendUint32(nil, flags), filter...))
	}
	return filter, flags, nil
}

// innerPid is pid as its own pid namespace numbers it (the last NSpid of
// /proc/PID/status): the name it has under the /proc its mount namespace
// shows.
func innerPid(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return pid
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "NSpid:"); ok {
			f := strings.Fields(rest)
			if n, err := strconv.Atoi(f[len(f)-1]); err == nil && len(f) > 0 {
				return n
			}
		}
	}
	return pid
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

// nsJoin is one namespace to join: its type and a file that opens it.
type nsJoin struct {
	typ  namespaces.Type
	path string
}

type joinList []nsJoin

func (l joinList) has(t namespaces.Type) bool {
	for _, j := range l {
		if j.typ == t {
			return true
		}
	}
	return false
}

// sandboxJoins lists pid's namespaces that nook is not in already, as
// nsenter -a does.
func sandboxJoins(pid int) (joinList, error) {
	theirs, err := namespaces.Of(pid)
	if err != nil {
		return nil, err
	}
	ours, err := namespaces.Of(0)
	if err != nil {
		return nil, err
	}
	var l joinList
	for _, t := range namespaces.All() {
		ino, ok := theirs[t]
		if !ok || ours[t] == ino {
			continue
		}
		l = append(l, nsJoin{t, "/proc/" + strconv.Itoa(pid) + "/ns/" + namespaces.ProcName(t)})
	}
	return l, nil
}

// enterPlan is what start compiles into a child's steps.
type enterPlan struct {
	joins joinList
	// userFirst joins the user namespace before the others (gaining
	// privilege in it), else after them (dropping it), as nsenter does
	userFirst bool
	// target is the process the namespaces are of, when they are a
	// process's (0: files)
	target int
	// proc is the process to become; nil keeps nook's credentials,
	// environment and capabilities (nsenter), with args and env below
	proc        *specs.Process
	filter      []byte // a compiled seccomp filter, for proc
	filterFlags uint32
	setGroups   bool
	// creds, without proc: the uid and gid to switch to (nsenter -S -G)
	creds *specs.User
	args  []string
	env   []string
	cwd   string
	// fork: run the command as a child, so that it is in the joined pid
	// namespace
	fork    bool
	cgroups []string // cgroup directories to join
	files   []*os.File
	tty     bool
	// rows and cols are the terminal's size (0 and 0: the kernel's
	// default)
	rows, cols uint16
}

// start joins the namespaces and starts the command.
//
// The namespaces are joined by path, so the order matters: once in
// another user namespace, the child may no longer open the host's
// /proc/PID/ns files (the kernel's ptrace check), and once in another
// mount namespace, the host's /proc is out of sight. So: an unprivileged
// caller joins the user namespace first (it needs the privilege it gives),
// then the others, the mount namespace last; root joins the others, the
// mount namespace, and then the user namespace through the target's /proc
// as the mount namespace shows it (dropping privilege last, as nsenter
// does).
func start(e *enterPlan) (*Execution, error) {
	st, err := e.compile()
	if err != nil {
		return nil, err
	}
	return e.start(st)
}

// compile turns the plan into the child's steps.
func (e *enterPlan) compile() (*spawn.Plan, error) {
	st := &spawn.Plan{}
	var user *nsJoin
	for i := range e.joins {
		if e.joins[i].typ == namespaces.User {
			user = &e.joins[i]
		}
	}
	setns := func(j nsJoin) {
		st.Setns(j.path, uint64(namespaces.CloneFlag(j.typ)))
	}
	if user != nil && e.userFirst {
		setns(*user)
	}
	for _, j := range e.joins {
		if j.typ != namespaces.User && j.typ != namespaces.Mount {
			setns(j)
		}
	}
	mnt := false
	for _, j := range e.joins {
		if j.typ == namespaces.Mount {
			setns(j)
			mnt = true
		}
	}
	if user != nil && !e.userFirst {
		u := *user
		if mnt && e.target > 0 && strings.HasPrefix(u.path, "/proc/") {
			u.path = "/proc/" + strconv.Itoa(innerPid(e.target)) + "/ns/user"
		}
		setns(u)
	}
	st.Setsid()
	if e.tty {
		st.TTY(e.rows, e.cols)
	}
	if e.cwd != "" {
		st.Chdir(e.cwd)
	}
	if e.proc != nil {
		if err := compileProcess(st, e.proc, e.filter, e.filterFlags, e.setGroups); err != nil {
			return nil, err
		}
	} else {
		if e.creds != nil {
			// nsenter's credentials: the capabilities stay as the user
			// has them
			st.User(spawn.User{UID: e.creds.UID, GID: e.creds.GID, SetGroups: e.setGroups})
		}
		for _, v := range e.env {
			st.Env(v)
		}
		for _, a := range e.args {
			st.Arg(a)
		}
	}
	st.Exec(e.fork)
	if err := st.Err(); err != nil {
		return nil, err
	}
	return st, nil
}

// start starts the child with its steps, joins the cgroups and releases
// it.
func (e *enterPlan) start(st *spawn.Plan) (*Execution, error) {
	files := e.files
	for i, def := range []*os.File{os.Stdin, os.Stdout, os.Stderr} {
		if files[i] == nil {
			files[i] = def
		}
	}
	x := &Execution{started: time.Now()}
	proc, err := spawn.Start(&spawn.Config{
		Steps: st, CgroupFD: -1, Files: files, Init: e.fork, TTY: e.tty,
		// joining a user or time namespace is refused to a process that
		// shares its memory
		ShareMemory: runtime.GOARCH == "amd64" && !e.joins.has(namespaces.User) && !e.joins.has(namespaces.Time),
	})
	if err != nil {
		return nil, err
	}
	x.proc = proc
	for _, dir := range e.cgroups {
		p := filepath.Join(dir, "cgroup.procs")
		if err := os.WriteFile(p, []byte(strconv.Itoa(proc.Pid)), 0); err != nil && !errors.Is(err, os.ErrNotExist) {
			x.Close()
			return nil, fmt.Errorf("join cgroup: write %s: %w", p, err)
		}
	}
	if err := proc.Release(); err != nil {
		x.Close()
		var ce *spawn.ChildError
		if errors.As(err, &ce) {
			return nil, &StartError{Err: ce, ExitCode: ce.ExitCode}
		}
		return nil, err
	}
	if e.tty {
		m, err := proc.TTY()
		if err != nil {
			x.Close()
			return nil, err
		}
		x.tty = m
	}
	return x, nil
}

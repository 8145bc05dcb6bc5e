package container

import (
	"context"
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

// Execution is a process started in namespaces that already exist (Exec,
// Enter). Its owner must Close it.
type Execution struct {
	proc    *spawn.Process
	tty     *os.File
	started time.Time
	// pid is the command's, detached (ExecOptions.Detach)
	pid int
}

// Pid is the host PID of the process nook started: the command, or, where
// the command was forked into a pid namespace (not root, or detached), the
// small init that waits outside it for the command; the command itself
// when it was detached.
func (e *Execution) Pid() int {
	if e.pid != 0 {
		return e.pid
	}
	return e.proc.Pid
}

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
	return joinsOf(pid, theirs)
}

// joinsOf is sandboxJoins for the namespaces of pid already read.
func joinsOf(pid int, theirs map[namespaces.Type]uint64) (joinList, error) {
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
	// targetFD, when set, is a pidfd of target: the child joins the
	// namespaces through it in one setns (spawn.Plan.SetnsPidfd), the
	// steps by path staying for a kernel that cannot
	targetFD *os.File
	// proc is the process to become; nil keeps nook's credentials,
	// environment and capabilities (nsenter), with args and env below
	proc        *specs.Process
	filter      []byte // a compiled seccomp filter, for proc
	filterFlags uint32
	setGroups   bool
	warnf       func(format string, args ...any) // see ExecOptions.Warnf
	// creds, without proc: the uid and gid to switch to (nsenter -S -G)
	creds *specs.User
	args  []string
	env   []string
	root  string // chroot here after joining (nsenter -r DIR)
	cwd   string
	// fork: run the command as a child, so that it is in the joined pid
	// namespace
	fork bool
	// joined is how start joined cgroups (openCgroups), once it has
	joined *joinCgroups
	// pidNS: the child is cloned straight into the joined pid namespace
	// (spawn.Config.PidNS) and is the command itself, with no fork and
	// no init of nook's between: one process, and one sleep and wake-up
	// on each side, less. It needs CAP_SYS_ADMIN where nook runs, for a
	// thread of nook's to enter the namespace.
	pidNS bool
	// detach: the command becomes the caller's child and outlives it
	// (spawn.Config.Orphan); needs fork
	detach  bool
	cgroups []string // cgroup directories to join
	files   []*os.File
	tty     bool
	// rows and cols are the terminal's size (0 and 0: the kernel's
	// default)
	rows, cols uint16
	// beforeStart: see ExecOptions.BeforeStart
	beforeStart func()
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
	if e.targetFD != nil {
		// the kernel joins a user namespace first: root's is left to its
		// step by path, last, as nsenter orders it (a namespace the host
		// owns, such as a bridge's network namespace, is joined with the
		// host's privilege before it is dropped)
		var all uint64
		for _, j := range e.joins {
			if (j.typ != namespaces.PID || !e.pidNS) && (j.typ != namespaces.User || e.userFirst) {
				all |= uint64(namespaces.CloneFlag(j.typ))
			}
		}
		if all != 0 {
			st.SetnsPidfd(all)
		}
	}
	if user != nil && e.userFirst {
		setns(*user)
	}
	for _, j := range e.joins {
		if j.typ == namespaces.PID && e.pidNS {
			continue // the clone is into it
		}
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
	if e.root != "" {
		st.Chroot(e.root)
	}
	st.Setsid()
	if e.tty {
		st.TTY(e.rows, e.cols)
	}
	if e.cwd != "" {
		st.Chdir(e.cwd)
	}
	if e.proc != nil {
		if err := compileProcess(st, e.proc, e.filter, e.filterFlags, e.setGroups, warner(e.warnf)); err != nil {
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

// start starts the child with its steps in the sandbox's cgroups and
// releases it.
func (e *enterPlan) start(st *spawn.Plan) (*Execution, error) {
	files := e.files
	for i, def := range []*os.File{os.Stdin, os.Stdout, os.Stderr} {
		if files[i] == nil {
			files[i] = def
		}
	}
	x := &Execution{started: time.Now()}
	cg, err := openCgroups(e.cgroups)
	if err != nil {
		return nil, err
	}
	defer cg.close()
	e.joined = cg
	var pidNS *os.File
	if e.pidNS {
		for _, j := range e.joins {
			if j.typ == namespaces.PID {
				// opened as a plain fd: os.Open would offer it to Go's
				// network poller, four system calls for nothing
				fd, err := unix.Open(j.path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
				if err != nil {
					return nil, fmt.Errorf("join pid namespace: %w", &os.PathError{Op: "open", Path: j.path, Err: err})
				}
				pidNS = os.NewFile(uintptr(fd), j.path)
				defer pidNS.Close()
			}
		}
	}
	proc, err := spawn.Start(&spawn.Config{
		Steps: st, CgroupFD: cg.fd, CgroupTasks: cg.tasks, Files: files, Init: e.fork, TTY: e.tty, Orphan: e.detach,
		PidNS: pidNS, NSProcess: e.targetFD,
		// joining a user or time namespace is refused to a process that
		// shares its memory
		ShareMemory: runtime.GOARCH == "amd64" && !e.joins.has(namespaces.User) && !e.joins.has(namespaces.Time),
		// nothing to do between the clone and the release unless a pid
		// goes into a cgroup.procs, or beforeStart is to be called
		AtOnce: len(cg.procs) == 0 && e.beforeStart == nil,
	})
	if err != nil {
		return nil, err
	}
	x.proc = proc
	for _, dir := range cg.procs {
		p := filepath.Join(dir, "cgroup.procs")
		if err := os.WriteFile(p, []byte(strconv.Itoa(proc.Pid)), 0); err != nil && !errors.Is(err, os.ErrNotExist) {
			x.Close()
			return nil, fmt.Errorf("join cgroup: write %s: %w", p, err)
		}
	}
	if e.beforeStart != nil {
		e.beforeStart()
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
	if e.detach {
		pid, err := proc.Orphaned()
		if err != nil {
			x.Close()
			return nil, err
		}
		x.pid = pid
	}
	return x, nil
}

// joinTarget returns a process of the sandbox whose namespace files nook
// may open: its init, or else a child of init. A sandbox made by a user
// other than root has an init that never exec'd and lost its "dumpable"
// flag when it gained capabilities in its new user namespace, so the
// kernel hides its namespace files from that user (nsenter -t fails on
// it too); the command, once exec'd, is dumpable again.
func joinTarget(init state.Process) (int, error) {
	pid, _, err := joinTargetNS(init)
	return pid, err
}

// joinTargetNS is joinTarget, with the namespaces of the process it
// returns, which it reads anyway to know whether the caller may open them.
func joinTargetNS(init state.Process) (int, map[namespaces.Type]uint64, error) {
	ns, err := namespaces.Of(init.Pid)
	if err == nil || !errors.Is(err, os.ErrPermission) {
		return init.Pid, ns, err
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
		if cns, oerr := namespaces.Of(pid); oerr == nil && init.Alive() {
			return pid, cns, nil
		}
	}
	return 0, nil, err
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

// joinCgroups is how an exec'd child gets into the sandbox's cgroups
// without nook writing its pid to cgroup.procs, whose first writer waits
// for an RCU grace period (5-30 ms): on cgroup v1 the child writes "0" to
// each hierarchy's tasks file (spawn.Config.CgroupTasks), on cgroup v2 it
// starts in its cgroup (spawn.Config.CgroupFD, CLONE_INTO_CGROUP). procs
// are the directories left for the parent to write the pid into (none
// unless the two kinds are mixed).
type joinCgroups struct {
	tasks []*os.File
	fd    int
	procs []string
	// the paths of tasks and fd, for an exec that keeps its plan
	// (keepQuick)
	taskPaths []string
	dir       string
}

// openCgroups opens the cgroup directories dirs for the child to join: a
// directory with a tasks file is a v1 hierarchy; the one directory of a
// v2 sandbox has none. A directory that is gone is skipped, as a
// sandbox's cgroup may be removed before its state.
func openCgroups(dirs []string) (*joinCgroups, error) {
	cg := &joinCgroups{fd: -1}
	var v2 []string
	for _, dir := range dirs {
		p := filepath.Join(dir, "tasks")
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		switch {
		case err == nil:
			cg.tasks = append(cg.tasks, f)
			cg.taskPaths = append(cg.taskPaths, p)
		case errors.Is(err, os.ErrNotExist):
			if _, serr := os.Stat(dir); serr == nil {
				v2 = append(v2, dir)
			}
		default:
			cg.close()
			return nil, fmt.Errorf("join cgroup: open %s: %w", p, err)
		}
	}
	if len(v2) == 1 && len(cg.tasks) == 0 {
		fd, err := unix.Open(v2[0], unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			cg.close()
			return nil, fmt.Errorf("join cgroup: open %s: %w", v2[0], err)
		}
		cg.fd, cg.dir = fd, v2[0]
	} else {
		cg.procs = v2
	}
	return cg, nil
}

// close closes what the child was given (it has its own copies).
func (cg *joinCgroups) close() {
	for _, f := range cg.tasks {
		f.Close()
	}
	if cg.fd >= 0 {
		unix.Close(cg.fd)
	}
}

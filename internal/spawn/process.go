package spawn

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Limits and exit statuses shared with the C side (spawn.h); the layout
// test checks them against it.
const (
	// ExitSetup is the exit status of a child that failed before exec.
	ExitSetup = 125
	// ExitNoExec: the command exists but cannot be executed.
	ExitNoExec = 126
	// ExitNotFound: the command does not exist.
	ExitNotFound = 127

	maxArgv   = 4096 // arguments, and environment variables, of the command
	maxGroups = 256  // supplementary groups
	maxFDs    = 256  // files passed on to the child
	// cgroup v1 hierarchies the child joins itself (Config.CgroupTasks)
	maxCgroups = 16
)

// ErrUnsupported is what Start returns where there is no C child: it is
// built for linux/amd64 only (see the package doc).
var ErrUnsupported = errors.New("spawn: not supported: nook starts sandboxes on linux/amd64 only")

// Config is everything Start needs: the plan, the namespaces to create with
// clone, and the child's file descriptors.
type Config struct {
	// Steps run in the child, in order; the last is Exec.
	Steps *Plan
	// Cleanup runs in the janitor after the sandbox is gone. With a nil
	// Cleanup no janitor is started.
	Cleanup *Cleanup
	// CloneFlags are the CLONE_NEW* flags for clone3.
	CloneFlags uint64
	// CgroupFD, when >= 0, is a cgroup v2 directory the child starts in
	// (CLONE_INTO_CGROUP), so that the parent need not move it there.
	CgroupFD int
	// CgroupTasks are the tasks files of the sandbox's cgroup v1
	// directories, open for writing. The child writes "0" to each after
	// the release and before its first step, and so moves itself: the
	// kernel moves a task that moves itself without the lock that a pid
	// written to cgroup.procs takes, whose first taker waits for an RCU
	// grace period (5-30 ms in a VM). The child is single-threaded, so
	// its one thread is the whole process.
	CgroupTasks []*os.File
	// PidNS, when set, is an existing pid namespace the child is cloned
	// into (a Kubernetes pod's containers share the pause process's).
	// The child cannot join one itself: setns into a pid namespace
	// changes only where the caller's children go, so the child would
	// stay outside and the command with it. So the cloning thread enters
	// it for the clone alone and goes back to nook's own before the
	// janitor is cloned. Its name is the path errors name.
	PidNS *os.File
	// NSProcess is a pidfd of the process whose namespaces a SetnsPidfd
	// step joins; the child closes its copy after that step.
	NSProcess *os.File
	// NetNS is a network namespace made for the child beforehand, which it
	// joins first thing after the release, in place of a CLONE_NEWNET in
	// CloneFlags. Making one costs over a millisecond of the kernel's
	// time (loopback, sysctl tables, per-netns state of every protocol);
	// made by another thread while the plan is compiled (package
	// container's premadeNetNS), that time is no longer on the start's
	// path. The child closes its copy once joined.
	NetNS *os.File
	// Files are the child's fds 0..len-1; a nil entry is closed. Nil
	// Files means 0, 1 and 2 as nook has them.
	Files []*os.File
	// Init: the child runs nook's init as PID 1 and reports the command's
	// status through a pipe.
	Init bool
	// TTY: the child opens a pty in its root (Plan.TTY) and sends the
	// master.
	TTY bool
	// ShareMemory lets the child share nook's memory until its exec
	// (CLONE_VM) instead of getting a copy, where the platform allows it.
	// A plan that joins a user or time namespace, or creates a time
	// namespace, must not: the kernel refuses those to a process that
	// shares its memory.
	ShareMemory bool
	// Hold makes the child stop after its last step, before exec, until
	// one byte can be read from Hold (the OCI runtime's create, then
	// start). The child closes the error pipe there, so Release returns
	// once every step has run. A held child outlives its parent: it has no
	// parent-death signal, so Cleanup must be nil (no janitor), and it
	// never shares nook's memory.
	Hold *os.File
	// StartErrors, for a held child, is the write end of the FIFO that
	// start reads (ReadError) once it has written Hold's byte: from then
	// on it is the child's error pipe, so a failed startContainer hook or
	// exec is reported there, and it closes (EOF with no record) when the
	// command's exec happened. Without it such a failure is written to
	// the child's stderr.
	StartErrors *os.File
	// AtOnce lets the child run its steps as soon as it exists, for a
	// caller with nothing to do between Start and Release (no ID maps to
	// write, no pid to put in a cgroup): Start writes the go-ahead into
	// the sync pipe before the clone, so the child never blocks on it
	// and the parent is not woken in between. Release then only waits
	// for the exec. Not with a Cleanup: the child must not run before
	// its janitor exists.
	AtOnce bool
	// Orphan, with Init, makes the command the caller's child rather
	// than init's (CLONE_PARENT): init exits once the command has
	// exec'd, and Process.Orphaned returns the command's pid. The command
	// outlives the caller (runc's exec --detach, for a subreaper such as
	// containerd's shim to reap).
	Orphan bool
}

// ChildError is an error the child reported before or at exec.
type ChildError struct {
	Op       string // what failed, with its paths, e.g. `mount proc proc on /proc`
	Errno    syscall.Errno
	ExitCode int // what the child exits with: ExitNotFound, ExitNoExec or ExitSetup
}

func (e *ChildError) Error() string {
	if e.ExitCode == ExitNotFound && e.Errno == syscall.ENOENT {
		return e.Op + ": executable file not found"
	}
	return e.Op + ": " + e.Errno.Error()
}

func (e *ChildError) Unwrap() error { return e.Errno }

// Exit is how the child ended.
type Exit struct {
	// Status is the command's wait status: under nook's init the one init
	// reported, otherwise the child's own.
	Status unix.WaitStatus
	// Rusage covers the child and every descendant it reaped.
	Rusage unix.Rusage
}

//go:build linux && amd64

package spawn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

//go:generate ./mkchild.sh

// Process is a started child. Its owner must call Close.
type Process struct {
	Pid   int
	PidFD int

	janitorPid int
	sync       *os.File // write end: go-ahead
	errs       *os.File // read end: error record, EOF on exec
	status     *os.File // read end: the command's status (init)
	ttySock    *os.File // our end of the socketpair the pty master comes over
	lifeline   *os.File // write end: the janitor waits for it to close
	waited     bool

	// the child's memory (its stack, thread control block, arguments and
	// plan) while it shares nook's, unmapped once it is reaped; a child
	// with a copy of its own has it unmapped at once
	child *block
	// the janitor's, for as long as it lives: unmapped once it is reaped
	janitor *block
	// SharedMemory reports whether the child shares nook's memory.
	SharedMemory bool
}

// Start clones the child. It waits, before its first step, until Release;
// in between the caller writes ID maps and joins cgroups.
func Start(cfg *Config) (_ *Process, err error) {
	if cfg.Steps == nil {
		return nil, errors.New("spawn: no plan")
	}
	if err := cfg.Steps.Err(); err != nil {
		return nil, fmt.Errorf("spawn: bad plan: %w", err)
	}
	if cfg.Cleanup != nil {
		if err := cfg.Cleanup.Err(); err != nil {
			return nil, fmt.Errorf("spawn: bad cleanup: %w", err)
		}
	}
	if cfg.Orphan && !cfg.Init {
		return nil, errors.New("spawn: an orphaned command needs init")
	}
	if cfg.AtOnce && cfg.Cleanup != nil {
		// the child must not run before its janitor exists
		return nil, errors.New("spawn: a child with a janitor cannot start at once")
	}
	if cfg.Hold != nil && cfg.Cleanup != nil {
		return nil, errors.New("spawn: a held child outlives nook: it cannot have a janitor")
	}
	files := cfg.Files
	if files == nil {
		files = []*os.File{os.Stdin, os.Stdout, os.Stderr}
	}
	if len(files) > maxFDs {
		return nil, fmt.Errorf("spawn: %d files, more than %d", len(files), maxFDs)
	}
	if len(cfg.CgroupTasks) > maxCgroups {
		return nil, fmt.Errorf("spawn: %d cgroups to join, more than %d", len(cfg.CgroupTasks), maxCgroups)
	}

	var closers []*os.File
	defer func() {
		for _, f := range closers {
			f.Close()
		}
	}()
	pipe := func() (r, w *os.File, err error) {
		r, w, err = os.Pipe()
		if err != nil {
			return nil, nil, fmt.Errorf("spawn: pipe: %w", err)
		}
		return r, w, nil
	}
	p := &Process{PidFD: -1}
	defer func() {
		if err != nil {
			p.closeFiles()
			if p.Pid == 0 {
				p.freeChild()
			}
		}
	}()

	steps := cfg.Steps.Bytes()
	p.child, err = newChildBlock(len(steps))
	if err != nil {
		return nil, err
	}
	cs := p.child.args()
	copy(p.child.ops(len(steps)), steps)
	cs.Ops = uint64(p.child.addr(p.child.opsOff))
	cs.OpsLen = uint64(len(steps))

	syncR, syncW, err := pipe()
	if err != nil {
		return nil, err
	}
	closers = append(closers, syncR)
	p.sync = syncW
	if cfg.AtOnce {
		// the pipe holds the byte until the child reads it
		_, err := syncW.Write([]byte{1})
		syncW.Close()
		p.sync = nil
		if err != nil {
			return nil, fmt.Errorf("spawn: start child: %w", err)
		}
	}
	errR, errW, err := pipe()
	if err != nil {
		return nil, err
	}
	closers = append(closers, errW)
	p.errs = errR

	cs.SyncFD = int32(syncR.Fd())
	cs.ErrFD = int32(errW.Fd())
	cs.TTYSock = -1
	cs.StatusFD = -1
	cs.HoldFD = -1
	cs.StartErrFD = -1
	// the caller's limit on open files, not the one Go raised for nook
	if cur, max, ok := nofileToRestore(); ok {
		cs.NofileCur, cs.NofileMax, cs.RestoreNofile = cur, max, 1
	}
	cs.NSPidFD = -1
	if cfg.NSProcess != nil {
		cs.NSPidFD = int32(cfg.NSProcess.Fd())
	}
	cs.NetFD = -1
	if cfg.NetNS != nil {
		cs.NetFD = int32(cfg.NetNS.Fd())
	}
	if cfg.Orphan {
		cs.Orphan = 1 // init reports the pid on the status pipe
	}
	if cfg.Hold != nil {
		cs.HoldFD = int32(cfg.Hold.Fd())
		if cfg.StartErrors != nil {
			cs.StartErrFD = int32(cfg.StartErrors.Fd())
		}
	}
	if cfg.Init {
		r, w, err := pipe()
		if err != nil {
			return nil, err
		}
		closers = append(closers, w)
		p.status = r
		cs.StatusFD = int32(w.Fd())
	}
	if cfg.TTY {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("spawn: socketpair: %w", err)
		}
		p.ttySock = os.NewFile(uintptr(fds[0]), "tty")
		child := os.NewFile(uintptr(fds[1]), "tty")
		closers = append(closers, child)
		cs.TTYSock = int32(fds[1])
	}
	var lifeline *os.File
	if cfg.Cleanup != nil {
		r, w, err := pipe()
		if err != nil {
			return nil, err
		}
		closers = append(closers, r)
		p.lifeline = w
		lifeline = r
	}
	cs.NCgroupTasks = int32(len(cfg.CgroupTasks))
	for i, f := range cfg.CgroupTasks {
		cs.CgroupTasks[i] = int32(f.Fd())
	}
	cs.NFDs = int32(len(files))
	for i, f := range files {
		cs.FDs[i] = -1
		if f != nil {
			cs.FDs[i] = int32(f.Fd())
		}
	}

	// the child shares nook's memory (CLONE_VM) where it may, as
	// posix_spawn does: see the package doc
	share := cfg.ShareMemory && cfg.Hold == nil
	pid, pidfd, share, err := cloneInto(cfg.PidNS, func() (int, int, bool, error) {
		pid, pidfd, err := cloneChild(p.child, cfg.CloneFlags, cfg.CgroupFD, share)
		if err != nil && share {
			pid, pidfd, err = cloneChild(p.child, cfg.CloneFlags, cfg.CgroupFD, false)
			return pid, pidfd, false, err
		}
		return pid, pidfd, share, err
	})
	// the files the child got copies of stay open until here
	runtime.KeepAlive(files)
	runtime.KeepAlive(cfg.CgroupTasks)
	runtime.KeepAlive(cfg.Hold)
	runtime.KeepAlive(cfg.StartErrors)
	runtime.KeepAlive(cfg.NSProcess)
	runtime.KeepAlive(cfg.NetNS)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, err
		}
		return nil, fmt.Errorf("clone: %w", err)
	}
	p.SharedMemory = share
	p.Pid = pid
	p.PidFD = pidfd
	if !share {
		p.freeChild() // the child has a copy of everything
	}
	if cfg.Cleanup != nil {
		jpid, err := p.startJanitor(int(lifeline.Fd()), cfg.Cleanup.Bytes())
		runtime.KeepAlive(lifeline)
		if err != nil {
			// the child exists but the janitor does not: nothing will
			// clean up after it, so it must not run
			unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
			var ws unix.WaitStatus
			unix.Wait4(pid, &ws, 0, nil)
			p.freeChild()
			p.Pid = 0
			return nil, fmt.Errorf("clone janitor: %w", err)
		}
		p.janitorPid = jpid
	}
	return p, nil
}

// startJanitor clones the janitor beside the child. It shares nook's
// memory and runs on its own block, [struct nook_janitor | cleanup plan |
// stack], unmapped only after it is reaped.
func (p *Process) startJanitor(lifeline int, jops []byte) (int, error) {
	b, err := newJanitorBlock(len(jops))
	if err != nil {
		return 0, err
	}
	j := b.janitor()
	j.Lifeline = int32(lifeline)
	j.PidFD = int32(p.PidFD)
	copy(b.ops(len(jops)), jops)
	j.Jops = uint64(b.addr(b.opsOff))
	j.JopsLen = uint64(len(jops))
	pid, err := cloneJanitor(b)
	if err != nil {
		b.free()
		return 0, err
	}
	p.janitor = b
	return pid, nil
}

// Release lets the child run its steps (unless Config.AtOnce let it at
// once) and waits until it has exec'd the command (nil) or failed (a
// *ChildError). A child that fails is left for Wait to reap.
func (p *Process) Release() error {
	if p.sync != nil { // else Config.AtOnce: released before the clone
		_, err := p.sync.Write([]byte{1})
		p.sync.Close()
		p.sync = nil
		if err != nil {
			return fmt.Errorf("spawn: start child: %w", err)
		}
	}
	return p.readError()
}

func (p *Process) readError() error {
	defer func() {
		p.errs.Close()
		p.errs = nil
	}()
	err := ReadError(p.errs)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return &ChildError{Op: "spawn: child exited before its first step", Errno: syscall.EIO, ExitCode: ExitSetup}
	}
	return err
}

// ReadError reads what a child reports on an error pipe: nil at EOF with
// nothing written (the pipe is close-on-exec: the command's exec
// happened), the *ChildError it wrote, or io.ErrUnexpectedEOF where the
// pipe closed halfway through a record (the child died otherwise). Start
// reads a held child's (Config.StartErrors) with it.
func ReadError(r io.Reader) error {
	var rec errorRec
	if _, err := io.ReadFull(r, unsafe.Slice((*byte)(unsafe.Pointer(&rec)), unsafe.Sizeof(rec))); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return err
		}
		return fmt.Errorf("spawn: read the child's error: %w", err)
	}
	msg := make([]byte, min(rec.len, 4096))
	io.ReadFull(r, msg)
	return &ChildError{Op: string(msg), Errno: syscall.Errno(rec.err), ExitCode: int(rec.exit)}
}

// TTY receives the pty master the child opened (Config.TTY).
func (p *Process) TTY() (*os.File, error) {
	if p.ttySock == nil {
		return nil, errors.New("spawn: no tty was asked for")
	}
	defer func() { p.ttySock.Close(); p.ttySock = nil }()
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(int(p.ttySock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("spawn: receive pty: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("spawn: receive pty: no fd in message")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("spawn: receive pty: no fd in message")
	}
	return os.NewFile(uintptr(fds[0]), "/dev/ptmx"), nil
}

// Orphaned reaps init of a Config.Orphan start and returns the host pid
// of the command, which is now the caller's child and not reaped here.
func (p *Process) Orphaned() (int, error) {
	if p.status == nil {
		return 0, errors.New("spawn: not an orphaned command")
	}
	var raw [4]byte
	n, _ := io.ReadFull(p.status, raw[:])
	p.status.Close()
	p.status = nil
	if _, err := p.Wait(); err != nil {
		return 0, err
	}
	if n != 4 {
		return 0, errors.New("spawn: init ended before it reported the command's pid")
	}
	return int(int32(binary.NativeEndian.Uint32(raw[:]))), nil
}

// Abandon lets go of a held child (Config.Hold) that must outlive the
// caller: its pipes and pidfd are closed, and it is neither killed nor
// reaped; it becomes the child of the nearest subreaper once the caller
// exits.
func (p *Process) Abandon() {
	if p == nil {
		return
	}
	p.closeFiles()
	p.waited = true
}

// Signal sends sig to the child through its pidfd (no pid reuse race).
func (p *Process) Signal(sig syscall.Signal) error {
	return unix.PidfdSendSignal(p.PidFD, sig, nil, 0)
}

// Wait reaps the child. Only one goroutine may call it.
func (p *Process) Wait() (*Exit, error) {
	var ex Exit
	for {
		_, err := unix.Wait4(p.Pid, &ex.Status, 0, &ex.Rusage)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("wait for pid %d: %w", p.Pid, err)
		}
		break
	}
	p.waited = true
	p.freeChild()
	if p.status != nil {
		var raw [4]byte
		if n, _ := io.ReadFull(p.status, raw[:]); n == 4 {
			ex.Status = unix.WaitStatus(binary.NativeEndian.Uint32(raw[:]))
		}
	}
	return &ex, nil
}

// Close kills the child if it still runs, reaps it, and hands the
// cleanup to the janitor, waiting until that is done. It is idempotent.
func (p *Process) Close() error {
	if p == nil {
		return nil
	}
	if !p.waited && p.Pid > 0 {
		p.Signal(unix.SIGKILL)
		p.Wait()
	}
	p.closeFiles()
	if p.janitorPid > 0 {
		var ws unix.WaitStatus
		for {
			_, err := unix.Wait4(p.janitorPid, &ws, 0, nil)
			if err != unix.EINTR {
				break
			}
		}
		p.janitorPid = 0
	}
	p.freeJanitor()
	return nil
}

// freeChild unmaps the shared child's memory; only once it is reaped, or
// never ran.
func (p *Process) freeChild() {
	p.child.free()
	p.child = nil
}

func (p *Process) freeJanitor() {
	if p.janitorPid > 0 {
		return // still running on this memory
	}
	p.janitor.free()
	p.janitor = nil
}

func (p *Process) closeFiles() {
	for _, f := range []**os.File{&p.sync, &p.errs, &p.status, &p.ttySock, &p.lifeline} {
		if *f != nil {
			(*f).Close()
			*f = nil
		}
	}
	if p.PidFD >= 0 {
		unix.Close(p.PidFD)
		p.PidFD = -1
	}
}

// cloneInto runs clone with the calling thread in pidns, if one is given.
// A pid namespace given by path cannot be joined by the child itself:
// setns(CLONE_NEWPID) changes only the namespace of the caller's future
// children, so a child that joined it would stay outside, and the
// container's process with it (a pod's containers share the pause
// process's). So a thread of its own enters it for the clone alone and
// goes back to its active namespace at once (always allowed), before the
// janitor (which must outlive the namespace's init) or anything of Go's
// is cloned from it. A thread that could not go back is never used again:
// its goroutine ends locked, and Go's runtime then ends the thread.
func cloneInto(pidns *os.File, clone func() (pid, pidfd int, share bool, err error)) (pid, pidfd int, share bool, err error) {
	if pidns == nil {
		return clone()
	}
	type result struct {
		pid, pidfd int
		share      bool
		err        error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		own, err := unix.Open("/proc/thread-self/ns/pid", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: &os.PathError{Op: "open", Path: "/proc/thread-self/ns/pid", Err: err}}
			return
		}
		defer unix.Close(own)
		if err := unix.Setns(int(pidns.Fd()), unix.CLONE_NEWPID); err != nil {
			runtime.UnlockOSThread()
			done <- result{err: &os.PathError{Op: "join pid namespace", Path: pidns.Name(), Err: err}}
			return
		}
		var r result
		r.pid, r.pidfd, r.share, r.err = clone()
		if err := unix.Setns(own, unix.CLONE_NEWPID); err != nil {
			// stay locked: this thread dies with the goroutine
			if r.err == nil {
				unix.PidfdSendSignal(r.pidfd, unix.SIGKILL, nil, 0)
				var ws unix.WaitStatus
				unix.Wait4(r.pid, &ws, 0, nil)
				unix.Close(r.pidfd)
			}
			done <- result{err: fmt.Errorf("back to nook's pid namespace after the clone: %w", err)}
			return
		}
		runtime.UnlockOSThread()
		done <- r
	}()
	r := <-done
	runtime.KeepAlive(pidns)
	return r.pid, r.pidfd, r.share, r.err
}

//go:build cgo

package spawn

/*
#cgo CFLAGS: -O2 -Wall -Wno-unused-result -fno-stack-protector
#include <stdlib.h>
#include <string.h>
#include "spawn.h"
*/
import "C"

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

// childBlockSize is the memory of a child that shares nook's: its
// thread-local storage (64 KiB) and its stack.
const childBlockSize = 512 << 10

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

	// C memory the janitor uses for as long as it lives: freed only
	// after it is reaped
	janitorBlock unsafe.Pointer
	janitorOps   unsafe.Pointer
	// C memory the child reads until it has exec'd or failed (args,
	// plan), and, when it shares nook's memory, its stack and TLS until
	// it is reaped
	args       *C.struct_nook_spawn
	ops        unsafe.Pointer
	childBlock unsafe.Pointer
	// SharedMemory reports whether the child shares nook's memory.
	SharedMemory bool
}

// janitorBlockSize is the janitor's memory: its arguments and its stack.
const janitorBlockSize = 64 << 10

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
				p.freeArgs()
				p.freeChild()
			}
		}
	}()

	syncR, syncW, err := pipe()
	if err != nil {
		return nil, err
	}
	closers = append(closers, syncR)
	p.sync = syncW
	errR, errW, err := pipe()
	if err != nil {
		return nil, err
	}
	closers = append(closers, errW)
	p.errs = errR

	cs := (*C.struct_nook_spawn)(C.calloc(1, C.sizeof_struct_nook_spawn))
	p.args = cs
	cs.sync_fd = C.int(syncR.Fd())
	cs.err_fd = C.int(errW.Fd())
	cs.tty_sock = -1
	cs.status_fd = -1
	cs.lifeline_fd = -1
	cs.hold_fd = -1
	if cfg.Orphan {
		if !cfg.Init {
			return nil, errors.New("spawn: an orphaned command needs init")
		}
		cs.orphan = 1 // init reports the pid on the status pipe
	}
	if cfg.Hold != nil {
		if cfg.Cleanup != nil {
			return nil, errors.New("spawn: a held child outlives nook: it cannot have a janitor")
		}
		cs.hold_fd = C.int(cfg.Hold.Fd())
	}
	cs.cgroup_fd = C.int(cfg.CgroupFD)
	cs.pidns_fd = -1
	cs.own_pidns_fd = -1
	if cfg.PidNS != nil {
		// nook's active pid namespace, which the cloning thread goes
		// back to (not pid_for_children: that is what changes)
		own, err := os.Open("/proc/self/ns/pid")
		if err != nil {
			return nil, fmt.Errorf("spawn: %w", err)
		}
		closers = append(closers, own)
		cs.pidns_fd = C.int(cfg.PidNS.Fd())
		cs.own_pidns_fd = C.int(own.Fd())
		// a thread that could not go back must never clone for Go again
		runtime.LockOSThread()
	}
	cs.clone_flags = C.ulonglong(cfg.CloneFlags)

	if cfg.Init {
		r, w, err := pipe()
		if err != nil {
			return nil, err
		}
		closers = append(closers, w)
		p.status = r
		cs.status_fd = C.int(w.Fd())
	}
	if cfg.TTY {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("spawn: socketpair: %w", err)
		}
		p.ttySock = os.NewFile(uintptr(fds[0]), "tty")
		child := os.NewFile(uintptr(fds[1]), "tty")
		closers = append(closers, child)
		cs.tty_sock = C.int(fds[1])
	}
	if cfg.Cleanup != nil {
		r, w, err := pipe()
		if err != nil {
			return nil, err
		}
		closers = append(closers, r)
		p.lifeline = w
		cs.lifeline_fd = C.int(r.Fd())
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
	cs.ncgroup_tasks = C.int(len(cfg.CgroupTasks))
	for i, f := range cfg.CgroupTasks {
		cs.cgroup_tasks[i] = C.int(f.Fd())
	}
	cs.nfds = C.int(len(files))
	for i, f := range files {
		cs.fds[i] = -1
		if f != nil {
			cs.fds[i] = C.int(f.Fd())
		}
	}

	steps := cfg.Steps.Bytes()
	p.ops = C.CBytes(steps)
	cs.ops = (*C.uchar)(p.ops)
	cs.ops_len = C.ulong(len(steps))
	if cfg.ShareMemory && cfg.Hold == nil {
		p.childBlock = C.calloc(1, childBlockSize)
		cs.child_block = p.childBlock
		cs.child_block_size = childBlockSize
		cs.share_memory = 1
	}
	if cfg.Cleanup != nil {
		p.janitorBlock = C.calloc(1, janitorBlockSize)
		cs.janitor_block = p.janitorBlock
		cs.janitor_block_size = janitorBlockSize
		if j := cfg.Cleanup.Bytes(); len(j) > 0 {
			p.janitorOps = C.CBytes(j)
			cs.jops = (*C.uchar)(p.janitorOps)
			cs.jops_len = C.ulong(len(j))
		}
	}

	r := C.nook_spawn(cs)
	if cfg.PidNS != nil && cs.pidns_failed != 2 {
		runtime.UnlockOSThread()
	}
	if r < 0 {
		if cs.pid > 0 {
			// the child exists but the janitor does not: nothing will
			// clean up after it, so it must not run
			unix.PidfdSendSignal(int(cs.pidfd), unix.SIGKILL, nil, 0)
			var ws unix.WaitStatus
			unix.Wait4(int(cs.pid), &ws, 0, nil)
			unix.Close(int(cs.pidfd))
		}
		p.freeJanitor()
		p.freeArgs()
		p.freeChild()
		switch cs.pidns_failed {
		case 1:
			return nil, &os.PathError{Op: "join pid namespace", Path: cfg.PidNS.Name(), Err: syscall.Errno(-r)}
		case 2:
			return nil, fmt.Errorf("back to nook's pid namespace after the clone: %w", syscall.Errno(-r))
		}
		return nil, fmt.Errorf("clone: %w", syscall.Errno(-r))
	}
	// read cs before it may be freed: it is p.args
	p.SharedMemory = cs.share_memory != 0
	p.Pid = int(cs.pid)
	p.PidFD = int(cs.pidfd)
	p.janitorPid = int(cs.janitor_pid)
	if !p.SharedMemory {
		// the child has a copy of everything
		p.freeArgs()
		p.freeChild()
	}
	return p, nil
}

// Release lets the child run its steps and waits until it has exec'd the
// command (nil) or failed (a *ChildError). A child that fails is left for
// Wait to reap.
func (p *Process) Release() error {
	_, err := p.sync.Write([]byte{1})
	p.sync.Close()
	p.sync = nil
	if err != nil {
		return fmt.Errorf("spawn: start child: %w", err)
	}
	return p.readError()
}

func (p *Process) readError() error {
	defer func() {
		p.errs.Close()
		p.errs = nil
		// exec'd, or failed after its last read of them
		p.freeArgs()
	}()
	var rec errorRec
	if _, err := io.ReadFull(p.errs, unsafe.Slice((*byte)(unsafe.Pointer(&rec)), unsafe.Sizeof(rec))); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // exec'd: the close-on-exec pipe closed
		}
		return &ChildError{Op: "spawn: child exited before its first step", Errno: syscall.EIO, ExitCode: ExitSetup}
	}
	msg := make([]byte, min(rec.len, 4096))
	io.ReadFull(p.errs, msg)
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
	p.freeArgs()
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
	p.freeArgs() // the child is gone
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

func (p *Process) freeArgs() {
	C.free(unsafe.Pointer(p.args))
	C.free(p.ops)
	p.args, p.ops = nil, nil
}

// freeChild frees the shared child's stack and TLS; only once it is
// reaped, or never ran.
func (p *Process) freeChild() {
	C.free(p.childBlock)
	p.childBlock = nil
}

func (p *Process) freeJanitor() {
	if p.janitorPid > 0 {
		return // still running on this memory
	}
	C.free(p.janitorBlock)
	C.free(p.janitorOps)
	p.janitorBlock, p.janitorOps = nil, nil
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

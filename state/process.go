package state

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Process identifies one process for as long as it lives: its PID and its
// start time. A PID alone is not enough, since the kernel gives it to
// another process once the first has been reaped.
type Process struct {
	Pid int `json:"pid"`
	// StartTime is the process's start in clock ticks after boot, field
	// 22 of /proc/PID/stat.
	StartTime uint64 `json:"start_time"`
}

// ErrGone is returned for a process that has ended, even when its PID now
// belongs to another process.
var ErrGone = errors.New("process has ended")

// Identify reads pid's start time.
func Identify(pid int) (Process, error) {
	st, err := StartTime(pid)
	if err != nil {
		return Process{}, err
	}
	return Process{Pid: pid, StartTime: st}, nil
}

// StartTime reads field 22 of /proc/PID/stat.
func StartTime(pid int) (uint64, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("pid %d: %w", pid, ErrGone)
	}
	path := "/proc/" + strconv.Itoa(pid) + "/stat"
	b, err := ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ESRCH) {
			return 0, fmt.Errorf("pid %d: %w", pid, ErrGone)
		}
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	// the command name in parentheses may hold spaces and parentheses:
	// the fields start after the last ')'
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("read %s: no command name", path)
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state); field 22 is f[19]
	if len(f) < 20 {
		return 0, fmt.Errorf("read %s: %d fields", path, len(f)+2)
	}
	if f[0][0] == 'Z' || f[0][0] == 'X' {
		return 0, fmt.Errorf("pid %d: %w", pid, ErrGone)
	}
	v, err := strconv.ParseUint(string(f[19]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read %s: start time %q: %w", path, f[19], err)
	}
	return v, nil
}

// Alive reports whether the process still runs (a zombie does not).
func (p Process) Alive() bool {
	if p.Pid <= 0 {
		return false
	}
	st, err := StartTime(p.Pid)
	return err == nil && st == p.StartTime
}

// Open returns a pidfd for the process, after checking that the PID still
// names it. The pidfd keeps naming it even if it ends and its PID is
// reused, so what is done through it reaches this process or nothing.
func (p Process) Open() (int, error) {
	if p.Pid <= 0 {
		return -1, fmt.Errorf("pid %d: %w", p.Pid, ErrGone)
	}
	fd, err := unix.PidfdOpen(p.Pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return -1, fmt.Errorf("pid %d: %w", p.Pid, ErrGone)
		}
		return -1, fmt.Errorf("pidfd_open %d: %w", p.Pid, err)
	}
	// the pidfd now holds the process the PID named at pidfd_open; if
	// /proc shows our start time, that process is ours
	st, err := StartTime(p.Pid)
	if err != nil || st != p.StartTime {
		unix.Close(fd)
		return -1, fmt.Errorf("pid %d: %w", p.Pid, ErrGone)
	}
	return fd, nil
}

// Signal sends sig to the process, and never to another process that got
// its PID later.
func (p Process) Signal(sig unix.Signal) error {
	fd, err := p.Open()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("pid %d: %w", p.Pid, ErrGone)
		}
		return fmt.Errorf("signal %d to pid %d: %w", sig, p.Pid, err)
	}
	return nil
}

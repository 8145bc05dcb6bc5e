package cgroups

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/fs"
	"golang.org/x/sys/unix"
)

// killTimeout bounds how long Kill waits for the cgroups to become empty
// (processes stuck in uninterruptible sleep can delay their exit).
const killTimeout = 10 * time.Second

// Add moves the process pid into each of the sandbox's cgroups (ProcsFiles).
// If it fails part-way, the process may be in some of them; the caller should
// kill it (Destroy does).
func (m *Manager) Add(pid int) error {
	if pid <= 0 {
		return fmt.Errorf("cgroups: add pid %d: %w", pid, invalid("not a process id"))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gone {
		return fmt.Errorf("cgroups: add pid %d to %s: %w", pid, m.name, os.ErrClosed)
	}
	for _, dir := range m.dirs {
		// The library retries the EINVAL a just-forked (TASK_NEW)
		// process can cause.
		if err := cgroups.WriteCgroupProc(dir, pid); err != nil {
			return fmt.Errorf("cgroups: add pid %d to %s: %w", pid, dir, err)
		}
	}
	return nil
}

// Kill kills every process in the sandbox's cgroups (and in any cgroups the
// sandbox made below them) and waits until they have left. On v2 it writes
// cgroup.kill; on v1, and on v2 kernels older than 5.14, it freezes the
// cgroup, SIGKILLs every process through a pidfd, thaws, and repeats until the
// cgroups are empty.
func (m *Manager) Kill() error {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.kill()
}

func (m *Manager) kill() error {
	if len(m.dirs) == 0 {
		return nil
	}
	deadline := time.Now().Add(killTimeout)
	if m.mode == Unified {
		dir := m.dirs[0]
		err := cgroups.WriteFile(dir, "cgroup.kill", "1")
		if err == nil {
			return m.waitEmpty(deadline)
		}
		if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("cgroups: kill %s: %w", dir, err)
		}
		return m.signalLoop(deadline, func(frozen bool) error {
			v := "0"
			if frozen {
				v = "1"
			}
			return cgroups.WriteFile(dir, "cgroup.freeze", v)
		})
	}
	dir := m.ctrl["freezer"]
	if dir == "" {
		return m.signalLoop(deadline, nil)
	}
	return m.signalLoop(deadline, func(frozen bool) error {
		st := cgroups.Thawed
		if frozen {
			st = cgroups.Frozen
		}
		// The library retries while the state is FREEZING and thaws
		// again if freezing fails.
		return (&fs.FreezerGroup{}).Set(dir, &cgroups.Resources{Freezer: st})
	})
}

// pids lists the processes in all the sandbox's cgroups and their
// descendants (a v1 process may be in some hierarchies only, if Add failed
// part-way). A directory that is already gone is skipped.
func (m *Manager) pids() ([]int, error) {
	var all []int
	for _, dir := range m.dirs {
		// A cgroupfs directory's link count is 2 plus its number of
		// sub-cgroups: walk the tree only if there are any.
		var st unix.Stat_t
		if err := unix.Stat(dir, &st); err != nil {
			if err == unix.ENOENT {
				continue
			}
			return nil, fmt.Errorf("cgroups: %w", &os.PathError{Op: "stat", Path: dir, Err: err})
		}
		get := cgroups.GetPids
		if st.Nlink > 2 {
			get = cgroups.GetAllPids
		}
		p, err := get(dir)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("cgroups: list processes of %s: %w", dir, err)
		}
		all = append(all, p...)
	}
	slices.Sort(all)
	return slices.Compact(all), nil
}

// signalLoop freezes (if freeze is not nil), SIGKILLs everything, thaws, and
// waits, until no process is left or the deadline passes.
func (m *Manager) signalLoop(deadline time.Time, freeze func(frozen bool) error) error {
	for {
		pids, err := m.pids()
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroups: kill %s: processes still present after %v: %v", m.name, killTimeout, pids)
		}
		frozen := false
		if freeze != nil && freeze(true) == nil {
			// Frozen: nothing can fork or exit, so this list is
			// complete and every pid in it stays valid.
			frozen = true
		}
		err = m.signal()
		if frozen {
			if terr := freeze(false); terr != nil && err == nil {
				err = fmt.Errorf("cgroups: thaw %s: %w", m.name, terr)
			}
		}
		if err != nil {
			return err
		}
		// Give the killed processes a moment to exit before looking
		// again (and signalling whatever raced with the first round).
		wait := time.Now().Add(100 * time.Millisecond)
		if wait.After(deadline) {
			wait = deadline
		}
		_ = m.waitEmpty(wait)
	}
}

// signal SIGKILLs every process in the cgroups. Each pid is first pinned with
// pidfd_open and only signalled if it is still listed afterwards, so a pid
// that exited and was recycled by an unrelated process in between is never
// hit. Kernels without pidfds (< 5.3) get plain kill(2).
func (m *Manager) signal() error {
	pids, err := m.pids()
	if err != nil {
		return err
	}
	fds := make(map[int]int, len(pids))
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for _, pid := range pids {
		fd, err := unix.PidfdOpen(pid, 0)
		switch {
		case err == nil:
			fds[pid] = fd
		case err == unix.ENOSYS:
			for _, pid := range pids {
				_ = unix.Kill(pid, unix.SIGKILL)
			}
			return nil
		case err != unix.ESRCH: // ESRCH: gone already
			// Out of descriptors or the like: better a plain
			// kill than a process left running.
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
	again, err := m.pids()
	if err != nil {
		return err
	}
	for _, pid := range again {
		if fd, ok := fds[pid]; ok {
			_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
		}
	}
	return nil
}

// waitEmpty polls until the sandbox's cgroups hold no process, or until. On
// v2 it reads "populated" in cgroup.events; on v1 it lists the processes.
func (m *Manager) waitEmpty(until time.Time) error {
	delay := 50 * time.Microsecond
	for {
		empty, err := m.empty()
		if err != nil {
			return err
		}
		if empty {
			return nil
		}
		if time.Now().After(until) {
			return fmt.Errorf("cgroups: %s: processes still present after SIGKILL", m.name)
		}
		time.Sleep(delay)
		delay = min(2*delay, 10*time.Millisecond)
	}
}

func (m *Manager) empty() (bool, error) {
	if m.mode == Unified {
		ev, err := cgroups.ReadFile(m.dirs[0], "cgroup.events")
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return true, nil
			}
			return false, fmt.Errorf("cgroups: %w", err)
		}
		return strings.Contains(ev, "populated 0"), nil
	}
	pids, err := m.pids()
	return len(pids) == 0, err
}

// Destroy removes the sandbox's cgroups, deepest first (Paths). If they still
// hold processes, it kills them first, and it retries briefly on EBUSY while
// they exit; cgroups the sandbox made below its own are removed too. It is
// idempotent and a no-op on a nil Manager. After Destroy, the Manager cannot
// be used again.
func (m *Manager) Destroy() error {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gone {
		return nil
	}
	busy, err := m.rmdirs()
	if err != nil {
		return err
	}
	if busy {
		kerr := m.kill()
		for i := len(m.dirs) - 1; i >= 0; i-- {
			// RemovePath also removes sub-cgroups and retries
			// EBUSY for about a second.
			if err := cgroups.RemovePath(m.dirs[i]); err != nil {
				if kerr != nil {
					err = fmt.Errorf("%w (after: %w)", err, kerr)
				}
				return fmt.Errorf("cgroups: destroy %s: %w", m.name, err)
			}
			m.dirs = m.dirs[:i]
		}
	}
	m.rmParents()
	m.gone = true
	return nil
}

// rmdirs removes the directories that are still there, last made first. It
// stops at the first one that is busy (still has processes or children).
func (m *Manager) rmdirs() (busy bool, _ error) {
	for i := len(m.dirs) - 1; i >= 0; i-- {
		var err error
		for {
			if err = unix.Rmdir(m.dirs[i]); err != unix.EINTR {
				break
			}
		}
		switch err {
		case nil, unix.ENOENT:
			m.dirs = m.dirs[:i]
		case unix.EBUSY, unix.ENOTEMPTY:
			return true, nil
		default:
			return false, fmt.Errorf("cgroups: destroy %s: %w", m.name, &os.PathError{Op: "rmdir", Path: m.dirs[i], Err: err})
		}
	}
	return false, nil
}

package cgroups

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/fs"
	"golang.org/x/sys/unix"
)

// freezeTimeout bounds how long Freeze waits for every task to stop (v2's
// cgroup.events "frozen 1"; v1's library setter waits for FROZEN itself).
const freezeTimeout = 10 * time.Second

// Freeze stops every process of the sandbox (runc's pause): v1's
// freezer.state FROZEN, v2's cgroup.freeze 1. It returns once they are
// all stopped. A sandbox made without the freezer hierarchy (v1,
// Options.Minimal) cannot be frozen: ErrNotSupported.
func (m *Manager) Freeze() error { return m.setFrozen(true) }

// Thaw lets a frozen sandbox run again (runc's resume).
func (m *Manager) Thaw() error { return m.setFrozen(false) }

func (m *Manager) setFrozen(frozen bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	what := "thaw"
	if frozen {
		what = "freeze"
	}
	if m.gone || len(m.dirs) == 0 {
		return fmt.Errorf("cgroups: %s %s: %w", what, m.name, os.ErrClosed)
	}
	if m.mode == Unified {
		dir := m.dirs[0]
		v := "0"
		if frozen {
			v = "1"
		}
		if err := cgroups.WriteFile(dir, "cgroup.freeze", v); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				err = notSupported("no cgroup.freeze (kernel older than 5.2)")
			}
			return fmt.Errorf("cgroups: %s %s: %w", what, dir, err)
		}
		if !frozen {
			return nil
		}
		// cgroup.freeze asks; cgroup.events says when every task stopped
		for deadline := time.Now().Add(freezeTimeout); ; {
			v, err := readKey(dir, "cgroup.events", "frozen")
			if err != nil {
				return fmt.Errorf("cgroups: %s %s: %w", what, dir, err)
			}
			if v == "1" {
				return nil
			}
			if time.Now().After(deadline) {
				cgroups.WriteFile(dir, "cgroup.freeze", "0")
				return fmt.Errorf("cgroups: %s %s: %w", what, dir, unix.ETIMEDOUT)
			}
			time.Sleep(time.Millisecond)
		}
	}
	dir := m.ctrl["freezer"]
	if dir == "" {
		return fmt.Errorf("cgroups: %s %s: %w", what, m.name, notSupported("freezer controller not available"))
	}
	st := cgroups.Thawed
	if frozen {
		st = cgroups.Frozen
	}
	if err := (&fs.FreezerGroup{}).Set(dir, &cgroups.Resources{Freezer: st}); err != nil {
		return fmt.Errorf("cgroups: %s %s: %w", what, dir, err)
	}
	return nil
}

// Frozen reports whether the sandbox is frozen (or freezing).
func (m *Manager) Frozen() (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gone || len(m.dirs) == 0 {
		return false, fmt.Errorf("cgroups: state of %s: %w", m.name, os.ErrClosed)
	}
	if m.mode == Unified {
		v, err := cgroups.ReadFile(m.dirs[0], "cgroup.freeze")
		if err != nil {
			return false, fmt.Errorf("cgroups: state of %s: %w", m.name, err)
		}
		return strings.TrimSpace(v) == "1", nil
	}
	dir := m.ctrl["freezer"]
	if dir == "" {
		return false, nil
	}
	st, err := (&fs.FreezerGroup{}).GetState(dir)
	if err != nil {
		return false, fmt.Errorf("cgroups: state of %s: %w", m.name, err)
	}
	return st != cgroups.Thawed, nil
}

// readKey reads the value of key in a flat-keyed file ("key value" lines).
func readKey(dir, file, key string) (string, error) {
	s, err := cgroups.ReadFile(dir, file)
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(s, "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("%s/%s: no %q", dir, file, key)
}

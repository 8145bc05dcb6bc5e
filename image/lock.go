package image

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// lock is a held flock(2) on a lock file. The kernel drops it when the
// holder dies, however it dies, so a killed pull or run never leaves a
// lock behind.
type lock struct{ f *os.File }

// lockFile takes a flock on path (made if missing): shared or exclusive,
// waiting until ctx is done, or failing at once with errBusy when wait is
// false. A lock file may be removed by whoever holds it exclusively, so
// after taking it the file is checked to be still the one at path.
func lockFile(ctx context.Context, path string, exclusive, wait bool) (*lock, error) {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	delay := time.Millisecond
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("lock: %w", err)
		}
		for {
			err = unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
			if err == nil || !errors.Is(err, unix.EWOULDBLOCK) || !wait {
				break
			}
			select {
			case <-ctx.Done():
				f.Close()
				return nil, ctx.Err()
			case <-time.After(delay):
			}
			delay = min(2*delay, 50*time.Millisecond)
		}
		if err != nil {
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil, errBusy
			}
			return nil, &os.PathError{Op: "flock", Path: path, Err: err}
		}
		var held, now unix.Stat_t
		if unix.Fstat(int(f.Fd()), &held) == nil && unix.Stat(path, &now) == nil &&
			held.Dev == now.Dev && held.Ino == now.Ino {
			return &lock{f: f}, nil
		}
		f.Close() // removed under us: take the new one
	}
}

var errBusy = errors.New("busy")

// Unlock releases the lock.
func (l *lock) Unlock() {
	if l != nil && l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

//go:build !cgo

package spawn

import (
	"os"
	"syscall"
)

// Process is a started child. Without cgo there is none: Start fails with
// ErrNoCgo, and these methods exist so that callers build alike.
type Process struct {
	Pid          int
	PidFD        int
	SharedMemory bool
}

// Start fails: a nook built without cgo cannot start a sandbox.
func Start(cfg *Config) (*Process, error) { return nil, ErrNoCgo }

// Release fails with ErrNoCgo.
func (p *Process) Release() error { return ErrNoCgo }

// TTY fails with ErrNoCgo.
func (p *Process) TTY() (*os.File, error) { return nil, ErrNoCgo }

// Signal fails with ErrNoCgo.
func (p *Process) Signal(sig syscall.Signal) error { return ErrNoCgo }

// Wait fails with ErrNoCgo.
func (p *Process) Wait() (*Exit, error) { return nil, ErrNoCgo }

// Close does nothing.
func (p *Process) Close() error { return nil }

// Orphaned fails with ErrNoCgo.
func (p *Process) Orphaned() (int, error) { return 0, ErrNoCgo }

// Abandon does nothing.
func (p *Process) Abandon() {}

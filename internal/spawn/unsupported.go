//go:build !(linux && amd64)

package spawn

import (
	"os"
	"syscall"
)

// Process is a started child. The C child is built for linux/amd64 only
// (mkchild.sh): elsewhere Start fails with ErrUnsupported, and these
// methods exist so that callers build alike.
type Process struct {
	Pid          int
	PidFD        int
	SharedMemory bool
}

// Start fails with ErrUnsupported.
func Start(cfg *Config) (*Process, error) { return nil, ErrUnsupported }

// Release fails with ErrUnsupported.
func (p *Process) Release() error { return ErrUnsupported }

// TTY fails with ErrUnsupported.
func (p *Process) TTY() (*os.File, error) { return nil, ErrUnsupported }

// Signal fails with ErrUnsupported.
func (p *Process) Signal(sig syscall.Signal) error { return ErrUnsupported }

// Wait fails with ErrUnsupported.
func (p *Process) Wait() (*Exit, error) { return nil, ErrUnsupported }

// Close does nothing.
func (p *Process) Close() error { return nil }

// Orphaned fails with ErrUnsupported.
func (p *Process) Orphaned() (int, error) { return 0, ErrUnsupported }

// Abandon does nothing.
func (p *Process) Abandon() {}

// QuickExecFile is "": there is no entry.c to replay a prepared exec.
func QuickExecFile() string { return "" }

// EntryNamesDir is "", as QuickExecFile.
func EntryNamesDir() string { return "" }

// EntryDefaultRoot is "", as QuickExecFile.
func EntryDefaultRoot() string { return "" }

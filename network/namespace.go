package network

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/nookrun/nook/netns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Host names the namespace nook itself runs in.
const Host = "host"

// Namespace is a network namespace and a netlink handle that acts in it.
// The handle's socket was made inside the namespace, so no thread ever
// moves (see package netns).
type Namespace struct {
	// Name is what the caller named it: Host, a name in /run/netns, or
	// a path.
	Name string
	file *os.File
	h    *netlink.Handle
}

// OpenNamespace opens the namespace name: Host, a name of `ip netns` /
// `nook netns`, or the path of a namespace file (/proc/PID/ns/net).
func OpenNamespace(name string) (*Namespace, error) {
	if name == Host {
		f, err := hostFile()
		if err != nil {
			return nil, err
		}
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("netlink: %w", err)
		}
		return &Namespace{Name: name, file: f, h: h}, nil
	}
	f, err := netns.Open(name)
	if err != nil {
		return nil, err
	}
	n := &Namespace{Name: name, file: f}
	err = netns.In(f, func() error {
		var err error
		n.h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("netlink in %s: %w", name, err)
	}
	return n, nil
}

// hostFile opens the namespace of nook's threads. Not /proc/self: that
// is the main thread's, and a goroutine locked to a thread that entered
// another namespace may have been on the main thread, which the Go
// runtime parks for good instead of ending. Threads that no goroutine
// locked are never in another namespace.
func hostFile() (*os.File, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	f, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return nil, fmt.Errorf("the host's network namespace: %w", err)
	}
	return f, nil
}

// NewNamespace makes an anonymous namespace with loopback up.
func NewNamespace() (*Namespace, error) {
	n := &Namespace{Name: "(new)"}
	f, err := netns.NewThen(func() error {
		var err error
		n.h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		return nil, err
	}
	n.file = f
	if err := n.loopbackUp(); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// File returns the namespace's descriptor.
func (n *Namespace) File() *os.File { return n.file }

// Handle returns the netlink handle that acts in the namespace (nil once
// an Attachment is made: it keeps only the namespace).
func (n *Namespace) Handle() *netlink.Handle { return n.h }

// Close closes the handle and the descriptor. The namespace lives on
// while it has a name, a process or another descriptor.
func (n *Namespace) Close() error {
	if n == nil {
		return nil
	}
	if n.h != nil {
		n.h.Close()
		n.h = nil
	}
	if n.file != nil {
		err := n.file.Close()
		n.file = nil
		return err
	}
	return nil
}

// short is a name for interface names: a namespace's base name.
func (n *Namespace) short() string {
	return filepath.Base(n.Name)
}

func (n *Namespace) loopbackUp() error {
	lo, err := n.h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("%s: loopback: %w", n.Name, err)
	}
	if err := n.h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("%s: set lo up: %w", n.Name, err)
	}
	return nil
}

// sameAs reports whether two namespaces are one.
func (n *Namespace) sameAs(o *Namespace) bool {
	var a, b unix.Stat_t
	if unix.Fstat(int(n.file.Fd()), &a) != nil || unix.Fstat(int(o.file.Fd()), &b) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}

// retry runs a netlink dump again while the kernel reports it was
// interrupted by a change (NLM_F_DUMP_INTR): partial results are not
// results.
func retry[T any](fn func() (T, error)) (T, error) {
	var v T
	var err error
	for range 10 {
		v, err = fn()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return v, err
		}
	}
	return v, err
}

package netns

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Dir is where named namespaces are bound, as iproute2 binds them.
const Dir = "/run/netns"

// Errors that callers test for with errors.Is.
var (
	ErrExist    = errors.New("network namespace already exists")
	ErrNotExist = errors.New("no such network namespace")
)

// ValidName checks a namespace name: a file name in Dir.
func ValidName(name string) error {
	switch {
	case name == "":
		return errors.New("network namespace name is empty")
	case name == "." || name == ".." || strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("network namespace name %q: not a file name", name)
	case len(name) > 255:
		return fmt.Errorf("network namespace name %q: longer than 255 bytes", name)
	}
	return nil
}

// Path returns where the namespace NAME is bound.
func Path(name string) (string, error) {
	if err := ValidName(name); err != nil {
		return "", err
	}
	return filepath.Join(Dir, name), nil
}

// Prepare makes Dir a shared mount point, as iproute2 does before its
// first `ip netns add`: bound onto itself if it is no mount point yet, so
// that the namespace mounts in it propagate to mount namespaces made
// later, and an unmount reaches them too. It is idempotent.
func Prepare() error {
	if err := os.MkdirAll(Dir, 0o755); err != nil {
		return fmt.Errorf("netns: %w", err)
	}
	for bound := false; ; bound = true {
		err := unix.Mount("", Dir, "none", unix.MS_SHARED|unix.MS_REC, "")
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EINVAL) || bound {
			return fmt.Errorf("netns: make %s a shared mount: %w", Dir, err)
		}
		if err := unix.Mount(Dir, Dir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("netns: bind %s onto itself: %w", Dir, err)
		}
	}
}

// New makes an anonymous network namespace with only a loopback link
// (down) and returns a descriptor of it. The namespace lives as long as
// the descriptor or anything that joined it.
func New() (*os.File, error) {
	return NewThen(func() error { return nil })
}

// Add makes a new network namespace named name, bound at Dir/name.
func Add(name string) error {
	path, err := Path(name)
	if err != nil {
		return err
	}
	if err := Prepare(); err != nil {
		return err
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("netns add %s: %w", name, ErrExist)
		}
		return fmt.Errorf("netns add %s: create %s: %w", name, path, err)
	}
	unix.Close(fd)
	err = onThrowawayThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
		}
		if err := unix.Mount("/proc/thread-self/ns/net", path, "none", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind the namespace on %s: %w", path, err)
		}
		return nil
	})
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("netns add %s: %w", name, err)
	}
	return nil
}

// Delete unbinds the namespace name and removes its file. The namespace
// itself lives on while a process is in it.
func Delete(name string) error {
	path, err := Path(name)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("netns delete %s: %w", name, ErrNotExist)
		}
		return fmt.Errorf("netns delete %s: %w", name, err)
	}
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("netns delete %s: unmount %s: %w", name, path, err)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("netns delete %s: %w", name, err)
	}
	return nil
}

// List returns the names in Dir, sorted.
func List() ([]string, error) {
	ents, err := os.ReadDir(Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("netns list: %w", err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	slices.Sort(out)
	return out, nil
}

// Open opens the namespace named name (or, when name holds a "/", the
// namespace file at that path, such as /proc/PID/ns/net).
func Open(name string) (*os.File, error) {
	path := name
	if !strings.Contains(name, "/") {
		var err error
		if path, err = Path(name); err != nil {
			return nil, err
		}
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", name, ErrNotExist)
	}
	if err != nil {
		return nil, err
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil || st.Type != unix.NSFS_MAGIC {
		f.Close()
		return nil, fmt.Errorf("%s: %w (%s is not a namespace file)", name, ErrNotExist, path)
	}
	return f, nil
}

// id is what tells namespaces apart: the nsfs inode and its device.
type id struct{ dev, ino uint64 }

func idOf(path string) (id, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return id{}, err
	}
	return id{st.Dev, st.Ino}, nil
}

// Identify returns the names of the network namespace process pid is in.
func Identify(pid int) ([]string, error) {
	want, err := idOf("/proc/" + strconv.Itoa(pid) + "/ns/net")
	if err != nil {
		return nil, fmt.Errorf("netns identify %d: %w", pid, err)
	}
	names, err := List()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range names {
		if got, err := idOf(filepath.Join(Dir, n)); err == nil && got == want {
			out = append(out, n)
		}
	}
	return out, nil
}

// Pids returns the processes in the namespace name.
func Pids(name string) ([]int, error) {
	f, err := Open(name)
	if err != nil {
		return nil, err
	}
	want, err := idOf(f.Name())
	f.Close()
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if got, err := idOf("/proc/" + e.Name() + "/ns/net"); err == nil && got == want {
			out = append(out, pid)
		}
	}
	return out, nil
}

// Exec replaces the process with argv run in the namespace name, as `ip
// netns exec` runs it: in a mount namespace of its own with a fresh /sys
// (so that /sys/class/net shows the namespace's links) and the files of
// /etc/netns/NAME bound over those of /etc. It returns only on error, and
// then the calling goroutine's thread is left locked, so that the runtime
// throws it away.
func Exec(name string, argv, env []string) error {
	if len(argv) == 0 {
		return errors.New("netns exec: no command given")
	}
	f, err := Open(name)
	if err != nil {
		return fmt.Errorf("netns exec: %w", err)
	}
	defer f.Close()
	bin, err := exec.LookPath(argv[0])
	if err != nil {
		return fmt.Errorf("netns exec: %w", err)
	}
	runtime.LockOSThread() // never unlocked: this thread is done for
	if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("netns exec %s: setns: %w", name, err)
	}
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("netns exec %s: unshare(CLONE_NEWNS): %w", name, err)
	}
	if err := unix.Mount("", "/", "none", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("netns exec %s: make / a slave mount: %w", name, err)
	}
	unix.Unmount("/sys", unix.MNT_DETACH)
	if err := unix.Mount(name, "/sys", "sysfs", 0, ""); err != nil {
		return fmt.Errorf("netns exec %s: mount sysfs on /sys: %w", name, err)
	}
	if !strings.Contains(name, "/") {
		etc := filepath.Join("/etc/netns", name)
		ents, _ := os.ReadDir(etc)
		for _, e := range ents {
			src, dst := filepath.Join(etc, e.Name()), filepath.Join("/etc", e.Name())
			if err := unix.Mount(src, dst, "none", unix.MS_BIND, ""); err != nil {
				return fmt.Errorf("netns exec %s: bind %s on %s: %w", name, src, dst, err)
			}
		}
	}
	err = unix.Exec(bin, argv, env)
	return fmt.Errorf("netns exec: %s: %w", bin, err)
}

// NewThen makes an anonymous namespace as New does and runs fn inside it,
// on the thread that made it, before that thread is thrown away: fn opens
// the sockets that act in the namespace (a netlink socket belongs to the
// namespace it was made in). On error the namespace is closed.
func NewThen(fn func() error) (*os.File, error) {
	var f *os.File
	err := onThrowawayThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("netns: unshare(CLONE_NEWNET): %w", err)
		}
		fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("netns: open /proc/thread-self/ns/net: %w", err)
		}
		f = os.NewFile(uintptr(fd), "netns")
		if err := fn(); err != nil {
			f.Close()
			f = nil
			return err
		}
		return nil
	})
	return f, err
}

// In runs fn inside the namespace ns on a fresh thread that is thrown away
// afterwards; fn opens sockets there.
func In(ns *os.File, fn func() error) error {
	return onThrowawayThread(func() error {
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("netns: setns %s: %w", ns.Name(), err)
		}
		return fn()
	})
}

// onThrowawayThread runs fn on a goroutine locked to its own thread, so
// that whatever fn does to the thread (a namespace entered or made) stays
// on it. Afterwards the thread goes back to the namespace it came from and
// is handed back to the runtime; only where that fails is it thrown away,
// by ending its goroutine still locked.
//
// A thread must not end when it need not: nook's children have a
// parent-death signal, which the kernel sends when the thread that cloned
// them ends, not the process. A thread the runtime once ran a clone on and
// later lent to fn would take that child with it: batch's sandboxes died
// of SIGKILL, 2 ms into their run, once every start made a namespace here
// (container's premade network namespace).
func onThrowawayThread(fn func() error) error {
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, herr := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		err := fn()
		if herr == nil {
			back := unix.Setns(home, unix.CLONE_NEWNET)
			unix.Close(home)
			if back == nil {
				runtime.UnlockOSThread()
			}
		}
		ch <- err
	}()
	return <-ch
}

package state

import (
	"os"

	"golang.org/x/sys/unix"
)

// ReadFile reads the whole file at path, as os.ReadFile does (its errors
// are *os.PathError too), with plain system calls: os.File offers every
// file it opens to Go's network poller, which costs a regular file or a
// /proc file four more system calls, and the first one the poller's own
// setup (epoll_create1, eventfd2, epoll_ctl), all for nothing, since
// neither can be polled. nook exec reads four such files before its
// command starts (the state, the spec, the exec cache, and /proc/PID/stat
// for the pid-reuse check).
func ReadFile(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	// a /proc file says size 0: start at 512 bytes, as os.ReadFile does
	size := 512
	var st unix.Stat_t
	if unix.Fstat(fd, &st) == nil && st.Size > 0 && st.Size < 1<<30 {
		size = int(st.Size) + 1 // one more, to see the end in one read
	}
	b := make([]byte, 0, size)
	for {
		n, err := unix.Read(fd, b[len(b):cap(b)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return b, nil
		}
		b = b[:len(b)+n]
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

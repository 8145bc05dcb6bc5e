package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Limits bound what one layer may put on disk: a layer is untrusted
// input, and a few kilobytes of gzip can expand to terabytes of zeros or
// to millions of empty files.
type Limits struct {
	// MaxFiles is the most entries one layer may have (0: DefaultMaxFiles).
	MaxFiles int
	// MaxBytes is the most uncompressed bytes one layer may have, tar
	// headers and padding included (0: DefaultMaxBytes).
	MaxBytes int64
}

// Defaults for Limits: far above any real image layer, far below what
// fills a disk by surprise.
const (
	DefaultMaxFiles = 1 << 20 // 1,048,576 entries
	DefaultMaxBytes = 64 << 30
)

func (l Limits) files() int {
	if l.MaxFiles > 0 {
		return l.MaxFiles
	}
	return DefaultMaxFiles
}

func (l Limits) bytes() int64 {
	if l.MaxBytes > 0 {
		return l.MaxBytes
	}
	return DefaultMaxBytes
}

// Whiteout names, as layers carry them (the OCI image spec's "AUFS"
// form). They become overlayfs whiteouts on disk.
const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
	whiteoutMeta   = ".wh..wh."
)

// resolveFlags resolve a path of a layer without leaving the layer's
// directory and without following any symbolic link: a layer whose
// entries go through a symlink (its own or another's) is refused rather
// than followed.
const resolveFlags = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV

// unpacker writes one layer's tar stream into a directory. Every path is
// resolved inside the directory with openat2 and every file is made with
// the *at calls relative to a directory fd so resolved, so nothing a layer
// says can make a write land outside it.
type unpacker struct {
	root     *os.File // the layer's directory
	rootless bool     // no chown; overlay xattrs in the user. namespace
	limits   Limits
	warn     func(string)

	files int
	bytes int64

	// the parent directory of the last entry, kept open: entries come
	// grouped by directory
	lastDir string
	lastFD  int

	dirs []dirMeta // modes and times set once the layer is complete
}

type dirMeta struct {
	name  string
	mode  uint32
	mtime time.Time
}

// countingReader counts what the tar reader takes, to enforce MaxBytes on
// the decompressed stream itself (headers, padding, sparse holes).
type countingReader struct {
	r   io.Reader
	n   int64
	max int64
}

var errTooBig = errors.New("layer is larger than the limit on uncompressed bytes")

func (c *countingReader) Read(p []byte) (int, error) {
	if c.n >= c.max {
		return 0, errTooBig
	}
	if int64(len(p)) > c.max-c.n {
		p = p[:c.max-c.n]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// unpack extracts the uncompressed tar stream r into dir, which must exist
// and be empty. It reads r to its end, so that a caller hashing the
// stream sees all of it.
func unpack(r io.Reader, dir string, rootless bool, limits Limits, warn func(string)) error {
	root, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	u := &unpacker{root: root, rootless: rootless, limits: limits, warn: warn, lastFD: -1}
	defer u.closeLast()
	cr := &countingReader{r: r, max: limits.bytes()}
	tr := tar.NewReader(cr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		u.files++
		if u.files > limits.files() {
			return fmt.Errorf("more than %d entries (the limit on files per layer)", limits.files())
		}
		if err := u.entry(tr, hdr); err != nil {
			return fmt.Errorf("%q: %w", hdr.Name, err)
		}
	}
	// what follows the end-of-archive blocks is still part of the blob
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return fmt.Errorf("read tar: %w", err)
	}
	return u.finishDirs()
}

// cleanName checks an entry's name: relative to the layer's root, no
// "..". A leading "/" or "./" is allowed, as tar writers put them.
func cleanName(name string) (string, error) {
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", errors.New("path has a \"..\" component")
		}
	}
	n := path.Clean("/" + name)
	if len(n) > unix.PathMax {
		return "", errors.New("path too long")
	}
	return strings.TrimPrefix(n, "/"), nil
}

func (u *unpacker) closeLast() {
	if u.lastFD >= 0 {
		unix.Close(u.lastFD)
	}
	u.lastFD, u.lastDir = -1, ""
}

// forget drops the cached parent when name is it or one of its ancestors:
// the directory the fd names may be about to be replaced.
func (u *unpacker) forget(name string) {
	if u.lastFD >= 0 && (u.lastDir == name || strings.HasPrefix(u.lastDir, name+"/")) {
		u.closeLast()
	}
}

// parent opens dir (a clean relative name, "" for the root) inside the
// layer, making missing directories on the way. The fd belongs to u.
func (u *unpacker) parent(dir string) (int, error) {
	if u.lastFD >= 0 && u.lastDir == dir {
		return u.lastFD, nil
	}
	u.closeLast()
	fd, err := u.open(dir)
	if errors.Is(err, unix.ENOENT) {
		fd, err = u.mkdirAll(dir)
	}
	if err != nil {
		return -1, err
	}
	u.lastDir, u.lastFD = dir, fd
	return fd, nil
}

func (u *unpacker) open(name string) (int, error) {
	if name == "" {
		name = "."
	}
	fd, err := openDirBeneath(int(u.root.Fd()), name)
	if err != nil {
		return -1, openErr(name, err)
	}
	return fd, nil
}

// openDirBeneath opens the directory name beneath dirfd (resolveFlags) as
// an O_PATH fd. The kernel answers EAGAIN when a mount or rename anywhere
// on the machine raced a ".." of the walk and asks for a retry
// (openat2(2)); a hundred in a row means something keeps racing it.
func openDirBeneath(dirfd int, name string) (int, error) {
	how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolveFlags}
	for i := 0; ; i++ {
		fd, err := unix.Openat2(dirfd, name, how)
		if err != unix.EAGAIN || i == 100 {
			return fd, err
		}
	}
}

func openErr(name string, err error) error {
	switch {
	case errors.Is(err, unix.ELOOP):
		return fmt.Errorf("%s: path goes through a symbolic link", name)
	case errors.Is(err, unix.EXDEV):
		return fmt.Errorf("%s: path leaves the layer", name)
	case errors.Is(err, unix.ENOTDIR):
		return fmt.Errorf("%s: a parent is not a directory", name)
	}
	return &os.PathError{Op: "openat2", Path: name, Err: err}
}

// mkdirAll makes dir and its missing parents, one component at a time,
// each resolved beneath the root with no symlinks.
func (u *unpacker) mkdirAll(dir string) (int, error) {
	fd, err := u.open("")
	if err != nil {
		return -1, err
	}
	for _, c := range strings.Split(dir, "/") {
		if err := unix.Mkdirat(fd, c, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			unix.Close(fd)
			return -1, &os.PathError{Op: "mkdir", Path: c, Err: err}
		}
		next, err := openDirBeneath(fd, c)
		unix.Close(fd)
		if err != nil {
			return -1, openErr(dir, err)
		}
		fd = next
	}
	return fd, nil
}

// remove deletes whatever is at name in the directory pfd, a tree
// included, so that a later entry replaces an earlier one.
func (u *unpacker) remove(pfd int, dir, base string, keepDir bool) error {
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return unix.Unlinkat(pfd, base, 0)
	}
	if keepDir {
		return nil
	}
	u.forget(path.Join(dir, base))
	// the parent was resolved with no symlinks and RemoveAll follows none
	return os.RemoveAll(filepath.Join(u.root.Name(), dir, base))
}

func (u *unpacker) entry(tr *tar.Reader, hdr *tar.Header) error {
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	if name == "" {
		// the layer's root itself
		if hdr.Typeflag == tar.TypeDir {
			u.dirs = append(u.dirs, dirMeta{name: "", mode: uint32(hdr.Mode), mtime: hdr.ModTime})
			return u.chown(int(u.root.Fd()), "", hdr)
		}
		return errors.New("the layer's root is not a directory")
	}

	// whiteouts
	if base == whiteoutOpaque {
		pfd, err := u.parent(dir)
		if err != nil {
			return err
		}
		return u.setOpaque(pfd)
	}
	if strings.HasPrefix(base, whiteoutMeta) {
		return nil // aufs bookkeeping (.wh..wh.plnk...), meaningless here
	}
	if strings.HasPrefix(base, whiteoutPrefix) {
		hidden := strings.TrimPrefix(base, whiteoutPrefix)
		if hidden == "" || hidden == "." || hidden == ".." {
			return fmt.Errorf("whiteout of %q", hidden)
		}
		pfd, err := u.parent(dir)
		if err != nil {
			return err
		}
		if err := u.remove(pfd, dir, hidden, false); err != nil {
			return err
		}
		// overlayfs's whiteout: a 0/0 character device, which the kernel
		// lets anyone make (no CAP_MKNOD needed)
		if err := unix.Mknodat(pfd, hidden, unix.S_IFCHR, 0); err != nil {
			return fmt.Errorf("make whiteout: %w", err)
		}
		return nil
	}

	pfd, err := u.parent(dir)
	if err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := u.remove(pfd, dir, base, true); err != nil {
			return err
		}
		if err := unix.Mkdirat(pfd, base, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			return err
		}
		fd, err := openDirBeneath(pfd, base)
		if err != nil {
			return openErr(name, err)
		}
		defer unix.Close(fd)
		if err := u.chown(fd, "", hdr); err != nil {
			return err
		}
		if err := u.xattrs(fd, hdr); err != nil {
			return err
		}
		u.dirs = append(u.dirs, dirMeta{name: name, mode: uint32(hdr.Mode), mtime: hdr.ModTime})
		return nil

	case tar.TypeReg, tar.TypeRegA:
		if err := u.remove(pfd, dir, base, false); err != nil {
			return err
		}
		return u.file(pfd, base, tr, hdr)

	case tar.TypeSymlink:
		if err := u.remove(pfd, dir, base, false); err != nil {
			return err
		}
		// the target is stored as it is and never followed here; in the
		// sandbox it resolves inside the sandbox's root
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return err
		}
		if err := u.chownAt(pfd, base, hdr); err != nil {
			return err
		}
		return unix.UtimesNanoAt(pfd, base, times(hdr), unix.AT_SYMLINK_NOFOLLOW)

	case tar.TypeLink:
		target, err := cleanName(hdr.Linkname)
		if err != nil {
			return fmt.Errorf("hard link target %q: %w", hdr.Linkname, err)
		}
		if target == "" {
			return errors.New("hard link to the layer's root")
		}
		tdir, tbase := path.Split(target)
		tfd, err := u.open(strings.TrimSuffix(tdir, "/"))
		if err != nil {
			return fmt.Errorf("hard link target: %w", err)
		}
		defer unix.Close(tfd)
		if err := u.remove(pfd, dir, base, false); err != nil {
			return err
		}
		// no AT_SYMLINK_FOLLOW: a link to a symlink links the symlink
		if err := unix.Linkat(tfd, tbase, pfd, base, 0); err != nil {
			return fmt.Errorf("hard link to %q (it must be earlier in the same layer): %w", hdr.Linkname, err)
		}
		return nil

	case tar.TypeFifo:
		if err := u.remove(pfd, dir, base, false); err != nil {
			return err
		}
		if err := unix.Mknodat(pfd, base, unix.S_IFIFO|uint32(hdr.Mode&0o777), 0); err != nil {
			return err
		}
		return u.chownAt(pfd, base, hdr)

	case tar.TypeChar, tar.TypeBlock:
		// a sandbox gets its device nodes from nook, never from an image
		u.warnf("skipped device node %s", name)
		return nil

	case tar.TypeXGlobalHeader:
		return nil
	}
	return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
}

func (u *unpacker) warnf(format string, args ...any) {
	if u.warn != nil {
		u.warn(fmt.Sprintf(format, args...))
	}
}

func times(hdr *tar.Header) []unix.Timespec {
	t := unix.NsecToTimespec(hdr.ModTime.UnixNano())
	a := t
	if !hdr.AccessTime.IsZero() {
		a = unix.NsecToTimespec(hdr.AccessTime.UnixNano())
	}
	return []unix.Timespec{a, t}
}

func (u *unpacker) file(pfd int, base string, tr *tar.Reader, hdr *tar.Header) error {
	fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), base)
	defer f.Close()
	if hdr.Size > 0 {
		if _, err := io.CopyN(f, tr, hdr.Size); err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("truncated file")
			}
			return err
		}
	}
	// chown first: it clears set-user-ID and set-group-ID bits
	if err := u.chown(fd, "", hdr); err != nil {
		return err
	}
	if err := unix.Fchmod(fd, uint32(hdr.Mode&0o7777)); err != nil {
		return err
	}
	if err := u.xattrs(fd, hdr); err != nil {
		return err
	}
	ts := times(hdr)
	return unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// chown sets the owner of the file at fd (an O_PATH fd works through
// AT_EMPTY_PATH). Unprivileged, files stay the caller's: it is root in
// the sandbox's user namespace.
func (u *unpacker) chown(fd int, _ string, hdr *tar.Header) error {
	if u.rootless {
		return nil
	}
	return unix.Fchownat(fd, "", hdr.Uid, hdr.Gid, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW)
}

func (u *unpacker) chownAt(pfd int, base string, hdr *tar.Header) error {
	if u.rootless {
		return nil
	}
	return unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW)
}

// xattrs sets the extended attributes a layer carries (PAX
// SCHILY.xattr.*): file capabilities and user.* ones. trusted.* and the
// overlay's own attributes would steer overlayfs (redirects, metacopy),
// so a layer may not set them.
func (u *unpacker) xattrs(fd int, hdr *tar.Header) error {
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok {
			continue
		}
		switch {
		case strings.HasPrefix(name, "trusted.") || strings.HasPrefix(name, "user.overlay."):
			return fmt.Errorf("extended attribute %s is not allowed in a layer", name)
		case name == "security.capability" || strings.HasPrefix(name, "user."):
		default:
			continue // security.selinux and others: the host's business
		}
		if err := unix.Setxattr(procFD(fd), name, []byte(v), 0); err != nil {
			if u.rootless && errors.Is(err, unix.EPERM) {
				u.warnf("could not set %s on %s unprivileged", name, hdr.Name)
				continue
			}
			return fmt.Errorf("set %s: %w", name, err)
		}
	}
	return nil
}

func procFD(fd int) string { return fmt.Sprintf("/proc/self/fd/%d", fd) }

// setOpaque marks the directory at fd opaque: lower layers' entries in it
// are hidden.
// Root writes both attributes: the trusted.* one for an overlay mounted
// as usual, the user.* one for an overlay mounted with userxattr in a
// sandbox with a user namespace of its own.
//
// A file system without user.* attributes (tmpfs before Linux 6.6: the VM
// harness's /tmp on Debian's 6.1) refuses the user.* one; for root that
// is no error, since its own mounts read the trusted.* one.
func (u *unpacker) setOpaque(fd int) error {
	names := []string{"user.overlay.opaque"}
	if !u.rootless {
		names = []string{"trusted.overlay.opaque", "user.overlay.opaque"}
	}
	for _, name := range names {
		err := unix.Setxattr(procFD(fd), name, []byte("y"), 0)
		if err == unix.EOPNOTSUPP && !u.rootless && name == "user.overlay.opaque" {
			continue
		}
		if err != nil {
			return fmt.Errorf("mark directory opaque (%s): %w", name, err)
		}
	}
	return nil
}

// finishDirs sets directories' modes and times, deepest first, after
// their contents are in place (writing into a directory changes its
// mtime, and a mode without w would stop an unprivileged unpack).
func (u *unpacker) finishDirs() error {
	u.closeLast()
	for i := len(u.dirs) - 1; i >= 0; i-- {
		d := u.dirs[i]
		fd, err := u.open(d.name)
		if err != nil {
			return err
		}
		p := procFD(fd)
		err = unix.Chmod(p, d.mode&0o7777)
		if err == nil {
			t := unix.NsecToTimespec(d.mtime.UnixNano())
			err = unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{t, t}, 0)
		}
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("%q: %w", d.name, err)
		}
	}
	return nil
}

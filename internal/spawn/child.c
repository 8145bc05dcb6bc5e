// The child side of a spawn: what runs between clone and execve.
//
// This file is the only C in nook. It exists because the Go runtime cannot
// run in a forked copy of itself, and re-executing the nook binary to get a
// fresh Go runtime in the child costs more than everything else a sandbox
// start does (see doc.go). The Go parent compiles the whole sandbox
// configuration into a flat list of steps (plan.go); this code interprets
// them one by one and knows nothing about OCI specs.
//
// Rules for everything in this file, because it runs in a single-threaded
// copy of a multithreaded process: no malloc, no stdio, no locks, no Go.
// Only system calls and stack buffers.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "spawn.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

// One decoded step: an op code and up to NOOK_MAXARGS arguments, each a
// pointer into the plan buffer and a length. Strings are NUL-terminated.
struct step {
	uint32_t op;
	uint32_t argc;
	const char *arg[NOOK_MAXARGS];
	uint32_t len[NOOK_MAXARGS];
};

struct child {
	const struct nook_spawn *s;
	int rootfd;	       // the new root while it is built, -1 before
	const char *procdir;   // where the host's /proc is reachable now
	const char *hostdir;   // prefix under which the host's / is reachable now
	int status_fd;	       // init: where the command's wait status goes
	int tty_sock;	       // -t: socket to send the pty master over
	int tty_slave;	       // -t: the pty's other end, for the command
	const char *argv[NOOK_MAXARGV + 1];
	const char *envp[NOOK_MAXARGV + 1];
	int argc, envc;
	int null_fd; // the verified null device, opened on the first mask
};

static uint64_t num(const struct step *st, int i) {
	uint64_t v = 0;
	if (i < (int)st->argc && st->len[i] == 8) memcpy(&v, st->arg[i], 8);
	return v;
}

static const char *str(const struct step *st, int i) {
	return i < (int)st->argc ? st->arg[i] : "";
}

// decode reads the step at *off and advances it; 0 at the end, -1 if the
// buffer is malformed (a bug in plan.go, reported like any other error).
static int decode(const unsigned char *buf, size_t n, size_t *off, struct step *st) {
	uint32_t h[2];
	if (*off >= n) return 0;
	if (n - *off < 8) return -1;
	memcpy(h, buf + *off, 8);
	*off += 8;
	if (h[1] > NOOK_MAXARGS) return -1;
	st->op = h[0];
	st->argc = h[1];
	for (uint32_t i = 0; i < h[1]; i++) {
		uint32_t l;
		if (n - *off < 4) return -1;
		memcpy(&l, buf + *off, 4);
		*off += 4;
		if (n - *off < l) return -1;
		st->arg[i] = (const char *)buf + *off;
		st->len[i] = l;
		*off += l;
	}
	return 1;
}

// --- error reporting --------------------------------------------------------

static size_t cat(char *dst, size_t at, size_t cap, const char *s) {
	while (*s && at + 1 < cap) dst[at++] = *s++;
	dst[at] = 0;
	return at;
}

// fail reports "what path: errno" to the parent and exits. The parent turns
// the errno into Go's lowercase text, so the message matches Go's style.
static void __attribute__((noreturn)) fail3(const struct nook_spawn *s, int code, int err,
					    const char *a, const char *b, const char *c) {
	char msg[1024];
	size_t n = 0;
	int32_t e = err;
	uint32_t l;
	char rec[8 + sizeof msg];
	n = cat(msg, n, sizeof msg, a);
	n = cat(msg, n, sizeof msg, b);
	n = cat(msg, n, sizeof msg, c);
	l = (uint32_t)n;
	memcpy(rec, &e, 4);
	memcpy(rec + 4, &l, 4);
	memcpy(rec + 8, msg, n);
	if (s->err_fd >= 0) {
		ssize_t w = write(s->err_fd, rec, 8 + n);
		(void)w;
	}
	_exit(code);
}

static void __attribute__((noreturn)) fail(const struct nook_spawn *s, int err, const char *what, const char *path) {
	fail3(s, NOOK_EXIT_SETUP, err, what, path[0] ? " " : "", path);
}

// --- paths inside the new root -----------------------------------------------

static int openat2_in_root(int rootfd, const char *path, int flags) {
	struct open_how how;
	memset(&how, 0, sizeof how);
	how.flags = (uint64_t)flags | O_CLOEXEC;
	how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
	while (*path == '/') path++;
	if (!*path) path = ".";
	return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
}

// open_in_root opens path inside the root as an O_PATH fd, creating what is
// missing on the way: directories, and the last element as a directory or an
// empty file (kind). Every component is resolved by the kernel as if rootfd
// were "/", so a symlink or ".." in a rootfs cannot lead outside it.
enum { MK_NONE = 0, MK_DIR = 1, MK_FILE = 2 };

static int open_in_root(struct child *c, const char *path, int kind) {
	char buf[4096];
	size_t n = strlen(path);
	int fd = openat2_in_root(c->rootfd, path, O_PATH);
	if (fd >= 0 || errno != ENOENT || kind == MK_NONE) return fd;
	if (n >= sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, n + 1);
	// walk from the top, creating each missing component in its parent
	int parent = dup(c->rootfd);
	char *p = buf;
	while (*p == '/') p++;
	while (*p) {
		char *e = p;
		while (*e && *e != '/') e++;
		int last = 1;
		char *q = e;
		while (*q == '/') q++;
		if (*q) last = 0;
		char save = *e;
		*e = 0;
		int next = -1;
		// resolve this prefix inside the root, so symlinks stay confined
		next = openat2_in_root(c->rootfd, buf, O_PATH);
		if (next < 0 && errno == ENOENT) {
			int r;
			if (last && kind == MK_FILE) {
				r = openat(parent, p, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
				if (r >= 0) close(r);
			} else {
				r = mkdirat(parent, p, 0755);
			}
			if (r < 0 && errno != EEXIST) {
				close(parent);
				return -1;
			}
			next = openat2_in_root(c->rootfd, buf, O_PATH);
		}
		close(parent);
		if (next < 0) return -1;
		parent = next;
		*e = save;
		p = q;
	}
	return parent;
}

static void fdpath(char *dst, size_t cap, const char *procdir, int fd) {
	char num[16];
	int i = 15;
	num[i] = 0;
	do {
		num[--i] = (char)('0' + fd % 10);
		fd /= 10;
	} while (fd && i > 0);
	size_t n = cat(dst, 0, cap, procdir);
	n = cat(dst, n, cap, "/self/fd/");
	cat(dst, n, cap, num + i);
}

// set_attr applies mount attributes (read-only, nosuid...) to the mount now
// at fd, recursively when asked, without the remount dance: mount_setattr
// changes only the bits it is given, so flags the kernel locked in a user
// namespace stay as they are.
static int set_attr(int fd, uint64_t attr, int recursive) {
	struct mount_attr a;
	if (!attr) return 0;
	memset(&a, 0, sizeof a);
	a.attr_set = attr;
	return mount_setattr(fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &a, sizeof a);
}

// --- steps -------------------------------------------------------------------

static void do_mount(struct child *c, const struct step *st) {
	const char *src = str(st, 0), *dst = str(st, 1), *fstype = str(st, 2);
	unsigned long flags = (unsigned long)num(st, 3);
	const char *data = str(st, 4);
	uint64_t attr = num(st, 5), prop = num(st, 6), kind = num(st, 7);
	char p[64];
	int bind = (flags & MS_BIND) != 0;

	if (bind && kind == MK_NONE) {
		struct stat sb;
		if (stat(src, &sb) < 0) fail(c->s, errno, "stat bind source", src);
		kind = S_ISDIR(sb.st_mode) ? MK_DIR : MK_FILE;
	}
	int fd = open_in_root(c, dst, kind ? (int)kind : MK_DIR);
	if (fd < 0) fail3(c->s, NOOK_EXIT_SETUP, errno, "open mount point ", dst, "");
	if (!bind && (!strcmp(fstype, "proc") || !strcmp(fstype, "sysfs"))) {
		// procfs and sysfs only onto a real directory that is not itself
		// on procfs or sysfs (the CVE-2019-16884 family)
		struct stat sb;
		struct statfs sf;
		if (fstat(fd, &sb) < 0 || fstatfs(fd, &sf) < 0) fail(c->s, errno, "stat", dst);
		if (!S_ISDIR(sb.st_mode) || sf.f_type == PROC_SUPER_MAGIC || sf.f_type == SYSFS_MAGIC)
			fail3(c->s, NOOK_EXIT_SETUP, ENOTDIR, "mount ", fstype, " on a path that is not a plain directory");
	}
	fdpath(p, sizeof p, c->procdir, fd);
	if (bind) {
		if (mount(src, p, NULL, MS_BIND | (flags & MS_REC), NULL) < 0)
			fail3(c->s, NOOK_EXIT_SETUP, errno, "bind ", src, dst[0] ? " on " : "");
	} else if (mount(src, p, fstype, flags, data) < 0) {
		int e = errno;
		if (!strcmp(fstype, "sysfs") && (e == EPERM || e == EACCES)) {
			// sysfs needs a net namespace of our own user namespace;
			// where there is none, the host's /sys read-only will do
			char hs[4096];
			cat(hs, cat(hs, 0, sizeof hs, c->hostdir), sizeof hs, "/sys");
			if (mount(hs, p, NULL, MS_BIND | MS_REC, NULL) < 0) fail(c->s, errno, "bind /sys on", dst);
			attr |= MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
			bind = 1;
			flags |= MS_REC;
		} else {
			fail3(c->s, NOOK_EXIT_SETUP, e, "mount ", fstype, dst[0] ? " on " : "");
		}
	}
	close(fd);
	if (attr || prop) {
		// reopen: the fd above names the mount point underneath, not the
		// new mount on top of it
		fd = open_in_root(c, dst, MK_NONE);
		if (fd < 0) fail(c->s, errno, "reopen", dst);
		if (set_attr(fd, attr, bind && (flags & MS_REC)) < 0) fail(c->s, errno, "set mount attributes on", dst);
		if (prop) {
			fdpath(p, sizeof p, c->procdir, fd);
			if (mount(NULL, p, NULL, (unsigned long)prop, NULL) < 0) fail(c->s, errno, "set propagation of", dst);
		}
		close(fd);
	}
}

// mask hides path: /dev/null over a file, an empty read-only tmpfs over a
// directory. A missing path needs no hiding.
static void do_mask(struct child *c, const struct step *st) {
	const char *path = str(st, 0);
	char p[64], nul[4096];
	struct stat sb, nb;
	int fd = open_in_root(c, path, MK_NONE);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR) return;
		fail(c->s, errno, "open masked path", path);
	}
	if (fstat(fd, &sb) < 0) fail(c->s, errno, "stat", path);
	fdpath(p, sizeof p, c->procdir, fd);
	if (S_ISDIR(sb.st_mode)) {
		if (mount("tmpfs", p, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=0500") < 0)
			fail(c->s, errno, "mask", path);
	} else {
		// the source must really be the null device: a /dev/null that
		// is a symlink or another file would expose what it points to
		// (CVE-2025-31133)
		if (c->null_fd < 0) {
			cat(nul, cat(nul, 0, sizeof nul, c->hostdir), sizeof nul, "/dev/null");
			c->null_fd = open(nul, O_PATH | O_NOFOLLOW | O_CLOEXEC);
			if (c->null_fd < 0 || fstat(c->null_fd, &nb) < 0) fail(c->s, errno, "open", "/dev/null");
			if (!S_ISCHR(nb.st_mode) || major(nb.st_rdev) != 1 || minor(nb.st_rdev) != 3)
				fail(c->s, EPERM, "/dev/null is not the null device:", nul);
		}
		char np[64];
		fdpath(np, sizeof np, c->procdir, c->null_fd);
		if (mount(np, p, NULL, MS_BIND, NULL) < 0) fail(c->s, errno, "mask", path);
	}
	close(fd);
}

static void do_readonly(struct child *c, const struct step *st) {
	const char *path = str(st, 0);
	char p[64];
	int fd = open_in_root(c, path, MK_NONE);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR) return;
		fail(c->s, errno, "open read-only path", path);
	}
	fdpath(p, sizeof p, c->procdir, fd);
	if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0) fail(c->s, errno, "bind", path);
	close(fd);
	fd = open_in_root(c, path, MK_NONE);
	if (fd < 0 || set_attr(fd, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, 1) < 0)
		fail(c->s, errno, "make read-only", path);
	close(fd);
}

// do_device makes a device node in the new root: with mknod where the
// kernel allows it (no user namespace), else by binding the host's node,
// which a user namespace allows.
static void do_device(struct child *c, const struct step *st) {
	const char *host = str(st, 0), *path = str(st, 1);
	dev_t dev = (dev_t)num(st, 2);
	mode_t mode = (mode_t)num(st, 3);
	const char *slash = strrchr(path, '/');
	char dir[4096];
	size_t dl = slash ? (size_t)(slash - path) : 0;
	if (dl >= sizeof dir) fail(c->s, ENAMETOOLONG, "device", path);
	memcpy(dir, path, dl);
	dir[dl] = 0;
	int pfd = open_in_root(c, dir, MK_DIR);
	if (pfd < 0) fail(c->s, errno, "open", dir);
	const char *name = slash ? slash + 1 : path;
	if (mknodat(pfd, name, mode, dev) == 0) {
		// mknod honours the umask; the node's mode is the host's
		if (fchmodat(pfd, name, mode & 07777, 0) < 0) fail(c->s, errno, "chmod", path);
		close(pfd);
		return;
	}
	if (errno != EPERM) fail(c->s, errno, "mknod", path);
	close(pfd);
	struct step b;
	memset(&b, 0, sizeof b);
	static const uint64_t bindflags = MS_BIND, zero = 0, kind = MK_FILE;
	b.op = OP_MOUNT;
	b.argc = 8;
	b.arg[0] = host, b.len[0] = (uint32_t)strlen(host) + 1;
	b.arg[1] = path, b.len[1] = (uint32_t)strlen(path) + 1;
	b.arg[2] = "", b.len[2] = 1;
	b.arg[3] = (const char *)&bindflags, b.len[3] = 8;
	b.arg[4] = "", b.len[4] = 1;
	b.arg[5] = (const char *)&zero, b.len[5] = 8;
	b.arg[6] = (const char *)&zero, b.len[6] = 8;
	b.arg[7] = (const char *)&kind, b.len[7] = 8;
	do_mount(c, &b);
}

static void do_symlink(struct child *c, const struct step *st) {
	const char *target = str(st, 0), *link = str(st, 1);
	char dir[4096];
	size_t n = strlen(link);
	if (n >= sizeof dir) fail(c->s, ENAMETOOLONG, "symlink", link);
	memcpy(dir, link, n + 1);
	char *slash = strrchr(dir, '/');
	const char *name = link;
	if (slash) {
		*slash = 0;
		name = link + (slash - dir) + 1;
	} else {
		dir[0] = 0;
	}
	int pfd = open_in_root(c, dir, MK_DIR);
	if (pfd < 0) fail(c->s, errno, "open", dir);
	if (symlinkat(target, pfd, name) < 0 && errno != EEXIST) fail(c->s, errno, "symlink", link);
	close(pfd);
}

// base_pivot moves the host's root aside so that a new root can be built
// from nothing: a tmpfs becomes "/", and the host's tree stays reachable
// under /oldroot until the final pivot throws it away.
static void do_base_pivot(struct child *c, const struct step *st) {
	const char *dir = str(st, 0);
	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700,size=64k") < 0)
		fail(c->s, errno, "mount tmpfs on", dir);
	if (chdir(dir) < 0) fail(c->s, errno, "chdir", dir);
	// "empty" is the second lower layer a read-only overlay needs
	if (mkdir("oldroot", 0700) < 0 || mkdir("newroot", 0755) < 0 || mkdir("empty", 0500) < 0)
		fail(c->s, errno, "mkdir in", dir);
	if (syscall(SYS_pivot_root, ".", "oldroot") < 0) fail(c->s, errno, "pivot_root to", dir);
	if (chdir("/") < 0) fail(c->s, errno, "chdir", "/");
	c->procdir = "/oldroot/proc";
	c->hostdir = "/oldroot";
}

// overlay_new_api mounts an overlay with the new mount API, one
// "lowerdir+" per layer (Linux 6.8), so that the number of layers is not
// bounded by a page of mount data. opts are the other options,
// comma-separated: key=value strings and bare flags. -1 with errno set
// when the kernel cannot; then the caller falls back to mount(2).
static int overlay_new_api(const char *path, const char *lowers, size_t lowers_len, const char *opts) {
	int fs = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fs < 0) return -1;
	for (const char *l = lowers; l < lowers + lowers_len; l += strlen(l) + 1) {
		if (fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", l, 0) < 0) goto fail;
	}
	char kv[4096];
	for (const char *o = opts; *o;) {
		size_t n = 0;
		while (o[n] && o[n] != ',') n++;
		if (n >= sizeof kv) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		memcpy(kv, o, n);
		kv[n] = 0;
		char *eq = strchr(kv, '=');
		int r;
		if (eq) {
			*eq = 0;
			r = fsconfig(fs, FSCONFIG_SET_STRING, kv, eq + 1, 0);
		} else {
			r = fsconfig(fs, FSCONFIG_SET_FLAG, kv, NULL, 0);
		}
		if (r < 0) goto fail;
		o += n;
		if (*o == ',') o++;
	}
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) goto fail;
	int mnt = fsmount(fs, FSMOUNT_CLOEXEC, 0);
	if (mnt < 0) goto fail;
	close(fs);
	if (move_mount(mnt, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
		int e = errno;
		close(mnt);
		errno = e;
		return -1;
	}
	close(mnt);
	return 0;
fail:;
	int e = errno;
	close(fs);
	errno = e;
	return -1;
}

// overlay_root mounts an image's overlay on path: lowers, NUL-separated,
// top first, and opts. With scratch, the upper and work directories are
// made on a fresh tmpfs at scratch (a directory of the base root): they
// live in the sandbox's mount namespace only, and die with it.
static void overlay_root(struct child *c, const char *path, const char *lowers, size_t lowers_len, const char *opts,
			 const char *scratch) {
	if (scratch[0]) {
		char d[4096];
		size_t n;
		if (mkdir(scratch, 0700) < 0) fail(c->s, errno, "mkdir", scratch);
		if (mount("tmpfs", scratch, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
			fail(c->s, errno, "mount tmpfs on", scratch);
		n = cat(d, 0, sizeof d, scratch);
		cat(d, n, sizeof d, "/upper");
		if (mkdir(d, 0755) < 0) fail(c->s, errno, "mkdir", d);
		cat(d, n, sizeof d, "/work");
		if (mkdir(d, 0700) < 0) fail(c->s, errno, "mkdir", d);
	}
	if (overlay_new_api(path, lowers, lowers_len, opts) == 0) return;
	// an older kernel: all of it in one page of mount data,
	// lowerdir=TOP:...:BOTTOM,opts
	char data[4096];
	size_t n = cat(data, 0, sizeof data, "lowerdir=");
	size_t need = n + lowers_len + 1 + strlen(opts);
	if (need >= sizeof data)
		fail(c->s, E2BIG, "mount overlay root: too many layers for one page of mount data (Linux 6.8 takes more) on",
		     path);
	for (const char *l = lowers; l < lowers + lowers_len; l += strlen(l) + 1) {
		if (l != lowers) n = cat(data, n, sizeof data, ":");
		n = cat(data, n, sizeof data, l);
	}
	if (opts[0]) {
		n = cat(data, n, sizeof data, ",");
		cat(data, n, sizeof data, opts);
	}
	if (mount("overlay", path, "overlay", 0, data) < 0) fail(c->s, errno, "mount overlay root on", path);
}

static void do_root(struct child *c, const struct step *st) {
	const char *path = str(st, 0);
	switch ((int)num(st, 1)) {
	case ROOT_TMPFS:
		if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
			fail(c->s, errno, "mount tmpfs root on", path);
		break;
	case ROOT_OVERLAY:
		overlay_root(c, path, str(st, 2), st->argc > 2 ? st->len[2] : 0, str(st, 3), str(st, 4));
		break;
	default:
		if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) fail(c->s, errno, "bind root", path);
	}
	c->rootfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (c->rootfd < 0) fail(c->s, errno, "open root", path);
}

static void do_pivot(struct child *c) {
	if (c->null_fd >= 0) close(c->null_fd);
	c->null_fd = -1;
	if (fchdir(c->rootfd) < 0) fail(c->s, errno, "chdir", "new root");
	// pivot_root(".", ".") stacks the old root on top of the new one;
	// detaching it leaves the new root alone, with no path back
	if (syscall(SYS_pivot_root, ".", ".") < 0) fail(c->s, errno, "pivot_root", "");
	if (umount2(".", MNT_DETACH) < 0) fail(c->s, errno, "detach old root", "");
	if (chdir("/") < 0) fail(c->s, errno, "chdir", "/");
	close(c->rootfd);
	c->rootfd = -1;
	c->procdir = "/proc";
	c->hostdir = "";
}

static void do_root_readonly(struct child *c) {
	int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || set_attr(fd, MOUNT_ATTR_RDONLY, 0) < 0) fail(c->s, errno, "make / read-only", "");
	close(fd);
}

static void do_loopback(struct child *c) {
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) fail(c->s, errno, "socket", "");
	memset(&ifr, 0, sizeof ifr);
	memcpy(ifr.ifr_name, "lo", 3);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) fail(c->s, errno, "get flags of", "lo");
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) fail(c->s, errno, "bring up", "lo");
	close(fd);
}

static void do_write(struct child *c, const struct step *st) {
	const char *path = str(st, 0), *data = str(st, 1);
	int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) fail(c->s, errno, "open", path);
	// only procfs may be written this way (CVE-2025-52881: a write meant
	// for /proc must not land in a file a rootfs put there instead)
	struct statfs sf;
	if (fstatfs(fd, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC) fail(c->s, EXDEV, "not on procfs:", path);
	size_t n = strlen(data);
	if (write(fd, data, n) != (ssize_t)n) fail(c->s, errno, "write", path);
	close(fd);
}

static void do_setns(struct child *c, const struct step *st) {
	const char *path = str(st, 0);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) fail(c->s, errno, "open", path);
	if (setns(fd, (int)num(st, 1)) < 0) fail(c->s, errno, "setns", path);
	close(fd);
}

static void do_tty(struct child *c) {
	int sock = c->s->tty_sock;
	int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0) fail(c->s, errno, "open", "/dev/ptmx");
	int unlock = 0;
	if (ioctl(m, TIOCSPTLCK, &unlock) < 0) fail(c->s, errno, "unlock", "pty");
	int sl = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (sl < 0) fail(c->s, errno, "open", "pty peer");
	// hand the master to the parent, which copies between it and the user
	char one = 'm';
	struct iovec iov = {.iov_base = &one, .iov_len = 1};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg;
	memset(&msg, 0, sizeof msg);
	memset(&u, 0, sizeof u);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof u.buf;
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &m, sizeof(int));
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0) fail(c->s, errno, "send", "pty");
	close(m);
	close(sock);
	c->tty_slave = sl;
}

// cap_drop_bounding drops every capability up to the kernel's last one
// that keep does not name; dropping one already gone is not an error.
static int cap_drop_bounding(uint64_t keep, int last) {
	for (int cap = 0; cap <= last && cap < 64; cap++) {
		if (keep & (1ULL << cap)) continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) return -1;
	}
	return 0;
}

struct cap_header {
	uint32_t version;
	int pid;
};
struct cap_data {
	uint32_t effective, permitted, inheritable;
};

static int cap_set(uint64_t eff, uint64_t perm, uint64_t inh) {
	struct cap_header h = {0x20080522, 0}; // _LINUX_CAPABILITY_VERSION_3
	struct cap_data d[2] = {
	    {(uint32_t)eff, (uint32_t)perm, (uint32_t)inh},
	    {(uint32_t)(eff >> 32), (uint32_t)(perm >> 32), (uint32_t)(inh >> 32)},
	};
	return (int)syscall(SYS_capset, &h, d);
}

// do_user switches to the sandbox's user and capabilities, in the one
// order that works: the bounding set shrinks while CAP_SETPCAP is still
// held, ids change while KEEPCAPS preserves the permitted set, then the
// final sets are installed and ambient ones raised.
static void do_user(struct child *c, const struct step *st) {
	uint64_t uid = num(st, 0), gid = num(st, 1);
	const char *groups = str(st, 2);
	uint32_t ngroups = st->len[2] / 4;
	int have_caps = (int)num(st, 3);
	uint64_t bnd = num(st, 4), eff = num(st, 5), perm = num(st, 6), inh = num(st, 7), amb = num(st, 8);
	int set_groups = (int)num(st, 9);
	int last_cap = (int)num(st, 10);
	gid_t gl[NOOK_MAXGROUPS];

	if (have_caps && cap_drop_bounding(bnd, last_cap) < 0) fail(c->s, errno, "drop bounding capabilities", "");
	if (set_groups) {
		if (ngroups > NOOK_MAXGROUPS) ngroups = NOOK_MAXGROUPS;
		for (uint32_t i = 0; i < ngroups; i++) memcpy(&gl[i], groups + 4 * i, 4);
		if (syscall(SYS_setgroups, ngroups, gl) < 0) fail(c->s, errno, "setgroups", "");
	}
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) fail(c->s, errno, "keep capabilities", "");
	if (syscall(SYS_setresgid, gid, gid, gid) < 0) fail(c->s, errno, "setgid", "");
	if (syscall(SYS_setresuid, uid, uid, uid) < 0) fail(c->s, errno, "setuid", "");
	if (have_caps) {
		if (cap_set(eff, perm, inh) < 0) fail(c->s, errno, "set capabilities", "");
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
			fail(c->s, errno, "clear ambient capabilities", "");
		for (int cap = 0; cap < 64; cap++)
			if ((amb & (1ULL << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
				fail(c->s, errno, "raise ambient capability", "");
	}
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
}

struct sock_fprog_ {
	unsigned short len;
	const void *filter;
};

static void do_seccomp(struct child *c, const struct step *st) {
	struct sock_fprog_ prog = {(unsigned short)(st->len[0] / 8), st->arg[0]};
	unsigned long flags = (unsigned long)num(st, 1);
	if (syscall(SYS_seccomp, 1 /* SECCOMP_SET_MODE_FILTER */, flags, &prog) < 0)
		fail(c->s, errno, "load seccomp filter", "");
}

// --- exec --------------------------------------------------------------------

static const char *getenv_in(struct child *c, const char *key) {
	size_t n = strlen(key);
	for (int i = 0; i < c->envc; i++)
		if (!strncmp(c->envp[i], key, n) && c->envp[i][n] == '=') return c->envp[i] + n + 1;
	return NULL;
}

// exec_cmd runs argv[0] found through the sandbox's own PATH (not nook's:
// the two roots differ), as a shell would; the error names the program.
static void __attribute__((noreturn)) exec_cmd(struct child *c) {
	const char *file = c->argv[0];
	int err = ENOENT;
	if (strchr(file, '/')) {
		execve(file, (char *const *)c->argv, (char *const *)c->envp);
		err = errno;
	} else {
		const char *path = getenv_in(c, "PATH");
		if (!path) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
		int eacces = 0;
		while (*path) {
			char buf[4096];
			const char *e = strchr(path, ':');
			size_t dl = e ? (size_t)(e - path) : strlen(path);
			size_t fl = strlen(file);
			if (dl + fl + 2 < sizeof buf) {
				memcpy(buf, path, dl);
				if (!dl) buf[dl++] = '.';
				buf[dl] = '/';
				memcpy(buf + dl + 1, file, fl + 1);
				execve(buf, (char *const *)c->argv, (char *const *)c->envp);
				if (errno == EACCES) eacces = 1;
				else if (errno != ENOENT && errno != ENOTDIR) {
					err = errno;
					break;
				}
			}
			if (!e) break;
			path = e + 1;
		}
		if (eacces && err == ENOENT) err = EACCES;
	}
	fail3(c->s, err == ENOENT ? 127 : 126, err, "exec \"", file, "\"");
}

static void prepare_exec(struct child *c, int tty) {
	if (tty) {
		if (setsid() < 0 && errno != EPERM) fail(c->s, errno, "setsid", "");
		if (ioctl(c->tty_slave, TIOCSCTTY, 0) < 0) fail(c->s, errno, "set controlling terminal", "");
		for (int i = 0; i < 3; i++)
			if (dup2(c->tty_slave, i) < 0) fail(c->s, errno, "dup2", "pty");
		if (c->tty_slave > 2) close(c->tty_slave);
	} else {
		setsid();
	}
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static int forward[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGTSTP, 0};

// run_init is PID 1: it starts the command, passes on the signals a
// supervisor sends, reaps every process orphaned into it, and leaves with
// the command. The command's raw wait status goes to the parent through
// status_fd, because PID 1 cannot die of a signal to say "killed by N".
static int cmd_main(void *arg) {
	struct child *c = arg;
	prepare_exec(c, c->tty_slave >= 0);
	exec_cmd(c);
}

static void __attribute__((noreturn)) run_init(struct child *c) {
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	// The command shares init's memory until its exec, as posix_spawn
	// does it: copying init's address space (itself a copy of the Go
	// process's) would cost more than the rest of the start. Init waits,
	// suspended, so the command is alone on the shared memory and TLS.
	// glibc's clone() is a plain wrapper, unlike fork(), which takes
	// locks (see the file comment).
	static const size_t stack_size = 64 * 1024;
	char stack[stack_size] __attribute__((aligned(16)));
	pid_t cmd = clone(cmd_main, stack + stack_size, CLONE_VM | CLONE_VFORK | SIGCHLD, c);
	if (cmd < 0) fail(c->s, errno, "start command", "");
	// from here on only the command reports errors
	close(c->s->err_fd);
	if (c->tty_slave >= 0) close(c->tty_slave);
	prctl(PR_SET_NAME, "nook-init", 0, 0, 0);
	// orphans are ours to reap even where the pid namespace is the
	// host's, in which we are not its init
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	sigset_t wanted;
	sigemptyset(&wanted);
	sigaddset(&wanted, SIGCHLD);
	for (int i = 0; forward[i]; i++) sigaddset(&wanted, forward[i]);
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&wanted, &si);
		if (sig < 0) continue;
		if (sig != SIGCHLD) {
			kill(cmd, sig);
			continue;
		}
		for (;;) {
			int st;
			pid_t p = waitpid(-1, &st, WNOHANG);
			if (p <= 0) break;
			if (p == cmd) {
				int32_t raw = st;
				if (c->status_fd >= 0) {
					ssize_t w = write(c->status_fd, &raw, 4);
					(void)w;
				}
				_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
			}
		}
	}
}

static void do_exec(struct child *c, const struct step *st) {
	int init = (int)num(st, 0);
	c->status_fd = c->s->status_fd;
	// nothing but stdio, the fds the caller passed on, and our own
	// close-on-exec pipes reaches the command
	syscall(SYS_close_range, (unsigned)c->s->nfds, ~0U, CLOSE_RANGE_CLOEXEC);
	if (!init) {
		prepare_exec(c, c->tty_slave >= 0);
		exec_cmd(c);
	}
	run_init(c);
}

// --- fds ---------------------------------------------------------------------

// setup_fds gives the child exactly fds 0..nfds-1 as the caller mapped them,
// plus the spawn's own pipes moved above them, and closes everything else
// inherited from the Go process.
static void setup_fds(struct nook_spawn *s) {
	int hi = s->nfds > 3 ? s->nfds : 3;
	if (hi < 10) hi = 10;
	int *own[] = {&s->sync_fd, &s->err_fd, &s->tty_sock, &s->status_fd, &s->wait_fd, NULL};
	for (int i = 0; own[i]; i++) {
		if (*own[i] < 0) continue;
		int n = fcntl(*own[i], F_DUPFD_CLOEXEC, hi);
		if (n < 0) _exit(NOOK_EXIT_SETUP);
		*own[i] = n;
	}
	// the mapped fds might refer to numbers we are about to overwrite, so
	// move every source above the target range first
	int src[NOOK_MAXFDS];
	for (int i = 0; i < s->nfds && i < NOOK_MAXFDS; i++) {
		src[i] = s->fds[i] < 0 ? -1 : fcntl(s->fds[i], F_DUPFD_CLOEXEC, hi);
	}
	for (int i = 0; i < s->nfds && i < NOOK_MAXFDS; i++) {
		if (src[i] < 0) {
			close(i);
			continue;
		}
		if (dup2(src[i], i) < 0) _exit(NOOK_EXIT_SETUP);
	}
	for (int i = 0; i < s->nfds && i < NOOK_MAXFDS; i++)
		if (src[i] >= 0) close(src[i]);
	// close what is left between the mapped fds and our own
	int keep[8], nk = 0;
	for (int i = 0; own[i]; i++)
		if (*own[i] >= 0) keep[nk++] = *own[i];
	for (int i = 0; i < nk; i++)
		for (int j = i + 1; j < nk; j++)
			if (keep[j] < keep[i]) {
				int t = keep[i];
				keep[i] = keep[j];
				keep[j] = t;
			}
	unsigned lo = (unsigned)s->nfds;
	for (int i = 0; i < nk; i++) {
		if ((unsigned)keep[i] > lo) syscall(SYS_close_range, lo, (unsigned)keep[i] - 1, 0);
		lo = (unsigned)keep[i] + 1;
	}
	syscall(SYS_close_range, lo, ~0U, 0);
}

static void __attribute__((noreturn)) child_main(struct nook_spawn *s) {
	struct child c;
	struct sigaction dfl;
	memset(&c, 0, sizeof c);
	c.s = s;
	c.rootfd = -1;
	c.procdir = "/proc";
	c.hostdir = "";
	c.status_fd = -1;
	c.tty_slave = -1;
	c.null_fd = -1;

	// the Go runtime's handlers are meaningless here: back to defaults,
	// still blocked (the parent blocked everything around clone)
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	for (int i = 1; i < 65; i++) sigaction(i, &dfl, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) _exit(NOOK_EXIT_SETUP);
	setup_fds(s);

	// wait for the parent: maps written, cgroups joined. EOF means the
	// parent is gone or gave up, and so do we.
	char go;
	if (read(s->sync_fd, &go, 1) != 1) _exit(NOOK_EXIT_SETUP);
	close(s->sync_fd);
	// now that the parent has written our ID maps (which needs our
	// /proc files to be the caller's), not dumpable: the sandbox cannot ptrace its init or open
	// /proc/1/exe, which is the nook binary. Writes to that binary are
	// refused anyway (ETXTBSY) for as long as nook runs, and nook and its
	// janitor outlive every process of the sandbox (CVE-2019-5736). The
	// command's exec makes it dumpable again, as usual.
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

	size_t off = 0;
	struct step st;
	int r;
	while ((r = decode(s->ops, s->ops_len, &off, &st)) > 0) {
		switch (st.op) {
		case OP_SETSID:
			setsid();
			break;
		case OP_UNSHARE:
			if (unshare((int)num(&st, 0)) < 0) fail(s, errno, "unshare", "");
			break;
		case OP_SETNS:
			do_setns(&c, &st);
			break;
		case OP_WRITE:
			do_write(&c, &st);
			break;
		case OP_HOSTNAME:
			if (sethostname(str(&st, 0), strlen(str(&st, 0))) < 0) fail(s, errno, "sethostname", str(&st, 0));
			break;
		case OP_DOMAINNAME:
			if (setdomainname(str(&st, 0), strlen(str(&st, 0))) < 0) fail(s, errno, "setdomainname", str(&st, 0));
			break;
		case OP_LOOPBACK:
			do_loopback(&c);
			break;
		case OP_PROPAGATION:
			if (mount(NULL, "/", NULL, (unsigned long)num(&st, 0), NULL) < 0) fail(s, errno, "set propagation of", "/");
			break;
		case OP_BASE_PIVOT:
			do_base_pivot(&c, &st);
			break;
		case OP_ROOT:
			do_root(&c, &st);
			break;
		case OP_MOUNT:
			do_mount(&c, &st);
			break;
		case OP_SYMLINK:
			do_symlink(&c, &st);
			break;
		case OP_DEVICE:
			do_device(&c, &st);
			break;
		case OP_MASK:
			do_mask(&c, &st);
			break;
		case OP_READONLY:
			do_readonly(&c, &st);
			break;
		case OP_TTY:
			do_tty(&c);
			break;
		case OP_PIVOT:
			do_pivot(&c);
			break;
		case OP_ROOT_READONLY:
			do_root_readonly(&c);
			break;
		case OP_CHDIR:
			if (chdir(str(&st, 0)) < 0) fail(s, errno, "chdir", str(&st, 0));
			break;
		case OP_RLIMIT: {
			struct rlimit rl = {(rlim_t)num(&st, 1), (rlim_t)num(&st, 2)};
			if (setrlimit((int)num(&st, 0), &rl) < 0) fail(s, errno, "setrlimit", str(&st, 3));
			break;
		}
		case OP_USER:
			do_user(&c, &st);
			break;
		case OP_NO_NEW_PRIVS:
			if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail(s, errno, "set no_new_privs", "");
			break;
		case OP_SECCOMP:
			do_seccomp(&c, &st);
			break;
		case OP_ARG:
			if (c.argc < NOOK_MAXARGV) c.argv[c.argc++] = str(&st, 0);
			break;
		case OP_ENV:
			if (c.envc < NOOK_MAXARGV) c.envp[c.envc++] = str(&st, 0);
			break;
		case OP_WAIT_FD: {
			// block until the fd is readable or closed: the OCI "start"
			char b;
			ssize_t n = read(s->wait_fd, &b, 1);
			(void)n;
			close(s->wait_fd);
			break;
		}
		case OP_EXEC:
			do_exec(&c, &st);
			break;
		default:
			fail(s, EINVAL, "unknown spawn step", "");
		}
	}
	fail(s, EINVAL, r < 0 ? "malformed spawn plan" : "spawn plan has no exec step", "");
}

// --- janitor -----------------------------------------------------------------

// The janitor shares the Go process's memory (CLONE_VM: nothing is
// copied) and runs beside it for as long as the sandbox lives, so it must
// not touch anything the Go side uses: it runs on its own stack, reads
// only its own block (struct janitor, freed by Go after reaping it), and
// makes its system calls directly, because glibc's wrappers write errno
// into the thread-local storage it shares with a Go thread.
static long rsys(long n, long a, long b, long c, long d, long e) {
#if defined(__x86_64__)
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return ret;
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	__asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4) : "memory");
	return x0;
#else
#error "nook's janitor needs raw system calls for this architecture"
#endif
}

// kernel_sigaction is the kernel's struct for rt_sigaction; SIG_IGN
// needs no restorer.
struct kernel_sigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

struct janitor {
	int lifeline;
	int pidfd;
	const unsigned char *jops;
	unsigned long jops_len;
};

// jcat joins a directory and a file name into buf, raw-syscall style.
static int jcat(char *buf, size_t cap, const char *dir, const char *file) {
	size_t n = 0;
	for (const char *p = dir; *p; p++)
		if (n + 1 < cap) buf[n++] = *p;
	if (n + 1 < cap) buf[n++] = '/';
	for (const char *p = file; *p; p++)
		if (n + 1 < cap) buf[n++] = *p;
	buf[n] = 0;
	return n + 1 < cap;
}

// janitor_kill kills every process left in the cgroup at dir. Killing
// the sandbox's PID 1 takes its pid namespace with it, but a sandbox that
// shares the host's pid namespace has no such end: its processes are
// found by their cgroup instead. cgroup.kill does it in one write (v2);
// on v1 the pids are read and killed until none is left.
static void janitor_kill(const char *dir) {
	char path[4096], buf[4096];
	if (!jcat(path, sizeof path, dir, "cgroup.kill")) return;
	long fd = rsys(SYS_openat, AT_FDCWD, (long)path, O_WRONLY | O_CLOEXEC, 0, 0);
	if (fd >= 0) {
		long w = rsys(SYS_write, fd, (long)"1", 1, 0, 0);
		rsys(SYS_close, fd, 0, 0, 0, 0);
		if (w == 1) return;
	}
	if (!jcat(path, sizeof path, dir, "cgroup.procs")) return;
	for (int round = 0; round < 200; round++) {
		fd = rsys(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC, 0, 0);
		if (fd < 0) return;
		int found = 0;
		long pid = 0, n;
		while ((n = rsys(SYS_read, fd, (long)buf, sizeof buf, 0, 0)) > 0) {
			for (long i = 0; i < n; i++) {
				if (buf[i] >= '0' && buf[i] <= '9') {
					pid = pid * 10 + (buf[i] - '0');
				} else if (pid > 0) {
					rsys(SYS_kill, pid, SIGKILL, 0, 0, 0);
					found = 1;
					pid = 0;
				}
			}
		}
		if (pid > 0) rsys(SYS_kill, pid, SIGKILL, 0, 0, 0), found = 1;
		rsys(SYS_close, fd, 0, 0, 0, 0);
		if (!found) return;
		struct timespec ts = {0, 10 * 1000 * 1000};
		rsys(SYS_nanosleep, (long)&ts, 0, 0, 0, 0);
	}
}

// janitor_main waits for nook to close the lifeline; then it makes sure
// the sandbox is dead and removes what the sandbox leaves on the host
// (cgroups, state files), which nothing inside the sandbox can reach. It
// outlives nook if it has to. One process does this on every exit path,
// the normal one included, so there is only one way to clean up.
static int janitor_main(void *arg) {
	struct janitor *j = arg;
	struct kernel_sigaction ign = {(void *)1 /* SIG_IGN */, 0, 0, 0};
	for (long i = 1; i < 65; i++)
		if (i != SIGKILL && i != SIGSTOP && i != SIGCHLD) rsys(SYS_rt_sigaction, i, (long)&ign, 0, 8, 0);
	uint64_t none = 0;
	rsys(SYS_rt_sigprocmask, SIG_SETMASK, (long)&none, 0, 8, 0);
	// keep only the lifeline and the sandbox's pidfd: nothing of nook's
	// stays open because of us
	int lf = j->lifeline, pf = j->pidfd;
	int lo = lf < pf ? lf : pf, hi = lf < pf ? pf : lf;
	if (lo > 0) rsys(SYS_close_range, 0, lo - 1, 0, 0, 0);
	if (hi > lo + 1) rsys(SYS_close_range, lo + 1, hi - 1, 0, 0, 0);
	rsys(SYS_close_range, hi + 1, ~0U, 0, 0, 0);
	rsys(SYS_setsid, 0, 0, 0, 0, 0);
	rsys(SYS_prctl, PR_SET_NAME, (long)"nook-janitor", 0, 0, 0);

	char buf[64];
	for (;;) {
		long r = rsys(SYS_read, lf, (long)buf, sizeof buf, 0, 0);
		if (r <= 0 && r != -EINTR) break;
	}
	// nook is done or dead; so is the sandbox, now. Its PID 1 takes the
	// rest of its pid namespace with it.
	rsys(SYS_pidfd_send_signal, pf, SIGKILL, 0, 0, 0);
	struct pollfd p = {.fd = pf, .events = POLLIN};
	rsys(SYS_poll, (long)&p, 1, 5000, 0, 0);

	size_t off = 0;
	struct step st;
	while (decode(j->jops, j->jops_len, &off, &st) > 0) {
		const char *path = str(&st, 0);
		switch (st.op) {
		case JOP_KILL:
			janitor_kill(path);
			break;
		case JOP_RMDIR:
			// a cgroup stays busy for a moment after its last task
			// exits, and until then some process of the sandbox may
			// live on; wait up to ten seconds
			for (int i = 0; i < 1000; i++) {
				long r = rsys(SYS_rmdir, (long)path, 0, 0, 0, 0);
				if (r == 0 || r != -EBUSY) break;
				struct timespec ts = {0, 10 * 1000 * 1000};
				rsys(SYS_nanosleep, (long)&ts, 0, 0, 0, 0);
			}
			break;
		case JOP_UNLINK:
			rsys(SYS_unlink, (long)path, 0, 0, 0, 0);
			break;
		case JOP_UMOUNT:
			rsys(SYS_umount2, (long)path, MNT_DETACH, 0, 0, 0);
			break;
		}
	}
	rsys(SYS_exit_group, 0, 0, 0, 0, 0);
	return 0;
}

// --- parent ------------------------------------------------------------------

struct clone_args_ {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

static long clone3_(uint64_t flags, int *pidfd, int cgroup) {
	struct clone_args_ a;
	memset(&a, 0, sizeof a);
	a.flags = flags | CLONE_PIDFD;
	a.pidfd = (uint64_t)(uintptr_t)pidfd;
	a.exit_signal = SIGCHLD;
	if (cgroup >= 0) {
		a.flags |= CLONE_INTO_CGROUP;
		a.cgroup = (uint64_t)cgroup;
	}
	return syscall(SYS_clone3, &a, sizeof a);
}

// --- a child that shares the Go process's memory --------------------------------
//
// Copying the Go process's address space for the child costs more than
// everything else the child does (page tables, then a copy-on-write fault
// for every page the parent touches afterwards). With CLONE_VM nothing is
// copied, as posix_spawn does it; the difference is that the parent does
// not wait: it writes ID maps and joins cgroups while the child runs.
//
// So the child must not share anything the Go side uses. Its stack and
// everything it reads are C memory that Go frees only after reaping it.
// Its thread-local storage is its own (CLONE_SETTLS): glibc's wrappers
// write errno and cancellation state there, and sharing a Go thread's
// would let the two overwrite each other. The block is built as glibc's
// x86-64 layout wants it (TLS variant II): the executable's TLS image
// below the thread pointer, and a thread control block above it whose
// "self" pointers point at itself. Other architectures, and plans the
// kernel refuses to a process that shares its memory (setns into a user
// or time namespace, unshare of a time namespace), copy instead.

#if defined(__x86_64__)
// tls_block lays out a thread control block in block (size bytes, zeroed)
// and returns its thread pointer, or NULL if the TLS the child touches
// would not fit. The child touches only errno and the cancellation state
// in glibc's thread control block, and the stack guard; all are zero or
// copied here. errno lies the furthest below the thread pointer (the
// executable's and libc's TLS blocks are both there), so its offset in
// this thread tells how much room is needed, statically linked or not.
static void *tls_block(char *block, size_t size) {
	uintptr_t cur, guard, pguard;
	__asm__("mov %%fs:0, %0" : "=r"(cur));
	__asm__("mov %%fs:0x28, %0" : "=r"(guard));
	__asm__("mov %%fs:0x30, %0" : "=r"(pguard));
	uintptr_t err = (uintptr_t)__errno_location();
	const size_t above = 8192; // glibc's struct pthread is about 2.3 KiB
	if (err >= cur || cur - err + 512 + above + 64 > size) return NULL;
	uintptr_t tp = ((uintptr_t)block + size - above) & ~(uintptr_t)63;
	if (tp - (cur - err) < (uintptr_t)block + 256) return NULL;
	void **tcb = (void **)tp;
	tcb[0] = (void *)tp; // header.tcb
	tcb[2] = (void *)tp; // header.self
	memcpy((char *)tp + 0x28, &guard, sizeof guard);  // header.stack_guard
	memcpy((char *)tp + 0x30, &pguard, sizeof pguard); // header.pointer_guard
	return (void *)tp;
}

static int child_entry(void *arg) {
	child_main(arg);
	return 0;
}

static long clone_vm(struct nook_spawn *s, int *pidfd) {
	char *block = s->child_block;
	size_t tls_size = 64 * 1024;
	if (!block || s->child_block_size < tls_size + 128 * 1024) {
		errno = ENOSPC;
		return -1;
	}
	void *tp = tls_block(block, tls_size);
	if (!tp) {
		errno = ENOSPC;
		return -1;
	}
	char *top = (char *)(((uintptr_t)block + s->child_block_size) & ~(uintptr_t)15);
	return clone(child_entry, top, (int)s->clone_flags | CLONE_VM | CLONE_SETTLS | CLONE_PIDFD | SIGCHLD, s,
		     pidfd, tp, NULL);
}
#else
static long clone_vm(struct nook_spawn *s, int *pidfd) {
	(void)s, (void)pidfd;
	errno = ENOSYS;
	return -1;
}
#endif

int nook_spawn(struct nook_spawn *s) {
	sigset_t all, old;
	int pidfd = -1;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	long pid = -1;
	if (s->share_memory && (s->clone_flags >> 32) == 0 && s->cgroup_fd < 0) pid = clone_vm(s, &pidfd);
	if (pid < 0) {
		s->share_memory = 0;
		pid = clone3_(s->clone_flags, &pidfd, s->cgroup_fd);
		if (pid == 0) child_main(s);
	}
	if (pid < 0) {
		int e = errno;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return -e;
	}
	s->pid = (int)pid;
	s->pidfd = pidfd;
	s->janitor_pid = 0;
	if (s->janitor_block) {
		// the block is [struct janitor | stack], allocated by the Go
		// side, which frees it only after reaping the janitor
		struct janitor *j = s->janitor_block;
		j->lifeline = s->lifeline_fd;
		j->pidfd = pidfd;
		j->jops = s->jops;
		j->jops_len = s->jops_len;
		char *top = (char *)s->janitor_block + s->janitor_block_size;
		top = (char *)((uintptr_t)top & ~(uintptr_t)15);
		long jp = clone(janitor_main, top, CLONE_VM | SIGCHLD, j);
		if (jp < 0) {
			int e = errno;
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			return -e;
		}
		s->janitor_pid = (int)jp;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return 0;
}

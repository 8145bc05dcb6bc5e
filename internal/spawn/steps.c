//go:build ignore

// steps.c: the child, from clone to its last step. nook_child_main resets
// what it inherited from the Go process (signal handlers, fds), waits for
// the parent's go-ahead, then interprets the plan (plan.go) one record at
// a time, one function per step, and ends in nook_exec (init.c). It knows
// nothing about OCI specs: everything was decided in Go.
//
// It runs in a single-threaded copy of a multithreaded process, or beside
// it sharing its memory (child.go): so no libc (sys.h has the little it
// needs), no malloc, no stdio, no locks, no Go, and no memory but its block
// (stack, thread control block, arguments) and the plan, which it only
// reads. Only system calls and stack buffers. Every error names its operation and its
// paths (nook_fail), and ends the child before the command exists.
#include "child.h"

// The fixed size of each op's record: the interpreter refuses a shorter
// record, and the Go side's layout test compares these with its own.
const uint32_t nook_step_size[NOOK_OP_MAX] = {
	[NOOK_OP_SETSID] = 0,
	[NOOK_OP_UNSHARE] = sizeof(struct nook_unshare),
	[NOOK_OP_SETNS] = sizeof(struct nook_setns),
	[NOOK_OP_SETNS_PIDFD] = sizeof(struct nook_setns_pidfd),
	[NOOK_OP_WRITE] = sizeof(struct nook_write),
	[NOOK_OP_HOSTNAME] = sizeof(struct nook_name),
	[NOOK_OP_DOMAINNAME] = sizeof(struct nook_name),
	[NOOK_OP_LOOPBACK] = 0,
	[NOOK_OP_PROPAGATION] = sizeof(struct nook_propagation),
	[NOOK_OP_BASE_PIVOT] = sizeof(struct nook_path),
	[NOOK_OP_ROOT] = sizeof(struct nook_root),
	[NOOK_OP_MOUNT] = sizeof(struct nook_mount),
	[NOOK_OP_SYMLINK] = sizeof(struct nook_symlink),
	[NOOK_OP_MASK] = sizeof(struct nook_path),
	[NOOK_OP_READONLY] = sizeof(struct nook_path),
	[NOOK_OP_TTY] = sizeof(struct nook_tty),
	[NOOK_OP_PIVOT] = 0,
	[NOOK_OP_ROOT_READONLY] = 0,
	[NOOK_OP_CHDIR] = sizeof(struct nook_path),
	[NOOK_OP_CHROOT] = sizeof(struct nook_path),
	[NOOK_OP_RLIMIT] = sizeof(struct nook_rlimit),
	[NOOK_OP_USER] = sizeof(struct nook_user),
	[NOOK_OP_NO_NEW_PRIVS] = 0,
	[NOOK_OP_SECCOMP] = sizeof(struct nook_seccomp),
	[NOOK_OP_ARG] = sizeof(struct nook_path),
	[NOOK_OP_ENV] = sizeof(struct nook_path),
	[NOOK_OP_EXEC] = sizeof(struct nook_exec),
	[NOOK_OP_DEVICE] = sizeof(struct nook_device),
	[NOOK_OP_OVERLAY_ROOT] = sizeof(struct nook_overlay_root),
	[NOOK_OP_NO_PIVOT] = 0,
	[NOOK_OP_DETACH] = sizeof(struct nook_path),
	[NOOK_OP_HOOK] = sizeof(struct nook_hook),
	[NOOK_OP_ROOT_NODEV] = 0,
};

// --- error reporting --------------------------------------------------------

static size_t cat(char *dst, size_t at, size_t cap, const char *s) {
	while (*s && at + 1 < cap) dst[at++] = *s++;
	dst[at] = 0;
	return at;
}

void nook_fail(const struct nook_spawn *s, int code, int err, const char *const *parts) {
	struct {
		struct nook_error h;
		char msg[1024];
	} rec;
	size_t n = 0;
	rec.msg[0] = 0;
	for (int i = 0; parts[i]; i++) {
		if (!parts[i][0]) continue;
		if (n) n = cat(rec.msg, n, sizeof rec.msg, " ");
		n = cat(rec.msg, n, sizeof rec.msg, parts[i]);
	}
	rec.h.err = err;
	rec.h.exit = (uint32_t)code;
	rec.h.len = (uint32_t)n;
	rec.h.pad = 0;
	if (s->err_fd >= 0) {
		ssize_t w = write(s->err_fd, &rec, sizeof rec.h + n);
		(void)w;
	} else {
		// held (create, then start): nobody reads the error pipe any
		// more; the container's stderr is all there is
		char line[1200];
		size_t m = cat(line, 0, sizeof line, "nook: ");
		m = cat(line, m, sizeof line, rec.msg);
		m = cat(line, m, sizeof line, "\n");
		ssize_t w = write(2, line, m);
		(void)w;
	}
	_exit(code);
}

// --- reading records ---------------------------------------------------------

// str_of (S) returns the string x of the record being run; a string not in
// its record is a bug in plan.go, reported like any other error.
static const char *str_of(struct child *c, const struct rec *r, struct nook_ref x) {
	const char *p = nook_str(r, x);
	if (!p) FAIL(c, EINVAL, "malformed spawn plan: a string outside its step");
	return p;
}
#define S(x) str_of(c, r, (x))

// host_path is a host path as the user wrote it: without the prefix under
// which the child reaches the host's root while it builds a new one.
static const char *host_path(struct child *c, const char *p) {
	size_t n = strlen(c->hostdir);
	if (n && !strncmp(p, c->hostdir, n) && (p[n] == '/' || !p[n])) return p[n] ? p + n : "/";
	return p;
}

// --- paths inside the new root -----------------------------------------------

static int openat2_in_root(int rootfd, const char *path, int flags) {
	struct open_how how;
	memset(&how, 0, sizeof how);
	how.flags = (uint64_t)flags | O_CLOEXEC;
	how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
	while (*path == '/') path++;
	if (!*path) path = ".";
	// EAGAIN: a ".." was resolved while a mount or rename happened
	// anywhere on the machine, and the kernel could not tell that it
	// stayed inside the root; it asks to try again (openat2(2)). Another
	// sandbox starting at the same moment is enough, so a few retries
	// are expected; a hundred means something keeps racing the walk.
	for (int i = 0;; i++) {
		int fd = openat2(rootfd, path, &how, sizeof how);
		if (fd >= 0 || errno != EAGAIN || i == 100) return fd;
	}
}

// open_in_root opens path inside the root as an O_PATH fd, creating what is
// missing on the way: directories, and the last element as a directory or an
// empty file (kind). Every component is resolved by the kernel as if rootfd
// were "/", so a symlink or ".." in a rootfs cannot lead outside it.
enum { MK_NONE = 0, MK_DIR = NOOK_MOUNT_POINT_DIR, MK_FILE = NOOK_MOUNT_POINT_FILE };

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

// mount_in_root mounts (or binds) source onto target inside the new root.
static void mount_in_root(struct child *c, const char *src, const char *dst, const char *fstype,
			  unsigned long flags, const char *data, uint64_t attr, uint64_t prop, int kind) {
	char p[64];
	int bind = (flags & MS_BIND) != 0;
	const char *shown = bind ? host_path(c, src) : src;

	if (bind && kind == MK_NONE) {
		struct stat sb;
		if (stat(src, &sb) < 0) FAIL(c, errno, "stat bind source", shown);
		kind = S_ISDIR(sb.st_mode) ? MK_DIR : MK_FILE;
	}
	int fd = open_in_root(c, dst, kind ? kind : MK_DIR);
	if (fd < 0) FAIL(c, errno, "open mount point", dst);
	if (!bind && (!strcmp(fstype, "proc") || !strcmp(fstype, "sysfs"))) {
		// procfs and sysfs only onto a real directory that is not itself
		// on procfs or sysfs (the CVE-2019-16884 family)
		struct stat sb;
		struct statfs sf;
		if (fstat(fd, &sb) < 0 || fstatfs(fd, &sf) < 0) FAIL(c, errno, "stat mount point", dst);
		if (!S_ISDIR(sb.st_mode) || sf.f_type == PROC_SUPER_MAGIC || sf.f_type == SYSFS_MAGIC)
			FAIL(c, ENOTDIR, "mount", fstype, "on", dst, "(not a plain directory)");
	}
	fdpath(p, sizeof p, c->procdir, fd);
	if (bind) {
		if (mount(src, p, NULL, MS_BIND | (flags & MS_REC), NULL) < 0) FAIL(c, errno, "bind", shown, "on", dst);
	} else if (mount(src, p, fstype, flags, data) < 0) {
		int e = errno;
		if (!strcmp(fstype, "sysfs") && (e == EPERM || e == EACCES)) {
			// sysfs needs a net namespace of our own user namespace;
			// where there is none, the host's /sys read-only will do
			char hs[4096];
			cat(hs, cat(hs, 0, sizeof hs, c->hostdir), sizeof hs, "/sys");
			if (mount(hs, p, NULL, MS_BIND | MS_REC, NULL) < 0) FAIL(c, errno, "bind /sys on", dst);
			attr |= MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
			bind = 1;
			flags |= MS_REC;
		} else if (strcmp(src, fstype)) {
			FAIL(c, e, "mount", fstype, src, "on", dst);
		} else {
			FAIL(c, e, "mount", src, "on", dst);
		}
	}
	close(fd);
	if (attr || prop) {
		// reopen: the fd above names the mount point underneath, not the
		// new mount on top of it
		fd = open_in_root(c, dst, MK_NONE);
		if (fd < 0) FAIL(c, errno, "reopen mount point", dst);
		if (set_attr(fd, attr, bind && (flags & MS_REC)) < 0) FAIL(c, errno, "set mount attributes on", dst);
		if (prop) {
			fdpath(p, sizeof p, c->procdir, fd);
			if (mount(NULL, p, NULL, (unsigned long)prop, NULL) < 0) FAIL(c, errno, "set propagation of", dst);
		}
		close(fd);
	}
}

static void do_mount(struct child *c, const struct rec *r) {
	const struct nook_mount *m = nook_fixed(r);
	mount_in_root(c, S(m->source), S(m->target), S(m->fstype), (unsigned long)m->flags, S(m->data), m->attr,
		      m->propagation, (int)m->point);
}

// mask hides path: /dev/null over a file, an empty read-only tmpfs over a
// directory. A missing path needs no hiding.
static void do_mask(struct child *c, const struct rec *r) {
	const char *path = S(((const struct nook_path *)nook_fixed(r))->path);
	char p[64], nul[4096];
	struct stat sb, nb;
	int fd = open_in_root(c, path, MK_NONE);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR) return;
		FAIL(c, errno, "open masked path", path);
	}
	if (fstat(fd, &sb) < 0) FAIL(c, errno, "stat masked path", path);
	fdpath(p, sizeof p, c->procdir, fd);
	if (S_ISDIR(sb.st_mode)) {
		if (mount("tmpfs", p, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=0500") < 0)
			FAIL(c, errno, "mask", path, "with a tmpfs");
	} else {
		// the source must really be the null device: a /dev/null that
		// is a symlink or another file would expose what it points to
		// (CVE-2025-31133)
		if (c->null_fd < 0) {
			cat(nul, cat(nul, 0, sizeof nul, c->hostdir), sizeof nul, "/dev/null");
			c->null_fd = open(nul, O_PATH | O_NOFOLLOW | O_CLOEXEC);
			if (c->null_fd < 0 || fstat(c->null_fd, &nb) < 0) FAIL(c, errno, "open /dev/null");
			if (!S_ISCHR(nb.st_mode) || major(nb.st_rdev) != 1 || minor(nb.st_rdev) != 3)
				FAIL(c, EPERM, "/dev/null is not the null device:", nul);
		}
		char np[64];
		fdpath(np, sizeof np, c->procdir, c->null_fd);
		if (mount(np, p, NULL, MS_BIND, NULL) < 0) FAIL(c, errno, "bind /dev/null on", path);
	}
	close(fd);
}

static void do_readonly(struct child *c, const struct rec *r) {
	const char *path = S(((const struct nook_path *)nook_fixed(r))->path);
	char p[64];
	int fd = open_in_root(c, path, MK_NONE);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR) return;
		FAIL(c, errno, "open read-only path", path);
	}
	fdpath(p, sizeof p, c->procdir, fd);
	if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0) FAIL(c, errno, "bind", path, "on", path);
	close(fd);
	fd = open_in_root(c, path, MK_NONE);
	if (fd < 0 || set_attr(fd, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, 1) < 0)
		FAIL(c, errno, "make read-only", path);
	close(fd);
}

// split_parent copies path's directory into dir and returns its last
// element.
static const char *split_parent(struct child *c, const char *path, char *dir, size_t cap) {
	const char *slash = strrchr(path, '/');
	size_t dl = slash ? (size_t)(slash - path) : 0;
	if (dl >= cap) FAIL(c, ENAMETOOLONG, "open parent of", path);
	memcpy(dir, path, dl);
	dir[dl] = 0;
	return slash ? slash + 1 : path;
}

// do_device makes a device node in the new root: with mknod where the
// kernel allows it (no user namespace), else by binding the host's node,
// which a user namespace allows.
static void do_device(struct child *c, const struct rec *r) {
	const struct nook_device *d = nook_fixed(r);
	const char *host = S(d->host), *path = S(d->path);
	char dir[4096];
	const char *name = split_parent(c, path, dir, sizeof dir);
	int pfd = open_in_root(c, dir, MK_DIR);
	if (pfd < 0) FAIL(c, errno, "open", dir);
	if (mknodat(pfd, name, (mode_t)d->mode, (dev_t)d->rdev) == 0) {
		// mknod honours the umask; the node's mode is the host's
		if (fchmodat(pfd, name, d->mode & 07777, 0) < 0) FAIL(c, errno, "chmod", path);
		close(pfd);
		return;
	}
	if (errno != EPERM) FAIL(c, errno, "mknod", path);
	close(pfd);
	mount_in_root(c, host, path, "", MS_BIND, "", 0, 0, MK_FILE);
}

static void do_symlink(struct child *c, const struct rec *r) {
	const struct nook_symlink *l = nook_fixed(r);
	const char *target = S(l->target), *link = S(l->link);
	char dir[4096];
	const char *name = split_parent(c, link, dir, sizeof dir);
	int pfd = open_in_root(c, dir, MK_DIR);
	if (pfd < 0) FAIL(c, errno, "open", dir);
	if (symlinkat(target, pfd, name) < 0 && errno != EEXIST) FAIL(c, errno, "symlink", link, "to", target);
	close(pfd);
}

// base_pivot moves the host's root aside so that a new root can be built
// from nothing: a tmpfs becomes "/", and the host's tree stays reachable
// under /oldroot until the final pivot throws it away.
static void do_base_pivot(struct child *c, const struct rec *r) {
	const char *dir = S(((const struct nook_path *)nook_fixed(r))->path);
	int tree = -1;
	if (c->nopivot) {
		c->realroot_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (c->realroot_fd < 0) FAIL(c, errno, "open /");
		tree = open_tree(AT_FDCWD, "/", OPEN_TREE_CLONE | AT_RECURSIVE | OPEN_TREE_CLOEXEC);
	}
	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700,size=64k") < 0)
		FAIL(c, errno, "mount tmpfs on", dir);
	if (chdir(dir) < 0) FAIL(c, errno, "chdir", dir);
	// "empty" is the second lower layer a read-only overlay needs
	if (mkdir("oldroot", 0700) < 0 || mkdir("newroot", 0755) < 0 || mkdir("empty", 0500) < 0)
		FAIL(c, errno, "mkdir in", dir);
	if (c->nopivot) {
		// the same layout without pivot_root: a clone of the host's
		// tree (taken before the tmpfs covered dir) at oldroot, and
		// a chroot into the tmpfs; the real "/" kept for Pivot
		if (tree < 0) FAIL(c, errno, "clone the mount tree of /");
		if (move_mount(tree, "", AT_FDCWD, "oldroot", MOVE_MOUNT_F_EMPTY_PATH) < 0)
			FAIL(c, errno, "attach a clone of / at", dir, "/oldroot");
		close(tree);
		if (chroot(".") < 0) FAIL(c, errno, "chroot", dir);
	} else if (pivot_root(".", "oldroot") < 0) {
		FAIL(c, errno, "pivot_root to", dir);
	}
	if (chdir("/") < 0) FAIL(c, errno, "chdir /");
	c->procdir = "/oldroot/proc";
	c->hostdir = "/oldroot";
}

static void do_root(struct child *c, const struct rec *r) {
	const struct nook_root *a = nook_fixed(r);
	const char *path = S(a->path);
	if (a->tmpfs) {
		if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
			FAIL(c, errno, "mount tmpfs root on", path);
	} else if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) {
		FAIL(c, errno, "bind root", path, "on", path);
	}
	c->rootfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (c->rootfd < 0) FAIL(c, errno, "open root", path);
}

// overlay_new_api mounts an overlay with the new mount API, one
// "lowerdir+" per layer (Linux 6.8), so that the number of layers is not
// bound by a page of mount data. opts are the other options,
// comma-separated: key=value strings and bare flags. -1 with errno set
// when the kernel cannot; the caller then falls back to mount(2).
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
		int ret;
		if (eq) {
			*eq = 0;
			ret = fsconfig(fs, FSCONFIG_SET_STRING, kv, eq + 1, 0);
		} else {
			ret = fsconfig(fs, FSCONFIG_SET_FLAG, kv, NULL, 0);
		}
		if (ret < 0) goto fail;
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

// do_overlay_root mounts an image's overlay as the root under
// construction. With a scratch directory, the upper and work directories
// are made on a fresh tmpfs there (a directory of the base root): they
// live in the sandbox's mount namespace only, and die with it.
static void do_overlay_root(struct child *c, const struct rec *r) {
	const struct nook_overlay_root *a = nook_fixed(r);
	const char *path = S(a->path), *opts = S(a->options), *scratch = S(a->scratch);
	const char *lowers = (const char *)r->b + a->lowers.off;
	size_t lowers_len = a->lowers.len;
	if ((uint64_t)a->lowers.off + lowers_len > r->size || lowers_len == 0 || lowers[lowers_len - 1] != 0)
		FAIL(c, EINVAL, "malformed spawn plan: overlay lower directories");
	if (scratch[0]) {
		char d[4096];
		size_t n;
		if (mkdir(scratch, 0700) < 0) FAIL(c, errno, "mkdir", scratch);
		if (mount("tmpfs", scratch, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
			FAIL(c, errno, "mount tmpfs on", scratch);
		n = cat(d, 0, sizeof d, scratch);
		cat(d, n, sizeof d, "/upper");
		if (mkdir(d, 0755) < 0) FAIL(c, errno, "mkdir", d);
		cat(d, n, sizeof d, "/work");
		if (mkdir(d, 0700) < 0) FAIL(c, errno, "mkdir", d);
	}
	if (overlay_new_api(path, lowers, lowers_len, opts) < 0) {
		// an older kernel: all of it in one page of mount data,
		// lowerdir=TOP:...:BOTTOM,opts
		char data[4096];
		size_t n = cat(data, 0, sizeof data, "lowerdir=");
		if (n + lowers_len + 1 + strlen(opts) >= sizeof data)
			FAIL(c, E2BIG, "mount overlay root: too many layers for one page of mount data (Linux 6.8 takes more) on",
			     path);
		for (const char *l = lowers; l < lowers + lowers_len; l += strlen(l) + 1) {
			if (l != lowers) n = cat(data, n, sizeof data, ":");
			n = cat(data, n, sizeof data, l);
		}
		if (opts[0]) {
			n = cat(data, n, sizeof data, ",");
			cat(data, n, sizeof data, opts);
		}
		if (mount("overlay", path, "overlay", 0, data) < 0) FAIL(c, errno, "mount overlay root on", path);
	}
	c->rootfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (c->rootfd < 0) FAIL(c, errno, "open root", path);
}

// detach takes the host's mount at path (as "/" was before the base root)
// out of the namespace: first made a slave, so that the unmount cannot
// propagate to the host, then detached, or covered by an empty read-only
// tmpfs where the kernel refuses (the locked mounts of a user namespace).
static void do_detach(struct child *c, const char *path) {
	char p[4096];
	if (c->realroot_fd >= 0) {
		// chrooted into the base root: reach the real one through it
		fdpath(p, sizeof p, c->procdir, c->realroot_fd);
		cat(p, strlen(p), sizeof p, path);
	} else {
		cat(p, 0, sizeof p, path);
	}
	if (mount(NULL, p, NULL, MS_SLAVE | MS_REC, NULL) < 0 && errno != EINVAL) FAIL(c, errno, "make", path, "a slave");
	if (umount2(p, MNT_DETACH) == 0) return;
	if (errno != EINVAL && errno != EPERM) FAIL(c, errno, "detach", path);
	if (mount("tmpfs", p, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0") < 0)
		FAIL(c, errno, "cover", path);
}

// move_root is do_pivot for a "/" that pivot_root cannot move (runc's
// --no-pivot): the clone of the host's tree goes, the new root is moved
// onto the real "/", and the child chroots into it. ".." at the new root's
// top leads back into it, since the real "/" is the top of its mount and
// every mount above; the host's own mounts stay in the namespace, covered.
static void move_root(struct child *c) {
	if (c->hostdir[0] && umount2(c->hostdir, MNT_DETACH) < 0) FAIL(c, errno, "detach", c->hostdir);
	int to = c->realroot_fd;
	if (to < 0 && (to = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) FAIL(c, errno, "open /");
	if (move_mount(c->rootfd, "", to, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		FAIL(c, errno, "move the new root onto /");
	close(to);
	c->realroot_fd = -1;
	if (fchdir(c->rootfd) < 0) FAIL(c, errno, "chdir to the new root");
	if (chroot(".") < 0) FAIL(c, errno, "chroot into the new root");
}

static void do_pivot(struct child *c) {
	if (c->null_fd >= 0) close(c->null_fd);
	c->null_fd = -1;
	if (c->nopivot) {
		move_root(c);
	} else {
		if (fchdir(c->rootfd) < 0) FAIL(c, errno, "chdir to the new root");
		// pivot_root(".", ".") stacks the old root on top of the new
		// one; detaching it leaves the new root alone, with no path back
		if (pivot_root(".", ".") < 0) FAIL(c, errno, "pivot_root");
		if (umount2(".", MNT_DETACH) < 0) FAIL(c, errno, "detach old root");
	}
	if (chdir("/") < 0) FAIL(c, errno, "chdir /");
	close(c->rootfd);
	c->rootfd = -1;
	c->procdir = "/proc";
	c->hostdir = "";
}

static void do_root_readonly(struct child *c) {
	int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || set_attr(fd, MOUNT_ATTR_RDONLY, 0) < 0) FAIL(c, errno, "make / read-only");
	close(fd);
}

static void do_loopback(struct child *c) {
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) FAIL(c, errno, "socket");
	memset(&ifr, 0, sizeof ifr);
	memcpy(ifr.ifr_name, "lo", 3);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) FAIL(c, errno, "get flags of lo");
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) FAIL(c, errno, "bring up lo");
	close(fd);
}

static void do_write(struct child *c, const struct rec *r) {
	const struct nook_write *a = nook_fixed(r);
	const char *path = S(a->path), *data = S(a->data);
	int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) FAIL(c, errno, "open", path);
	// only procfs may be written this way (CVE-2025-52881: a write meant
	// for /proc must not land in a file a rootfs put there instead)
	struct statfs sf;
	if (fstatfs(fd, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC) FAIL(c, EXDEV, "not on procfs:", path);
	if (write(fd, data, a->data.len) != (ssize_t)a->data.len) FAIL(c, errno, "write", path);
	close(fd);
}

static void do_setns(struct child *c, const struct rec *r) {
	const struct nook_setns *a = nook_fixed(r);
	if (a->nstype && (c->joined & a->nstype) == a->nstype) return; // setns_pidfd joined it
	const char *path = S(a->path);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) FAIL(c, errno, "open namespace", path);
	if (setns(fd, (int)a->nstype) < 0) FAIL(c, errno, "setns", path);
	close(fd);
}

// do_setns_pidfd joins the namespaces of the process the spawn's pidfd
// names in one system call, where a setns step takes three for each (open,
// setns, close: 80 us against 10 us for five of them, measured). The
// kernel joins them all or none, the user namespace first. Where it
// refuses (a kernel before 5.8 takes no pidfd: EINVAL), nothing is joined
// and the setns steps by path that follow do the work, in their order,
// and name the namespace that fails. The pidfd is closed after: the
// command gets nothing of it.
static void do_setns_pidfd(struct child *c, const struct rec *r) {
	const struct nook_setns_pidfd *a = nook_fixed(r);
	int fd = c->s->ns_pidfd;
	if (fd < 0) FAIL(c, EBADF, "setns by pidfd: the spawn has none");
	if (setns(fd, (int)a->nstypes) == 0) c->joined |= a->nstypes;
	close(fd);
}

static void do_tty(struct child *c, const struct rec *r) {
	const struct nook_tty *a = nook_fixed(r);
	int sock = c->s->tty_sock;
	int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0) FAIL(c, errno, "open /dev/ptmx");
	int unlock = 0;
	if (ioctl(m, TIOCSPTLCK, &unlock) < 0) FAIL(c, errno, "unlock pty");
	// the size is there before the command starts: a resize by the
	// parent afterwards would reach the command as a SIGWINCH
	if (a->rows || a->cols) {
		struct winsize ws = {.ws_row = (unsigned short)a->rows, .ws_col = (unsigned short)a->cols};
		if (ioctl(m, TIOCSWINSZ, &ws) < 0) FAIL(c, errno, "set the size of the pty");
	}
	int sl = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (sl < 0) FAIL(c, errno, "open pty peer");
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
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0) FAIL(c, errno, "send pty");
	close(m);
	close(sock);
	c->tty_slave = sl;
}

// cap_drop_bounding drops every capability up to the kernel's last one
// that keep does not name; dropping one already gone is not an error.
static int cap_drop_bounding(uint64_t keep, uint32_t last) {
	for (uint32_t cap = 0; cap <= last && cap < 64; cap++) {
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
	return (int)SYS2(__NR_capset, &h, d);
}

// do_user switches to the sandbox's user and capabilities, in the one
// order that works: the bounding set shrinks while CAP_SETPCAP is still
// held, ids change while KEEPCAPS preserves the permitted set, then the
// final sets are installed and ambient ones raised.
static void do_user(struct child *c, const struct rec *r) {
	const struct nook_user *u = nook_fixed(r);
	gid_t gl[NOOK_MAXGROUPS];
	uint32_t ngroups = u->groups.len / 4;
	if ((uint64_t)u->groups.off + u->groups.len > r->size || ngroups > NOOK_MAXGROUPS)
		FAIL(c, EINVAL, "malformed spawn plan: groups");

	if (u->set_caps && cap_drop_bounding(u->bounding, u->last_cap) < 0)
		FAIL(c, errno, "drop bounding capabilities");
	if (u->set_groups) {
		memcpy(gl, r->b + u->groups.off, 4 * ngroups);
		if (setgroups(ngroups, gl) < 0) FAIL(c, errno, "setgroups");
	}
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) FAIL(c, errno, "keep capabilities");
	if (setresgid(u->gid, u->gid, u->gid) < 0) FAIL(c, errno, "setgid");
	if (setresuid(u->uid, u->uid, u->uid) < 0) FAIL(c, errno, "setuid");
	if (u->set_caps) {
		if (cap_set(u->effective, u->permitted, u->inheritable) < 0) FAIL(c, errno, "set capabilities");
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
			FAIL(c, errno, "clear ambient capabilities");
		for (int cap = 0; cap < 64; cap++)
			if ((u->ambient & (1ULL << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
				FAIL(c, errno, "raise ambient capability");
	}
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
}

struct sock_fprog_ {
	unsigned short len;
	const void *filter;
};

static void do_seccomp(struct child *c, const struct rec *r) {
	const struct nook_seccomp *a = nook_fixed(r);
	if ((uint64_t)a->filter.off + a->filter.len > r->size || a->filter.len % 8 || a->filter.len / 8 > 0xffff)
		FAIL(c, EINVAL, "malformed spawn plan: seccomp filter");
	struct sock_fprog_ prog = {(unsigned short)(a->filter.len / 8), r->b + a->filter.off};
	if (seccomp(SECCOMP_SET_MODE_FILTER, a->flags, &prog) < 0)
		FAIL(c, errno, "load seccomp filter");
}

// --- fds ---------------------------------------------------------------------

// setup_fds gives the child exactly fds 0..nfds-1 as the caller mapped them,
// plus the spawn's own pipes moved above them, and closes everything else
// inherited from the Go process.
static void setup_fds(struct nook_spawn *s) {
	int hi = s->nfds > 3 ? s->nfds : 3;
	if (hi < 10) hi = 10;
	int *own[8 + NOOK_MAXCGROUPS + 1] = {&s->sync_fd, &s->err_fd, &s->tty_sock, &s->status_fd, &s->hold_fd, &s->start_err_fd, &s->ns_pidfd, &s->net_fd};
	int nown = 8;
	if (s->ncgroup_tasks < 0 || s->ncgroup_tasks > NOOK_MAXCGROUPS) _exit(NOOK_EXIT_SETUP);
	for (int i = 0; i < s->ncgroup_tasks; i++) own[nown++] = &s->cgroup_tasks[i];
	own[nown] = NULL;
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
	int keep[8 + NOOK_MAXCGROUPS], nk = 0;
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
		if ((unsigned)keep[i] > lo) close_range(lo, (unsigned)keep[i] - 1, 0);
		lo = (unsigned)keep[i] + 1;
	}
	close_range(lo, ~0U, 0);
}

// hold: a held child (create) has run every step it can before start:
// it tells the creator (EOF on the error pipe) and waits for start's byte.
// Then start's FIFO is the error pipe: a failed startContainer hook or
// exec is reported to start as it was to create, and the command's exec
// (the command's, under init: init closes it once that exec happened)
// closes it, which start reads as EOF. Once.
static void hold(struct nook_spawn *s) {
	if (s->hold_fd < 0) return;
	close(s->err_fd);
	s->err_fd = -1;
	char b;
	ssize_t n;
	do
		n = read(s->hold_fd, &b, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1) _exit(NOOK_EXIT_SETUP);
	close(s->hold_fd);
	s->hold_fd = -1;
	s->err_fd = s->start_err_fd;
	s->start_err_fd = -1;
}

// utoa writes v in decimal at dst (room for 11 digits), NUL-terminated.
static char *utoa(char *dst, unsigned v) {
	char tmp[12];
	int n = 0;
	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < 11);
	for (int i = 0; i < n; i++) dst[i] = tmp[n - 1 - i];
	dst[n] = 0;
	return dst;
}

// the most arguments, and environment entries, of a hook: its lists are
// on the child's stack
#define HOOK_MAXLIST 256

// a hook's process, between its clone and its exec
struct hook_run {
	const char *path;
	char **argv, **envp;
	int in; // the read end of the state's pipe
};

static int hook_main(void *arg) {
	struct hook_run *h = arg;
	ksigset none = 0;
	if (dup2(h->in, 0) < 0) _exit(NOOK_EXIT_SETUP);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(h->path, h->argv, h->envp);
	_exit(errno == ENOENT ? NOOK_EXIT_NOTFOUND : NOOK_EXIT_NOEXEC);
}

// split_list points out[] at the NUL-terminated strings of blob x of
// the record being run (no copy: execve only reads them).
static int split_list(struct child *c, const struct rec *r, const char *what, struct nook_ref x, char **out) {
	const char *b = (const char *)r->b + x.off;
	if ((uint64_t)x.off + x.len > r->size || (x.len > 0 && b[x.len - 1] != 0))
		FAIL(c, EINVAL, "malformed spawn plan: a list outside its step");
	int n = 0;
	for (uint32_t i = 0; i < x.len;) {
		if (n == HOOK_MAXLIST - 1) FAIL(c, E2BIG, "hook with too many", what);
		out[n++] = (char *)(b + i);
		i += (uint32_t)strlen(b + i) + 1;
	}
	out[n] = NULL;
	return n;
}

// do_hook runs a createContainer or startContainer hook, as runc's init
// does in the container's namespaces: the OCI state on its stdin (with
// our pid, as we see it), its output ours, and waits for it, for at most
// its timeout. It shares our memory until its exec, as the command does
// (init.c), so nothing is copied.
static void do_hook(struct child *c, const struct rec *r) {
	const struct nook_hook *hk = nook_fixed(r);
	const char *name = S(hk->name), *path = S(hk->path);
	char *argv[HOOK_MAXLIST], *envp[HOOK_MAXLIST];
	if (split_list(c, r, "arguments", hk->args, argv) == 0) {
		argv[0] = (char *)path;
		argv[1] = NULL;
	}
	split_list(c, r, "environment variables", hk->env, envp);
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) FAIL(c, errno, name, "hook", path, "(pipe)");
	char st[32], num[12];
	size_t n = cat(st, 0, sizeof st, ",\"pid\":");
	n = cat(st, n, sizeof st, utoa(num, (unsigned)getpid()));
	n = cat(st, n, sizeof st, "}");
	// a state is far smaller than a pipe's buffer: written before the
	// hook runs, so that a hook that never reads cannot block us
	if (write(p[1], S(hk->state), hk->state.len) != (ssize_t)hk->state.len || write(p[1], st, n) != (ssize_t)n)
		FAIL(c, errno, name, "hook", path, "(write the state)");
	close(p[1]);
	struct hook_run h = {path, argv, envp, p[0]};
	static const size_t stack_size = 64 * 1024;
	char stack[stack_size] __attribute__((aligned(16)));
	long pid = nook_clone(CLONE_VM | CLONE_VFORK | SIGCHLD, stack + stack_size, hook_main, &h);
	close(p[0]);
	if (pid < 0) FAIL(c, (int)-pid, name, "hook", path);
	int pfd = pidfd_open((pid_t)pid, 0);
	if (pfd >= 0 && hk->timeout > 0) {
		struct pollfd pf = {.fd = pfd, .events = POLLIN};
		int left = (int)hk->timeout * 1000, rc;
		do
			rc = poll(&pf, 1, left);
		while (rc < 0 && errno == EINTR);
		if (rc == 0) {
			kill((pid_t)pid, SIGKILL);
			waitpid((pid_t)pid, NULL, 0);
			FAIL(c, ETIMEDOUT, name, "hook", path);
		}
	}
	if (pfd >= 0) close(pfd);
	int ws;
	while (waitpid((pid_t)pid, &ws, 0) < 0)
		if (errno != EINTR) FAIL(c, errno, name, "hook", path, "(wait)");
	if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0) return;
	char num2[12];
	if (WIFEXITED(ws)) FAIL(c, 0, name, "hook", path, "failed: exit status", utoa(num2, (unsigned)WEXITSTATUS(ws)));
	FAIL(c, 0, name, "hook", path, "failed: killed by signal", utoa(num2, (unsigned)WTERMSIG(ws)));
}

// arm_pdeathsig asks for SIGKILL when the parent dies, and dies now if
// it died already: the kernel sends the signal only for a death after the
// prctl, and a parent killed between the clone and here, or while a
// change of user had cleared the signal, would leave this child running
// without it. A dead parent shows as a new getppid(): the reaper's. (Not
// for the first process of a new pid namespace, whose parent is outside it
// dead or alive, so getppid() says 0 either way: that one learns of its
// parent's death from the sync pipe's EOF before it goes on.)
static int arm_pdeathsig(const struct child *c) {
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) return -1;
	if (getppid() != c->parent) _exit(NOOK_EXIT_SETUP);
	return 0;
}

void nook_child_main(struct nook_spawn *s) {
	// not zeroed as a whole: its argv and envp arrays are 64 KiB, and
	// each page touched on a fresh stack is a page fault. nook_exec ends
	// both lists.
	struct child cs, *c = &cs;
	// first: what getppid says while the parent lives, for arm_pdeathsig
	c->parent = getppid();
	c->argc = c->envc = 0;
	c->nopivot = 0;
	c->joined = 0;
	c->s = s;
	c->rootfd = -1;
	c->procdir = "/proc";
	c->hostdir = "";
	c->status_fd = -1;
	c->tty_slave = -1;
	c->null_fd = -1;
	c->realroot_fd = -1;

	// the Go runtime's handlers are meaningless here: back to defaults,
	// still blocked (the parent blocked everything around clone)
	for (int i = 1; i < 65; i++) sigaction_dfl(i);
	// a held child (create, then start) outlives its creator on purpose
	if (s->hold_fd < 0 && arm_pdeathsig(c) < 0) _exit(NOOK_EXIT_SETUP);
	if (s->restore_nofile) {
		struct rlimit64 rl = {s->nofile_cur, s->nofile_max};
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0) _exit(NOOK_EXIT_SETUP);
	}
	setup_fds(s);

	// wait for the parent: maps written, cgroups joined. EOF means the
	// parent is gone or gave up, and so do we.
	char go;
	if (read(s->sync_fd, &go, 1) != 1) _exit(NOOK_EXIT_SETUP);
	close(s->sync_fd);
	// cgroup v1: join each hierarchy by moving ourselves ("0" is the
	// writer), before anything else runs
	for (int i = 0; i < s->ncgroup_tasks; i++) {
		if (write(s->cgroup_tasks[i], "0", 1) != 1) FAIL(c, errno, "join cgroup (write 0 to its tasks file)");
		close(s->cgroup_tasks[i]);
	}
	// a network namespace made while the plan was compiled, in place of
	// CLONE_NEWNET: joined before any step, as a new one would be there
	if (s->net_fd >= 0) {
		if (setns(s->net_fd, CLONE_NEWNET) < 0) FAIL(c, errno, "join the network namespace made for the sandbox");
		close(s->net_fd);
	}
	// now that the parent has written our ID maps (which needs our
	// /proc files to be the caller's), not dumpable: the sandbox cannot
	// ptrace its init or open /proc/1/exe, which is the nook binary.
	// Writes to that binary are refused anyway (ETXTBSY) for as long as
	// nook runs, and nook and its janitor outlive every process of the
	// sandbox (CVE-2019-5736). The command's exec makes it dumpable
	// again, as usual.
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

	size_t off = 0;
	struct rec rs, *r = &rs;
	int more;
	while ((more = nook_next(s->ops, s->ops_len, &off, r)) > 0) {
		if (r->op == 0 || r->op >= NOOK_OP_MAX) FAIL(c, EINVAL, "unknown spawn step");
		if (r->size < sizeof(struct nook_step) + nook_step_size[r->op])
			FAIL(c, EINVAL, "malformed spawn plan: a step shorter than its fields");
		const void *f = nook_fixed(r);
		switch ((enum nook_op)r->op) {
		case NOOK_OP_SETSID:
			setsid();
			break;
		case NOOK_OP_UNSHARE:
			if (unshare((int)((const struct nook_unshare *)f)->flags) < 0) FAIL(c, errno, "unshare");
			break;
		case NOOK_OP_SETNS:
			do_setns(c, r);
			break;
		case NOOK_OP_SETNS_PIDFD:
			do_setns_pidfd(c, r);
			break;
		case NOOK_OP_WRITE:
			do_write(c, r);
			break;
		case NOOK_OP_HOSTNAME: {
			const struct nook_name *a = f;
			if (sethostname(S(a->name), a->name.len) < 0) FAIL(c, errno, "sethostname", S(a->name));
			break;
		}
		case NOOK_OP_DOMAINNAME: {
			const struct nook_name *a = f;
			if (setdomainname(S(a->name), a->name.len) < 0) FAIL(c, errno, "setdomainname", S(a->name));
			break;
		}
		case NOOK_OP_LOOPBACK:
			do_loopback(c);
			break;
		case NOOK_OP_PROPAGATION:
			if (mount(NULL, "/", NULL, (unsigned long)((const struct nook_propagation *)f)->flags, NULL) < 0)
				FAIL(c, errno, "set propagation of /");
			break;
		case NOOK_OP_BASE_PIVOT:
			do_base_pivot(c, r);
			break;
		case NOOK_OP_ROOT:
			do_root(c, r);
			break;
		case NOOK_OP_OVERLAY_ROOT:
			do_overlay_root(c, r);
			break;
		case NOOK_OP_MOUNT:
			do_mount(c, r);
			break;
		case NOOK_OP_SYMLINK:
			do_symlink(c, r);
			break;
		case NOOK_OP_DEVICE:
			do_device(c, r);
			break;
		case NOOK_OP_MASK:
			do_mask(c, r);
			break;
		case NOOK_OP_READONLY:
			do_readonly(c, r);
			break;
		case NOOK_OP_TTY:
			do_tty(c, r);
			break;
		case NOOK_OP_PIVOT:
			do_pivot(c);
			break;
		case NOOK_OP_NO_PIVOT:
			c->nopivot = 1;
			break;
		case NOOK_OP_DETACH:
			do_detach(c, S(((const struct nook_path *)f)->path));
			break;
		case NOOK_OP_ROOT_NODEV:
			if (c->rootfd < 0 || set_attr(c->rootfd, MOUNT_ATTR_NODEV, 1) < 0) FAIL(c, errno, "make the new root nodev");
			break;
		case NOOK_OP_ROOT_READONLY:
			do_root_readonly(c);
			break;
		case NOOK_OP_CHDIR: {
			const char *dir = S(((const struct nook_path *)f)->path);
			if (chdir(dir) < 0) FAIL(c, errno, "chdir", dir);
			break;
		}
		case NOOK_OP_CHROOT: {
			const char *dir = S(((const struct nook_path *)f)->path);
			if (chroot(dir) < 0) FAIL(c, errno, "chroot", dir);
			if (chdir("/") < 0) FAIL(c, errno, "chdir / in", dir);
			break;
		}
		case NOOK_OP_RLIMIT: {
			const struct nook_rlimit *a = f;
			struct rlimit64 rl = {a->soft, a->hard};
			if (setrlimit((int)a->resource, &rl) < 0) FAIL(c, errno, "setrlimit", S(a->name));
			break;
		}
		case NOOK_OP_USER:
			do_user(c, r);
			// a change of user clears the parent-death signal: armed
			// again, so that a command started straight into a pid
			// namespace (root's exec) dies with nook whatever its user,
			// as nook's init does (a held child has none, on purpose)
			if (s->hold_fd < 0 && arm_pdeathsig(c) < 0)
				FAIL(c, errno, "set the parent-death signal");
			break;
		case NOOK_OP_NO_NEW_PRIVS:
			if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) FAIL(c, errno, "set no_new_privs");
			break;
		case NOOK_OP_SECCOMP:
			do_seccomp(c, r);
			break;
		case NOOK_OP_ARG:
			if (c->argc >= NOOK_MAXARGV) FAIL(c, E2BIG, "too many arguments");
			c->argv[c->argc++] = S(((const struct nook_path *)f)->path);
			break;
		case NOOK_OP_ENV:
			if (c->envc >= NOOK_MAXARGV) FAIL(c, E2BIG, "too many environment variables");
			c->envp[c->envc++] = S(((const struct nook_path *)f)->path);
			break;
		case NOOK_OP_HOOK:
			if (((const struct nook_hook *)f)->start) hold(s);
			do_hook(c, r);
			break;
		case NOOK_OP_EXEC:
			hold(s);
			nook_exec(c, (int)((const struct nook_exec *)f)->init);
		case NOOK_OP_MAX:
			break;
		}
	}
	FAIL(c, EINVAL, more < 0 ? "malformed spawn plan" : "spawn plan has no exec step");
}

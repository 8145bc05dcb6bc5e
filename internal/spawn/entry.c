//go:build ignore

// entry.c: a plain `nook exec SANDBOX COMMAND...`, or a plain
// `nook run --bundle DIR ID` (below, "The run"), started before Go's
// runtime. nook's ELF entry point (entry_amd64.s) calls nook_entry_main
// with the stack the kernel gave the process; it returns, and Go's
// runtime starts as if it had never run, unless everything below holds,
// in which case it starts the command from the exec that Go prepared
// (quick.go, struct nook_quick in spawn.h) and exits with its status:
//
//   - the command line is exactly [--root DIR] exec SANDBOX [--] COMMAND...,
//     and nook runs as root;
//   - the state root is a directory of root's that others cannot write,
//     as Go's state.Open requires, and SANDBOX is an ID or a name in it;
//   - the sandbox's prepared exec is a regular file of root's that no one
//     else may read or write, of this format;
//   - the files it was prepared from (the state, the spec) are the same
//     inodes, sizes and times, the caller is in the same namespaces, and
//     the sandbox's init is the same process (its start time);
//   - every device among stdin, stdout and stderr is one the sandbox may be
//     given (a device cgroup holds it back, or it is a terminal or one of
//     the standard nodes);
//   - and the child, the same C child that Go starts (steps.c), execs the
//     command.
//
// Any other outcome, an error included, leaves the work to Go, which
// prepared the exec and so does everything the same way, and reports
// errors in its own words: nothing here decides anything, it only replays
// what Go decided, after checking that it still applies. What this saves is
// the Go runtime's start and nook's own: about half of a nook exec.
//
// It runs as a process's very first code: one thread, no Go, no libc. It
// must leave nothing behind on the way back to Go: every fd is closed,
// every mapping unmapped, the signal mask, the pid namespace for children
// and the thread pointer restored.
#include "child.h"

#include <linux/bpf.h>

// in this block, reached PC-relative (mkchild.sh allows nothing else)
__attribute__((visibility("hidden"))) void nook_child_main(struct nook_spawn *s);

// Names Go reads from here (quick.go) rather than keeping its own copy.
const char nook_quick_file[] = "exec-quick";
const char nook_names_dir[] = ".names";
const char nook_default_root[] = "/run/nook";
const char nook_run_dir[] = ".quick";

enum {
	ENTRY_PATH = 4096,
	// the child's block, as child.go lays it out: a guard page, its
	// stack, its thread control block and arguments, then its plan
	ENTRY_GUARD = 4096,
	ENTRY_STACK = 384 << 10,
};

// What the entry holds while it works: everything it must release before
// Go starts.
struct entry {
	const unsigned char *q; // the prepared exec or run, mapped
	size_t qlen;
	unsigned char *block; // the child's memory
	size_t blen;
	unsigned char *jblock; // the janitor's (run)
	size_t jblen;
	int init_pidfd, own_pidns, cgroup_fd, sync[2], errp[2], lifeline[2];
	int tasks[NOOK_MAXCGROUPS], ntasks;
	int pidns_joined, mask_set;
	ksigset oldmask;
	// run: the cgroups made, to remove again before the janitor exists
	const char *made[NOOK_MAXCGROUPS];
	int nmade;
};

static void close_fd(int *fd) {
	if (*fd >= 0) close(*fd);
	*fd = -1;
}

// rmdir_cgroup removes a cgroup the entry made, waiting (up to a second)
// while it is busy: it stays so for a moment after its last task exits.
static void rmdir_cgroup(const char *dir) {
	for (int i = 0; i < 100 && SYS3(__NR_unlinkat, AT_FDCWD, dir, AT_REMOVEDIR) < 0 && errno == EBUSY; i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		SYS2(__NR_nanosleep, &ts, 0);
	}
}

// release undoes what the entry did, for Go to start as usual.
static void release(struct entry *e) {
	close_fd(&e->init_pidfd);
	close_fd(&e->cgroup_fd);
	for (int i = 0; i < 2; i++) {
		close_fd(&e->sync[i]);
		close_fd(&e->errp[i]);
		close_fd(&e->lifeline[i]);
	}
	while (e->nmade > 0) rmdir_cgroup(e->made[--e->nmade]);
	for (int i = 0; i < e->ntasks; i++) close_fd(&e->tasks[i]);
	if (e->pidns_joined) setns(e->own_pidns, CLONE_NEWPID);
	close_fd(&e->own_pidns);
	if (e->q) munmap((void *)e->q, e->qlen);
	if (e->block) munmap(e->block, e->blen);
	if (e->jblock) munmap(e->jblock, e->jblen);
	if (e->mask_set) sigprocmask(SIG_SETMASK, &e->oldmask, NULL);
}

// path joins its parts with '/' into dst; 0 if they do not fit.
static int path(char *dst, const char *a, const char *b, const char *c) {
	size_t at = 0;
	const char *parts[3] = {a, b, c};
	for (int i = 0; i < 3; i++) {
		if (!parts[i]) break;
		if (i > 0) {
			if (at + 1 >= ENTRY_PATH) return 0;
			dst[at++] = '/';
		}
		for (const char *s = parts[i]; *s; s++) {
			if (at + 1 >= ENTRY_PATH) return 0;
			dst[at++] = *s;
		}
	}
	dst[at] = 0;
	return 1;
}

// A name that is one path element of its own, as state.Resolve accepts.
static int plain_name(const char *s) {
	return s[0] && s[0] != '.' && !strchr(s, '/');
}

// parse_root reads [--root DIR | --root=DIR] NAME, the start of either
// command line, and returns the index of the argument after NAME, or 0.
static int parse_root(int argc, char **argv, const char *name, const char **root) {
	int i = 1;
	*root = nook_default_root;
	if (i + 1 < argc && strcmp(argv[i], "--root") == 0) {
		*root = argv[i + 1];
		i += 2;
	} else if (i < argc && strncmp(argv[i], "--root=", 7) == 0) {
		*root = argv[i] + 7;
		i++;
	}
	if (!**root || i >= argc || strcmp(argv[i], name) != 0) return 0;
	return i + 1;
}

// The command line: [--root DIR | --root=DIR] exec SANDBOX [--] COMMAND...
// (cobra's reading of it, with exec's flags ending at SANDBOX).
static int parse(int argc, char **argv, const char **root, const char **ref, int *cmd) {
	int i = parse_root(argc, argv, "exec", root);
	if (!i || i >= argc || argv[i][0] == '-' || !plain_name(argv[i])) return 0;
	*ref = argv[i++];
	if (i < argc && strcmp(argv[i], "--") == 0) i++;
	if (i >= argc || !argv[i][0]) return 0;
	*cmd = i;
	return 1;
}

// resolve finds the sandbox's directory, as state.Resolve does: its ID,
// or a name that links to one.
static int resolve(const char *root, const char *ref, char *dir) {
	struct stat st;
	if (!path(dir, root, ref, NULL)) return 0;
	if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return 1;
	char link[ENTRY_PATH], target[256];
	if (!path(link, root, nook_names_dir, ref)) return 0;
	ssize_t n = readlink(link, target, sizeof target - 1);
	if (n <= 0) return 0;
	target[n] = 0;
	const char *id = strrchr(target, '/');
	id = id ? id + 1 : target;
	if (!plain_name(id) || !path(dir, root, id, NULL)) return 0;
	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

// ref_ok: r lies in the file, aligned for and a whole number of elements
// of unit bytes (unit 1: a string or a blob).
static int ref_ok(const struct entry *e, struct nook_ref r, size_t unit) {
	return (uint64_t)r.off + r.len <= e->qlen && r.off % (unit > 1 ? 8 : 1) == 0 && r.len % unit == 0;
}

static const char *ref_str(const struct entry *e, struct nook_ref r) {
	if (!ref_ok(e, r, 1) || r.off + r.len >= e->qlen || e->q[r.off + r.len] != 0) return NULL;
	const char *s = (const char *)e->q + r.off;
	return strlen(s) == r.len ? s : NULL;
}

// map_plan maps a prepared exec or run: a regular file of root's that no
// one else may read or write, of a size entry.c reads.
static int map_plan(struct entry *e, const char *p, size_t min) {
	struct stat st;
	int fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) return 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 077) ||
	    st.st_size < min || st.st_size > NOOK_QUICK_MAX) {
		close(fd);
		return 0;
	}
	void *m = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED) return 0;
	e->q = m;
	e->qlen = st.st_size;
	return 1;
}

// load maps DIR's prepared exec and checks its form.
static const struct nook_quick *load(struct entry *e, const char *dir) {
	char p[ENTRY_PATH];
	if (!path(p, dir, nook_quick_file, NULL) || !map_plan(e, p, sizeof(struct nook_quick))) return NULL;
	const struct nook_quick *q = (const void *)e->q;
	if (q->magic != NOOK_QUICK_MAGIC || q->version != NOOK_QUICK_VERSION || q->size != e->qlen) return NULL;
	if (!ref_ok(e, q->files, sizeof(struct nook_quick_file)) || !ref_ok(e, q->namespaces, sizeof(struct nook_quick_ns)) ||
	    !ref_ok(e, q->devices, sizeof(struct nook_quick_dev)) || !ref_str(e, q->cgroup_dir) ||
	    !ref_ok(e, q->cgroup_tasks, 1) || !ref_ok(e, q->head, 8) || !ref_ok(e, q->tail, 8))
		return NULL;
	return q;
}

static int same_file(const char *p, const struct nook_quick_file *f) {
	struct stat st;
	return stat(p, &st) == 0 && st.st_dev == f->dev && st.st_ino == f->ino && st.st_size == f->size &&
	       (int64_t)st.st_mtime == f->mtime_sec && (int64_t)st.st_mtime_nsec == f->mtime_nsec &&
	       (int64_t)st.st_ctime == f->ctime_sec && (int64_t)st.st_ctime_nsec == f->ctime_nsec;
}

// same_namespaces: the caller is in the namespaces nss (struct
// nook_quick_ns[]) names. Each link is read, not followed:
// "net:[4026531840]" holds the inode, and reading it costs half of a stat
// of the namespace (namespaces.Of measured the same).
static int same_namespaces(const struct entry *e, struct nook_ref nss) {
	const struct nook_quick_ns *ns = (const void *)(e->q + nss.off);
	int nsdir = open("/proc/self/ns", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (nsdir < 0) return 0;
	int same = 1;
	for (uint32_t i = 0; same && i < nss.len / sizeof *ns; i++) {
		const char *name = ref_str(e, ns[i].name);
		char link[64];
		ssize_t n = name && plain_name(name) ? readlinkat(nsdir, name, link, sizeof link - 1) : -1;
		if (n <= 0) {
			same = 0;
			break;
		}
		link[n] = 0;
		const char *at = strchr(link, '[');
		uint64_t ino = 0;
		for (at = at ? at + 1 : link + n; *at >= '0' && *at <= '9'; at++) ino = ino * 10 + (*at - '0');
		same = *at == ']' && ino == ns[i].ino;
	}
	close(nsdir);
	return same;
}

// unchanged: the binary, the files and the namespaces the exec was
// prepared under are the same.
static int unchanged(const struct entry *e, const struct nook_quick *q, const char *dir) {
	char p[ENTRY_PATH];
	if (!same_file("/proc/self/exe", &q->exe)) return 0;
	const struct nook_quick_file *f = (const void *)(e->q + q->files.off);
	for (uint32_t i = 0; i < q->files.len / sizeof *f; i++) {
		const char *name = ref_str(e, f[i].name);
		if (!name || !plain_name(name) || !path(p, dir, name, NULL) || !same_file(p, &f[i])) return 0;
	}
	return same_namespaces(e, q->namespaces);
}

// start_time reads field 22 of /proc/PID/stat; 0 if it cannot.
static uint64_t start_time(int pid) {
	char p[64], num[16], buf[1024];
	int n = 0;
	for (unsigned v = pid; n == 0 || v; v /= 10) num[n++] = '0' + v % 10;
	size_t at = 0;
	for (const char *s = "/proc/"; *s; s++) p[at++] = *s;
	while (n) p[at++] = num[--n];
	for (const char *s = "/stat"; *s; s++) p[at++] = *s;
	p[at] = 0;
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return 0;
	ssize_t len = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (len <= 0) return 0;
	buf[len] = 0;
	const char *s = strrchr(buf, ')');
	if (!s) return 0;
	// fields 3 to 21 come first, each after a space
	for (int field = 2; field < 22; field++) {
		s = strchr(s + 1, ' ');
		if (!s) return 0;
	}
	uint64_t v = 0;
	for (s++; *s >= '0' && *s <= '9'; s++) v = v * 10 + (*s - '0');
	return v;
}

// devices_allowed: each device among fds 0-2 may be given to the sandbox
// (checkExecDevices in Go); an fd that is not open leaves it to Go.
static int devices_allowed(const struct entry *e, const struct nook_quick *q) {
	const struct nook_quick_dev *d = (const void *)(e->q + q->devices.off);
	for (int fd = 0; fd < 3; fd++) {
		struct stat st;
		if (fstat(fd, &st) < 0) return 0;
		if (!S_ISCHR(st.st_mode) && (st.st_mode & S_IFMT) != S_IFBLK) continue;
		if (q->flags & NOOK_QUICK_DEVICES_HELD) continue;
		unsigned char termios[64];
		if (ioctl(fd, TCGETS, termios) == 0) continue;
		int ok = 0;
		for (uint32_t i = 0; S_ISCHR(st.st_mode) && i < q->devices.len / sizeof *d; i++)
			if (d[i].major == major(st.st_rdev) &&
			    (d[i].minor == (uint32_t)NOOK_QUICK_ANY_MINOR || d[i].minor == minor(st.st_rdev)))
				ok = 1;
		if (!ok) return 0;
	}
	return 1;
}

// open_cgroups opens what the child joins: the v2 directory it is cloned
// into, or each v1 hierarchy's tasks file (NUL-terminated, one after
// another, in tasks).
static int open_cgroups(struct entry *e, struct nook_ref cgroup_dir, struct nook_ref tasks) {
	const char *dir = ref_str(e, cgroup_dir);
	if (!dir) return 0;
	if (*dir && (e->cgroup_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) return 0;
	const char *t = (const char *)e->q + tasks.off, *end = t + tasks.len;
	while (t < end) {
		size_t n = 0;
		while (t + n < end && t[n]) n++;
		if (t + n == end || e->ntasks == NOOK_MAXCGROUPS) return 0;
		if ((e->tasks[e->ntasks] = open(t, O_WRONLY | O_CLOEXEC)) < 0) return 0;
		e->ntasks++;
		t += n + 1;
	}
	return 1;
}

// plan writes the child's steps at ops: head, one arg step per argument,
// tail. It returns their length, or 0 where they do not fit in cap.
static size_t plan(const struct entry *e, const struct nook_quick *q, char **args, int nargs, unsigned char *ops, size_t cap) {
	size_t at = 0;
	if (q->head.len > cap) return 0;
	memcpy(ops, e->q + q->head.off, q->head.len);
	at = q->head.len;
	for (int i = 0; i < nargs; i++) {
		size_t len = strlen(args[i]);
		size_t fixed = sizeof(struct nook_step) + sizeof(struct nook_path);
		size_t size = (fixed + len + 1 + 7) & ~(size_t)7;
		if (size > cap - at || size > 0xffffffffu) return 0;
		struct nook_step h = {.op = NOOK_OP_ARG, .size = (uint32_t)size};
		struct nook_path r = {.path = {.off = (uint32_t)fixed, .len = (uint32_t)len}};
		memcpy(ops + at, &h, sizeof h);
		memcpy(ops + at + sizeof h, &r, sizeof r);
		memcpy(ops + at + fixed, args[i], len);
		memset(ops + at + fixed + len, 0, size - fixed - len);
		at += size;
	}
	if (q->tail.len > cap - at) return 0;
	memcpy(ops + at, e->q + q->tail.off, q->tail.len);
	return at + q->tail.len;
}

// child_block maps the child's block as child.go lays it out (a guard
// page, its stack, its thread control block and struct nook_spawn, then
// cap bytes for its plan at s->ops) and fills in what every start of it
// here shares: fds 0-2 as they are, no terminal, init or held start, and
// the limit on open files as the caller has it (nothing has raised it
// before Go). NULL where it cannot be mapped.
static struct nook_spawn *child_block(struct entry *e, size_t cap) {
	size_t top = ENTRY_GUARD + ENTRY_STACK;
	size_t opsoff = top + ((sizeof(struct nook_tls) + sizeof(struct nook_spawn) + 15) & ~(size_t)15);
	e->blen = (opsoff + cap + 4095) & ~(size_t)4095;
	void *m = mmap(NULL, e->blen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (m == MAP_FAILED) return NULL;
	e->block = m;
	if (mprotect(e->block, ENTRY_GUARD, PROT_NONE) < 0) return NULL;
	struct nook_tls *tls = (void *)(e->block + top);
	struct nook_spawn *s = (void *)(e->block + top + sizeof *tls);
	tls->self = tls;
	s->ops = e->block + opsoff;
	s->tty_sock = s->status_fd = s->hold_fd = s->start_err_fd = s->net_fd = s->ns_pidfd = -1;
	s->nfds = 3;
	for (int i = 0; i < 3; i++) s->fds[i] = i;
	return s;
}

// clone_child clones the child on its block with flags (its namespaces,
// CLONE_VM or not), into the v2 cgroup where there is one, after it gets
// the pipes and the v1 tasks files; it returns its pid (or -1) and its
// pidfd in *pidfd, and closes the ends the child keeps.
static long clone_child(struct entry *e, struct nook_spawn *s, uint64_t flags, int *pidfd) {
	s->sync_fd = e->sync[0];
	s->err_fd = e->errp[1];
	s->ncgroup_tasks = e->ntasks;
	for (int i = 0; i < e->ntasks; i++) s->cgroup_tasks[i] = e->tasks[i];
	struct clone_args ca = {
		.flags = flags | CLONE_PIDFD | CLONE_SETTLS,
		.pidfd = (uint64_t)(unsigned long)pidfd,
		.exit_signal = SIGCHLD,
		.stack = (uint64_t)(unsigned long)(e->block + ENTRY_GUARD),
		.stack_size = ENTRY_STACK,
		.tls = (uint64_t)(unsigned long)((struct nook_tls *)s - 1),
	};
	if (e->cgroup_fd >= 0) {
		ca.flags |= CLONE_INTO_CGROUP;
		ca.cgroup = e->cgroup_fd;
	}
	long pid = nook_clone3(&ca, sizeof ca, nook_child_main, s);
	if (pid < 0) return -1;
	close_fd(&e->sync[0]);
	close_fd(&e->errp[1]);
	return pid;
}

// end_janitor closes the lifeline and waits until the janitor (jpid, or
// none: -1) has killed what is left of the sandbox and removed what it
// made.
static void end_janitor(struct entry *e, long jpid) {
	close_fd(&e->lifeline[1]);
	while (jpid > 0 && waitpid(jpid, NULL, 0) < 0 && errno == EINTR) {
	}
}

// finish reads the released child's error pipe. At EOF the command
// exec'd (the pipe is close-on-exec): finish waits for it with the
// signals of set passed on, ends the janitor, and exits with its status,
// as Go's Wait reports it. A record, or part of one: the child failed or
// died before the command ran; it is reaped, the janitor ends, and finish
// returns for Go to do it all again. An unreadable pipe leaves unknown
// whether the command started: it must not start twice, so the child is
// killed and nook exits 125, as Go ends a start it cannot read.
static void finish(struct entry *e, long pid, int pidfd, long jpid, ksigset set) {
	struct nook_error rec;
	ssize_t n;
	while ((n = read(e->errp[0], &rec, sizeof rec)) < 0 && errno == EINTR) {
	}
	if (n < 0) {
		static const char msg[] = "nook: read the child's error pipe failed\n";
		pidfd_send_signal(pidfd, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
		}
		end_janitor(e, jpid);
		write(2, msg, sizeof msg - 1);
		_exit(NOOK_EXIT_SETUP);
	}
	if (n != 0) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
		}
		end_janitor(e, jpid);
		return;
	}
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&set, &si);
		if (sig == SIGCHLD) {
			int st;
			if (waitpid(pid, &st, WNOHANG) != pid) continue;
			end_janitor(e, jpid);
			_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		}
		if (sig > 0) pidfd_send_signal(pidfd, sig);
	}
}

// run starts the command and, once it has exec'd, waits for it, passing
// the signals on, and exits with its status. It returns where the command
// did not start.
static void run(struct entry *e, const struct nook_quick *q, char **args, int nargs) {
	size_t cap = q->head.len + q->tail.len;
	for (int i = 0; i < nargs; i++) cap += sizeof(struct nook_step) + sizeof(struct nook_path) + strlen(args[i]) + 8;
	struct nook_spawn *s = child_block(e, cap);
	if (!s || !(s->ops_len = plan(e, q, args, nargs, (unsigned char *)s->ops, cap))) return;
	s->ns_pidfd = e->init_pidfd;

	// the signals passed on, and the child's end, wait in the mask
	// from before the child exists until the entry exits: none is lost
	ksigset set = q->signals | KSIG(SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, &e->oldmask) < 0) return;
	e->mask_set = 1;
	// the child is let run at once: the go-ahead waits in its pipe
	if (pipe2(e->sync, O_CLOEXEC) < 0 || write(e->sync[1], "", 1) != 1) return;
	close_fd(&e->sync[1]);
	if (pipe2(e->errp, O_CLOEXEC) < 0) return;

	if (q->flags & NOOK_QUICK_PID_NS) {
		// this thread's children go into init's pid namespace: the
		// command is cloned straight into it, as Go's exec does
		if ((e->own_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC)) < 0) return;
		if (setns(e->init_pidfd, CLONE_NEWPID) < 0) return;
		e->pidns_joined = 1;
	}
	int pidfd = -1;
	long pid = clone_child(e, s, CLONE_VM, &pidfd);
	if (pid < 0) return;
	finish(e, pid, pidfd, -1, set);
	close_fd(&pidfd);
}

// --- The run ----------------------------------------------------------------
//
// A plain `nook [--root DIR] run --bundle DIR ID` (QuickRun in quick.go)
// is replayed where the state root holds a run prepared for the same
// bundle and ID, by this binary, from the same config.json (inode, size,
// times), with the caller in the same namespaces and its stdin, stdout and
// stderr of the same kinds. The entry then does what Go's Run did:
//
//   - makes the cgroups (each mkdir, then each file write, in Go's order);
//     where one fails, it removes what it made and leaves the run to Go;
//   - clones the child (the same steps.c, with the plan Go compiled) into
//     new namespaces, and the janitor beside it with Go's cleanup, then
//     lets the child run;
//   - waits for the command, passing the signals on, and exits with its
//     status once the janitor has removed what the sandbox made.
//
// A child that fails before its command leaves the run to Go as well,
// after the janitor has cleaned up: Go makes it again and reports the
// error in its own words.

enum { ENTRY_JANITOR_STACK = 64 << 10 };

// parse_run reads [--root DIR | --root=DIR] run ARGS, where ARGS are
// exactly --bundle DIR (or --bundle=DIR, -b DIR), then the ID: run's flags
// end at its first argument (nook run -- COMMAND), so one after the ID
// would be the command's.
static int parse_run(int argc, char **argv, const char **root, const char **bundle, const char **id) {
	int i = parse_root(argc, argv, "run", root);
	*bundle = *id = NULL;
	if (!i) return 0;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (*bundle == NULL && (strcmp(a, "--bundle") == 0 || strcmp(a, "-b") == 0) && i + 1 < argc) {
			*bundle = argv[++i];
		} else if (*bundle == NULL && strncmp(a, "--bundle=", 9) == 0) {
			*bundle = a + 9;
		} else if (*bundle && a[0] && a[0] != '-' && i + 1 == argc) {
			*id = a;
		} else {
			return 0;
		}
	}
	return *bundle && *id;
}

// clean_abs: p is absolute and as filepath.Clean leaves it, so that Go's
// filepath.Abs of it is p itself.
static int clean_abs(const char *p) {
	if (p[0] != '/') return 0;
	if (!p[1]) return 1;
	for (const char *s = p; *s; s++) {
		if (*s != '/') continue;
		const char *n = s + 1;
		if (*n == '/' || *n == 0) return 0;
		if (n[0] == '.' && (n[1] == '/' || n[1] == 0)) return 0;
		if (n[0] == '.' && n[1] == '.' && (n[2] == '/' || n[2] == 0)) return 0;
	}
	return 1;
}

// run_file names the run prepared for bundle: one of 256 files, by an
// FNV-1a hash of its path (QuickRunFile).
static int run_file(char *dst, const char *root, const char *bundle) {
	uint64_t h = 0xcbf29ce484222325ULL;
	for (const char *s = bundle; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	static const char hex[] = "0123456789abcdef";
	char name[8] = {'r', 'u', 'n', '-', hex[(h >> 4) & 15], hex[h & 15], 0};
	return path(dst, root, nook_run_dir, name);
}

static const struct nook_quick_run *load_run(struct entry *e, const char *p) {
	if (!map_plan(e, p, sizeof(struct nook_quick_run))) return NULL;
	const struct nook_quick_run *q = (const void *)e->q;
	if (q->magic != NOOK_QUICK_RUN_MAGIC || q->version != NOOK_QUICK_VERSION || q->size != e->qlen) return NULL;
	if (!ref_str(e, q->bundle) || !ref_str(e, q->id) || !ref_ok(e, q->namespaces, sizeof(struct nook_quick_ns)) ||
	    !ref_ok(e, q->checks, sizeof(struct nook_quick_write)) || !ref_ok(e, q->mkdirs, 1) ||
	    !ref_ok(e, q->programs, sizeof(struct nook_quick_write)) || !ref_ok(e, q->writes, sizeof(struct nook_quick_write)) ||
	    !ref_ok(e, q->cgroup_tasks, 1) || !ref_ok(e, q->cleanup, 8) || !ref_ok(e, q->steps, 8) || q->steps.len == 0)
		return NULL;
	return q;
}

// same_stdio: fds 0-2 are what they were (a device the same one).
static int same_stdio(const struct nook_quick_run *q) {
	for (int fd = 0; fd < 3; fd++) {
		struct stat st;
		if (fstat(fd, &st) < 0) return 0;
		uint32_t kind = S_ISCHR(st.st_mode) ? NOOK_QUICK_STDIO_CHAR
			      : (st.st_mode & S_IFMT) == S_IFBLK ? NOOK_QUICK_STDIO_BLOCK
								  : NOOK_QUICK_STDIO_OTHER;
		if (kind != q->stdio[fd].kind || (kind != NOOK_QUICK_STDIO_OTHER && st.st_rdev != q->stdio[fd].rdev)) return 0;
	}
	return 1;
}

// holds_words: the file at path lists every space-separated word of
// words (a cgroup.subtree_control and the controllers Go had enabled).
static int holds_words(const char *path, const unsigned char *words, size_t n) {
	char buf[1024];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return 0;
	ssize_t len = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (len < 0) return 0;
	buf[len] = 0;
	for (size_t at = 0; at < n;) {
		while (at < n && words[at] == ' ') at++;
		size_t end = at;
		while (end < n && words[end] != ' ') end++;
		if (end == at) break;
		int found = 0;
		for (const char *p = buf; *p && !found;) {
			while (*p == ' ' || *p == '\n') p++;
			const char *w = p;
			while (*p && *p != ' ' && *p != '\n') p++;
			found = (size_t)(p - w) == end - at && memcmp(w, words + at, end - at) == 0;
		}
		if (!found) return 0;
		at = end;
	}
	return 1;
}

// attach_program loads a v2 device program as Go's loadDeviceProgram
// does and attaches it to the cgroup at dir (BPF_F_ALLOW_MULTI).
static int attach_program(const char *dir, const unsigned char *code, size_t len) {
	static const char license[] = "Apache-2.0";
	union bpf_attr load;
	memset(&load, 0, sizeof load);
	load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	load.insn_cnt = len / 8;
	load.insns = (uint64_t)(unsigned long)code;
	load.license = (uint64_t)(unsigned long)license;
	memcpy(load.prog_name, "nook_devices", 13);
	long prog;
	for (int try = 0; (prog = SYS3(__NR_bpf, BPF_PROG_LOAD, &load, sizeof load)) < 0 && errno == EAGAIN && try < 100; try++) {
	}
	if (prog < 0) return 0;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	long r = -1;
	if (fd >= 0) {
		union bpf_attr at;
		memset(&at, 0, sizeof at);
		at.target_fd = fd;
		at.attach_bpf_fd = prog;
		at.attach_type = BPF_CGROUP_DEVICE;
		at.attach_flags = BPF_F_ALLOW_MULTI;
		r = SYS3(__NR_bpf, BPF_PROG_ATTACH, &at, sizeof at);
		close(fd);
	}
	close(prog); // the attachment holds its own reference
	return r == 0;
}

// make_cgroups makes the cgroups as Go did, once the files Go found so
// hold still: every directory (each one new: an existing one is another
// sandbox's), every device program attached, then every file written.
static int make_cgroups(struct entry *e, const struct nook_quick_run *q) {
	const struct nook_quick_write *c = (const void *)(e->q + q->checks.off);
	for (uint32_t i = 0; i < q->checks.len / sizeof *c; i++) {
		const char *p = ref_str(e, c[i].path);
		if (!p || !ref_ok(e, c[i].data, 1) || !holds_words(p, e->q + c[i].data.off, c[i].data.len)) return 0;
	}
	const char *d = (const char *)e->q + q->mkdirs.off, *end = d + q->mkdirs.len;
	while (d < end) {
		size_t n = 0;
		while (d + n < end && d[n]) n++;
		if (d + n == end || e->nmade == NOOK_MAXCGROUPS || mkdir(d, 0755) < 0) return 0;
		e->made[e->nmade++] = d;
		d += n + 1;
	}
	const struct nook_quick_write *pr = (const void *)(e->q + q->programs.off);
	for (uint32_t i = 0; i < q->programs.len / sizeof *pr; i++) {
		const char *p = ref_str(e, pr[i].path);
		if (!p || !ref_ok(e, pr[i].data, 8) || !attach_program(p, e->q + pr[i].data.off, pr[i].data.len)) return 0;
	}
	// one open for each run of writes to the same file, as Go's
	// setDevicesV1 opens devices.allow once for all its rules
	const struct nook_quick_write *w = (const void *)(e->q + q->writes.off);
	const char *last = NULL;
	int fd = -1, ok = 1;
	for (uint32_t i = 0; ok && i < q->writes.len / sizeof *w; i++) {
		const char *p = ref_str(e, w[i].path);
		if (!p || !ref_ok(e, w[i].data, 1)) {
			ok = 0;
			break;
		}
		if (!last || strcmp(p, last) != 0) {
			close_fd(&fd);
			last = p;
			if ((fd = open(p, O_WRONLY | O_CLOEXEC)) < 0) {
				ok = 0;
				break;
			}
		}
		ok = write(fd, e->q + w[i].data.off, w[i].data.len) == (ssize_t)w[i].data.len;
	}
	close_fd(&fd);
	return ok;
}

static void janitor_main(struct nook_spawn *arg) { nook_janitor_main(arg); }

// start_janitor clones the janitor as Go's startJanitor does: the
// entry's memory, a block of its own, the lifeline's read end and the
// child's pidfd.
static long start_janitor(struct entry *e, const struct nook_quick_run *q, int pidfd) {
	size_t top = ENTRY_GUARD + ENTRY_JANITOR_STACK;
	size_t opsoff = top + ((sizeof(struct nook_janitor) + 15) & ~(size_t)15);
	e->jblen = (opsoff + q->cleanup.len + 4095) & ~(size_t)4095;
	void *m = mmap(NULL, e->jblen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (m == MAP_FAILED) return -1;
	e->jblock = m;
	if (mprotect(e->jblock, ENTRY_GUARD, PROT_NONE) < 0) return -1;
	memcpy(e->jblock + opsoff, e->q + q->cleanup.off, q->cleanup.len);
	struct nook_janitor *j = (void *)(e->jblock + top);
	j->lifeline = e->lifeline[0];
	j->pidfd = pidfd;
	j->jops = e->jblock + opsoff;
	j->jops_len = q->cleanup.len;
	struct clone_args ca = {
		.flags = CLONE_VM,
		.exit_signal = SIGCHLD,
		.stack = (uint64_t)(unsigned long)(e->jblock + ENTRY_GUARD),
		.stack_size = ENTRY_JANITOR_STACK,
	};
	return nook_clone3(&ca, sizeof ca, janitor_main, (struct nook_spawn *)j);
}

static void run_bundle(struct entry *e, const struct nook_quick_run *q) {
	struct nook_spawn *s = child_block(e, q->steps.len);
	if (!s) return;
	memcpy((unsigned char *)s->ops, e->q + q->steps.off, q->steps.len);
	s->ops_len = q->steps.len;

	// the signals passed on wait in the mask from before anything is
	// made until the entry exits: none kills it with a cgroup made
	ksigset set = q->signals | KSIG(SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, &e->oldmask) < 0) return;
	e->mask_set = 1;
	if (!make_cgroups(e, q) || !open_cgroups(e, q->cgroup_dir, q->cgroup_tasks)) return;
	// the child waits for the go-ahead until its janitor exists
	if (pipe2(e->sync, O_CLOEXEC) < 0 || pipe2(e->errp, O_CLOEXEC) < 0 || pipe2(e->lifeline, O_CLOEXEC) < 0) return;
	int pidfd = -1;
	long pid = clone_child(e, s, q->clone_flags | ((q->flags & NOOK_QUICK_SHARE_MEMORY) ? CLONE_VM : 0), &pidfd);
	if (pid < 0) return;
	close_fd(&e->cgroup_fd);
	for (int i = 0; i < e->ntasks; i++) close_fd(&e->tasks[i]);
	e->ntasks = 0;
	long jpid = start_janitor(e, q, pidfd);
	close_fd(&e->lifeline[0]);
	if (jpid < 0) {
		// nothing would clean up after the child: it must not run
		pidfd_send_signal(pidfd, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
		}
		close_fd(&pidfd);
		return;
	}
	// from here the janitor removes the cgroups
	e->nmade = 0;
	if (write(e->sync[1], "", 1) != 1) pidfd_send_signal(pidfd, SIGKILL);
	close_fd(&e->sync[1]);
	finish(e, pid, pidfd, jpid, set);
	close_fd(&pidfd);
}

// quick_run replays a run where everything above holds, or returns.
static void quick_run(struct entry *e, const char *root, const char *bundle, const char *id) {
	char p[ENTRY_PATH];
	const struct nook_quick_run *q;
	if (!clean_abs(bundle) || !run_file(p, root, bundle) || !(q = load_run(e, p))) return;
	if (strcmp(ref_str(e, q->bundle), bundle) != 0 || strcmp(ref_str(e, q->id), id) != 0) return;
	if (!same_file("/proc/self/exe", &q->exe) || !path(p, bundle, "config.json", NULL) || !same_file(p, &q->config))
		return;
	if (!same_namespaces(e, q->namespaces) || !same_stdio(q)) return;
	run_bundle(e, q);
}

void nook_entry_main(uint64_t *sp) {
	int argc = (int)sp[0];
	char **argv = (char **)(sp + 1);
	const char *root, *ref, *bundle = NULL;
	int cmd = 0, isrun = 0;
	if (argc < 1) return;
	if (!parse(argc, argv, &root, &ref, &cmd)) {
		if (!parse_run(argc, argv, &root, &bundle, &ref)) return;
		isrun = 1;
	}
	// errno lives behind the thread pointer
	struct nook_tls tls = {.self = &tls};
	if (arch_prctl_set_fs(&tls) < 0) return;
	struct entry es = {.init_pidfd = -1, .own_pidns = -1, .cgroup_fd = -1, .sync = {-1, -1}, .errp = {-1, -1},
			   .lifeline = {-1, -1}};
	struct entry *e = &es;
	struct stat st;
	char dir[ENTRY_PATH];
	const struct nook_quick *q;
	if (geteuid() != 0) goto out;
	// state.Open's rule for a root: a directory of root's that only
	// root may change
	if (lstat(root, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022)) goto out;
	if (isrun) {
		quick_run(e, root, bundle, ref);
		goto out;
	}
	if (!resolve(root, ref, dir) || !(q = load(e, dir)) || !unchanged(e, q, dir)) goto out;
	if ((e->init_pidfd = pidfd_open(q->init_pid, 0)) < 0) goto out;
	// after the pidfd: a start time that matches names the process the
	// pidfd holds, not one that got its pid since
	if (q->init_start == 0 || start_time(q->init_pid) != q->init_start) goto out;
	if (!devices_allowed(e, q) || !open_cgroups(e, q->cgroup_dir, q->cgroup_tasks)) goto out;
	run(e, q, argv + cmd, argc - cmd);
out:
	release(e);
	arch_prctl_set_fs(0);
}

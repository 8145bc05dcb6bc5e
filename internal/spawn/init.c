//go:build ignore

// init.c: the end of the child's plan. nook_exec execs the command, found
// through the sandbox's own PATH, or with Config.Init starts it as the
// child of nook's init: a PID 1 that passes signals on, reaps orphans,
// reports the command's raw wait status and leaves with it.
//
// Like steps.c, it runs in a single-threaded copy of (or beside) the Go
// process: no malloc, no stdio, no locks, no Go, nothing but system calls
// and stack buffers. Once the command has started, init must never report
// an error of its own (the command owns the error pipe until its exec) and
// never exit before the command has.
#include "child.h"

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
	char quoted[4096 + 3];
	size_t n = strlen(file);
	if (n > 4096) n = 4096;
	quoted[0] = '"';
	memcpy(quoted + 1, file, n);
	quoted[n + 1] = '"';
	quoted[n + 2] = 0;
	nook_fail(c->s, err == ENOENT ? NOOK_EXIT_NOTFOUND : NOOK_EXIT_NOEXEC, err, (const char *const[]){"exec", quoted, NULL});
}

static void prepare_exec(struct child *c, int tty) {
	if (tty) {
		if (setsid() < 0 && errno != EPERM) FAIL(c, errno, "setsid");
		if (ioctl(c->tty_slave, TIOCSCTTY, 0) < 0) FAIL(c, errno, "set controlling terminal");
		for (int i = 0; i < 3; i++)
			if (dup2(c->tty_slave, i) < 0) FAIL(c, errno, "dup2 pty");
		if (c->tty_slave > 2) close(c->tty_slave);
	} else {
		setsid();
	}
	ksigset none = 0;
	sigprocmask(SIG_SETMASK, &none, NULL);
}

// --- init --------------------------------------------------------------------

// the signals init passes on to the command
static const int forward[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGTSTP, 0};

// cmd_main is the command's side of init's clone: it execs or reports why
// not, on the error pipe init has not closed yet.
static int cmd_main(void *arg) {
	struct child *c = arg;
	prepare_exec(c, c->tty_slave >= 0);
	exec_cmd(c);
}

// run_init is PID 1: it starts the command, passes on the signals a
// supervisor sends, reaps every process orphaned into it, and leaves with
// the command. The command's raw wait status goes to the parent through
// status_fd, because PID 1 cannot die of a signal to say "killed by N".
static void __attribute__((noreturn)) run_init(struct child *c) {
	ksigset all = ~(ksigset)0;
	sigprocmask(SIG_SETMASK, &all, NULL);
	// named and made a subreaper before the command exists, so that
	// nothing the command does can see or slip past init without them
	// (the command is "nook-init" too until its exec names it). Orphans
	// are ours to reap even where the pid namespace is the host's, in
	// which we are not its init.
	prctl(PR_SET_NAME, "nook-init", 0, 0, 0);
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	// The command shares init's memory until its exec, as posix_spawn
	// does it: copying init's address space (itself a copy of the Go
	// process's) would cost more than the rest of the start. Init waits,
	// suspended, so the command is alone on the shared memory and on
	// init's thread control block (its errno).
	static const size_t stack_size = 64 * 1024;
	char stack[stack_size] __attribute__((aligned(16)));
	int orphan = c->s->orphan ? CLONE_PARENT : 0;
	long cmd = nook_clone(CLONE_VM | CLONE_VFORK | orphan | SIGCHLD, stack + stack_size, cmd_main, c);
	if (cmd < 0) FAIL(c, (int)-cmd, "start command");
	if (orphan) {
		// the command is the caller's child (then its subreaper's, once
		// the caller exits): tell the caller its pid, and leave. The
		// command has exec'd or failed by now (CLONE_VFORK).
		close(c->s->err_fd);
		int32_t pid = (int32_t)cmd;
		if (c->status_fd >= 0) {
			ssize_t w = write(c->status_fd, &pid, 4);
			(void)w;
		}
		_exit(0);
	}
	// from here on only the command reports errors
	close(c->s->err_fd);
	if (c->tty_slave >= 0) close(c->tty_slave);
	ksigset wanted = KSIG(SIGCHLD);
	for (int i = 0; forward[i]; i++) wanted |= KSIG(forward[i]);
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&wanted, &si);
		if (sig < 0) continue;
		if (sig != SIGCHLD) {
			kill((pid_t)cmd, sig);
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

// --- the last step -------------------------------------------------------------

void nook_exec(struct child *c, int init) {
	c->argv[c->argc] = NULL;
	c->envp[c->envc] = NULL;
	c->status_fd = c->s->status_fd;
	// nothing but stdio, the fds the caller passed on, and our own
	// close-on-exec pipes reaches the command
	close_range((unsigned)c->s->nfds, ~0U, CLOSE_RANGE_CLOEXEC);
	if (!init) {
		prepare_exec(c, c->tty_slave >= 0);
		exec_cmd(c);
	}
	run_init(c);
}


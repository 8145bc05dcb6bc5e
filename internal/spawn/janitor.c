//go:build ignore

// janitor.c: the janitor, a small process that waits for nook to close its
// lifeline (or die), kills what is left of the sandbox, and carries out the
// cleanup steps (package spawn's Cleanup): kill a cgroup's processes,
// remove cgroups, unmount, unlink. It outlives nook if it has to.
//
// It shares the Go process's memory (CLONE_VM: nothing is copied) and runs
// beside it for as long as the sandbox lives, so it must never touch
// anything the Go side uses: it runs on its own stack, reads only its own
// block (struct nook_janitor, unmapped by Go after reaping it), and makes
// every system call directly (rsys), never through sys.h's wrappers: they
// write errno through the thread pointer, which in the janitor is still a
// Go thread's. No errno, then, and no malloc, no locks.
#include "child.h"

#include <asm/poll.h>
#include <linux/time_types.h>

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
	long fd = rsys(__NR_openat, AT_FDCWD, (long)path, O_WRONLY | O_CLOEXEC, 0, 0);
	if (fd >= 0) {
		long w = rsys(__NR_write, fd, (long)"1", 1, 0, 0);
		rsys(__NR_close, fd, 0, 0, 0, 0);
		if (w == 1) return;
	}
	if (!jcat(path, sizeof path, dir, "cgroup.procs")) return;
	for (int round = 0; round < 200; round++) {
		fd = rsys(__NR_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC, 0, 0);
		if (fd < 0) return;
		int found = 0;
		long pid = 0, n;
		while ((n = rsys(__NR_read, fd, (long)buf, sizeof buf, 0, 0)) > 0) {
			for (long i = 0; i < n; i++) {
				if (buf[i] >= '0' && buf[i] <= '9') {
					pid = pid * 10 + (buf[i] - '0');
				} else if (pid > 0) {
					rsys(__NR_kill, pid, SIGKILL, 0, 0, 0);
					found = 1;
					pid = 0;
				}
			}
		}
		if (pid > 0) rsys(__NR_kill, pid, SIGKILL, 0, 0, 0), found = 1;
		rsys(__NR_close, fd, 0, 0, 0, 0);
		if (!found) return;
		struct __kernel_timespec ts = {0, 10 * 1000 * 1000};
		rsys(__NR_nanosleep, (long)&ts, 0, 0, 0, 0);
	}
}

// janitor_main waits for nook to close the lifeline; then it makes sure
// the sandbox is dead and removes what the sandbox leaves on the host
// (cgroups, state files), which nothing inside the sandbox can reach. It
// outlives nook if it has to. One process does this on every exit path,
// the normal one included, so there is only one way to clean up.
int nook_janitor_main(void *arg) {
	struct nook_janitor *j = arg;
	struct kernel_sigaction ign = {(void *)1 /* SIG_IGN */, 0, 0, 0};
	for (long i = 1; i < 65; i++)
		if (i != SIGKILL && i != SIGSTOP && i != SIGCHLD) rsys(__NR_rt_sigaction, i, (long)&ign, 0, 8, 0);
	uint64_t none = 0;
	rsys(__NR_rt_sigprocmask, SIG_SETMASK, (long)&none, 0, 8, 0);
	// keep only the lifeline and the sandbox's pidfd: nothing of nook's
	// stays open because of us
	int lf = j->lifeline, pf = j->pidfd;
	int lo = lf < pf ? lf : pf, hi = lf < pf ? pf : lf;
	if (lo > 0) rsys(__NR_close_range, 0, lo - 1, 0, 0, 0);
	if (hi > lo + 1) rsys(__NR_close_range, lo + 1, hi - 1, 0, 0, 0);
	rsys(__NR_close_range, hi + 1, ~0U, 0, 0, 0);
	rsys(__NR_setsid, 0, 0, 0, 0, 0);
	rsys(__NR_prctl, PR_SET_NAME, (long)"nook-janitor", 0, 0, 0);

	char buf[64];
	for (;;) {
		long r = rsys(__NR_read, lf, (long)buf, sizeof buf, 0, 0);
		if (r <= 0 && r != -EINTR) break;
	}
	// nook is done or dead; so is the sandbox, now. Its PID 1 takes the
	// rest of its pid namespace with it.
	rsys(__NR_pidfd_send_signal, pf, SIGKILL, 0, 0, 0);
	struct pollfd p = {.fd = pf, .events = POLLIN};
	struct __kernel_timespec five = {5, 0};
	rsys(__NR_ppoll, (long)&p, 1, (long)&five, 0, 0);

	size_t off = 0;
	struct rec r;
	while (nook_next(j->jops, j->jops_len, &off, &r) > 0) {
		if (r.size < sizeof(struct nook_step) + sizeof(struct nook_path)) break;
		const struct nook_path *a = nook_fixed(&r);
		const char *path = nook_str(&r, a->path);
		if (!path) break;
		switch (r.op) {
		case NOOK_JOP_KILL:
			janitor_kill(path);
			break;
		case NOOK_JOP_RMDIR:
			// a cgroup stays busy for a moment after its last task
			// exits, and until then some process of the sandbox may
			// live on; wait up to ten seconds
			for (int i = 0; i < 1000; i++) {
				long e = rsys(__NR_unlinkat, AT_FDCWD, (long)path, AT_REMOVEDIR, 0, 0);
				if (e != -EBUSY) break;
				struct __kernel_timespec ts = {0, 10 * 1000 * 1000};
				rsys(__NR_nanosleep, (long)&ts, 0, 0, 0, 0);
			}
			break;
		case NOOK_JOP_UNLINK:
			rsys(__NR_unlinkat, AT_FDCWD, (long)path, 0, 0, 0);
			break;
		case NOOK_JOP_UMOUNT:
			rsys(__NR_umount2, (long)path, MNT_DETACH, 0, 0, 0);
			break;
		}
	}
	rsys(__NR_exit_group, 0, 0, 0, 0, 0);
	return 0;
}


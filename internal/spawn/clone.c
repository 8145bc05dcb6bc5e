//go:build cgo

// clone.c: the parent's side of a spawn. nook_spawn, called from Go,
// blocks every signal, clones the child into its new namespaces (and its
// cgroup, on v2), sharing nook's memory where it can with a stack and
// thread-local storage of its own (see below), clones the janitor beside
// it, and returns their pids.
//
// It runs on a Go thread, in the Go process: it must never touch what the
// Go runtime owns (signal handlers, the thread's state), never leave
// signals blocked, and hand the child and the janitor only memory that Go
// frees after reaping them. The child itself starts in steps.c.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "child.h"

struct clone_args_ {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

// clone_args fills in what both ways of cloning the child share: a pidfd,
// SIGCHLD, and the cgroup to start in (CLONE_INTO_CGROUP, cgroup v2: the
// parent then has no cgroup to join between clone and release).
static void clone_args(struct clone_args_ *a, const struct nook_spawn *s, int *pidfd) {
	memset(a, 0, sizeof *a);
	a->flags = s->clone_flags | CLONE_PIDFD;
	a->pidfd = (uint64_t)(uintptr_t)pidfd;
	a->exit_signal = SIGCHLD;
	if (s->cgroup_fd >= 0) {
		a->flags |= CLONE_INTO_CGROUP;
		a->cgroup = (uint64_t)s->cgroup_fd;
	}
}

// clone_copy clones a child with a copy of nook's memory, which returns
// from here as a fork would.
static long clone_copy(const struct nook_spawn *s, int *pidfd) {
	struct clone_args_ a;
	clone_args(&a, s, pidfd);
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
	nook_child_main(arg);
	return 0;
}

// nook_raw_clone3 is clone3 for a child on a stack of its own: glibc exports no
// wrapper for it, and clone() cannot pass the flags above 32 bits or a
// cgroup. It returns the child's pid, or -errno; the child calls fn(arg)
// on its new stack and exits with its result. fn and arg live in
// registers the system call keeps (rdx, r8), since the child has no frame
// to read them from.
long nook_raw_clone3(struct clone_args_ *args, size_t size, int (*fn)(void *), void *arg);
__asm__(".text\n"
	".globl nook_raw_clone3\n"
	".hidden nook_raw_clone3\n"
	".type nook_raw_clone3, @function\n"
	"nook_raw_clone3:\n"
	"	mov %rcx, %r8\n"
	"	mov $435, %eax\n" // SYS_clone3
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jz 1f\n"
	"	ret\n"
	"1:	xor %ebp, %ebp\n"
	"	and $-16, %rsp\n"
	"	mov %r8, %rdi\n"
	"	call *%rdx\n"
	"	mov %rax, %rdi\n"
	"	mov $60, %eax\n" // SYS_exit
	"	syscall\n"
	"	hlt\n"
	".size nook_raw_clone3, .-nook_raw_clone3\n");
_Static_assert(SYS_clone3 == 435 && SYS_exit == 60, "x86-64 system call numbers");

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
	struct clone_args_ a;
	clone_args(&a, s, pidfd);
	a.flags |= CLONE_VM | CLONE_SETTLS;
	a.tls = (uint64_t)(uintptr_t)tp;
	// the stack is the block above the TLS, 16-byte aligned at its top
	a.stack = (uint64_t)(uintptr_t)(block + tls_size);
	a.stack_size = ((uint64_t)(uintptr_t)block + s->child_block_size - a.stack) & ~(uint64_t)15;
	long r = nook_raw_clone3(&a, sizeof a, child_entry, s);
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}
#else
static long clone_vm(struct nook_spawn *s, int *pidfd) {
	(void)s, (void)pidfd;
	errno = ENOSYS;
	return -1;
}
#endif

// A pid namespace given by path cannot be joined by the child itself:
// setns(CLONE_NEWPID) changes only the namespace of the caller's future
// children, so a child that joined it would stay outside, and the
// container's process with it (a pod's containers share the pause
// process's). So this thread enters it for the clone alone, and goes back
// to nook's own at once, before the janitor (which must outlive the
// namespace's init) or anything of Go's is cloned from it. Entering a pid
// namespace is allowed to a multithreaded process, and a thread may
// always go back to its own active one.
int nook_spawn(struct nook_spawn *s) {
	sigset_t all, old;
	int pidfd = -1;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	long pid = -1;
	if (s->pidns_fd >= 0 && setns(s->pidns_fd, CLONE_NEWPID) < 0) {
		int e = errno;
		s->pidns_failed = 1;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return -e;
	}
	if (s->share_memory) pid = clone_vm(s, &pidfd);
	if (pid < 0) {
		s->share_memory = 0;
		pid = clone_copy(s, &pidfd);
		if (pid == 0) nook_child_main(s);
	}
	int e = errno;
	if (s->pidns_fd >= 0 && setns(s->own_pidns_fd, CLONE_NEWPID) < 0) {
		// the Go side keeps this thread locked and lets it die, and
		// kills the child: it has no janitor
		e = errno;
		s->pidns_failed = 2;
		if (pid >= 0) {
			s->pid = (int)pid;
			s->pidfd = pidfd;
		}
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return -e;
	}
	if (pid < 0) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return -e;
	}
	s->pid = (int)pid;
	s->pidfd = pidfd;
	s->janitor_pid = 0;
	if (s->janitor_block) {
		// the block is [struct janitor | stack], allocated by the Go
		// side, which frees it only after reaping the janitor
		struct nook_janitor *j = s->janitor_block;
		j->lifeline = s->lifeline_fd;
		j->pidfd = pidfd;
		j->jops = s->jops;
		j->jops_len = s->jops_len;
		char *top = (char *)s->janitor_block + s->janitor_block_size;
		top = (char *)((uintptr_t)top & ~(uintptr_t)15);
		long jp = clone(nook_janitor_main, top, CLONE_VM | SIGCHLD, j);
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


// sys.h: the little of libc the child uses, written out: system calls,
// errno, and a few string and memory functions. The C side of spawn is
// compiled freestanding (mkchild.sh: no libc, no start files) into
// child_linux_amd64.syso, which Go's own linker links into nook without
// cgo; see the package doc for why. Nothing here may need writable data
// or an absolute address (mkchild.sh refuses both).
//
// errno lives in the child's thread control block (struct nook_tls), which
// the parent hands it with CLONE_SETTLS: a child that shares nook's memory
// must not share an errno with another child started at the same time.
// The janitor never touches errno (it makes its system calls with rsys and
// keeps the Go thread's thread pointer, which is not its own to use).
//
// The kernel's UAPI headers give the constants and the structures; the
// wrappers have libc's names and conventions (-1 and errno), so that the
// steps read as ordinary system programming.
#ifndef NOOK_SYS_H
#define NOOK_SYS_H

#include <stddef.h>
#include <stdint.h>

#include "spawn.h"

#include <asm/ioctls.h>
#include <asm/socket.h>
#include <asm/stat.h>
#include <asm/statfs.h>
#include <asm/unistd.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/errno.h>
#include <linux/fcntl.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <linux/poll.h>
#include <linux/prctl.h>
#include <linux/resource.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <linux/signal.h>
#include <linux/sockios.h>
#include <linux/stat.h>
#include <linux/termios.h>
#include <linux/wait.h>

#if !defined(__x86_64__)
#error "nook's child is built for x86-64 only (mkchild.sh)"
#endif

typedef long ssize_t;
typedef unsigned int mode_t;
typedef unsigned long dev_t;
typedef int pid_t;
typedef unsigned int gid_t;

// --- system calls ------------------------------------------------------------

// rsys makes a system call and returns what the kernel returned: -errno on
// failure. It touches no memory of its own: safe on any thread.
static inline long rsys(long n, long a, long b, long c, long d, long e) {
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
	return ret;
}

static inline int *nook_errno(void) {
	struct nook_tls *t;
	__asm__("mov %%fs:0, %0" : "=r"(t));
	return &t->err;
}
#define errno (*nook_errno())

// sys: rsys with libc's convention, -1 and errno.
static inline long sys(long n, long a, long b, long c, long d, long e) {
	long r = rsys(n, a, b, c, d, e);
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return -1;
	}
	return r;
}
#define SYS0(n) sys((n), 0, 0, 0, 0, 0)
#define SYS1(n, a) sys((n), (long)(a), 0, 0, 0, 0)
#define SYS2(n, a, b) sys((n), (long)(a), (long)(b), 0, 0, 0)
#define SYS3(n, a, b, c) sys((n), (long)(a), (long)(b), (long)(c), 0, 0)
#define SYS4(n, a, b, c, d) sys((n), (long)(a), (long)(b), (long)(c), (long)(d), 0)
#define SYS5(n, a, b, c, d, e) sys((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e))

static inline void __attribute__((noreturn)) _exit(int code) {
	for (;;) rsys(__NR_exit_group, code, 0, 0, 0, 0);
}
static inline ssize_t read(int fd, void *b, size_t n) { return SYS3(__NR_read, fd, b, n); }
static inline ssize_t write(int fd, const void *b, size_t n) { return SYS3(__NR_write, fd, b, n); }
static inline int openat(int dir, const char *p, int flags, mode_t mode) { return (int)SYS4(__NR_openat, dir, p, flags, mode); }
static inline int open(const char *p, int flags) { return openat(AT_FDCWD, p, flags, 0); }
static inline int close(int fd) { return (int)SYS1(__NR_close, fd); }
static inline int dup(int fd) { return (int)SYS1(__NR_dup, fd); }
static inline int dup2(int a, int b) { return (int)SYS2(__NR_dup2, a, b); }
static inline int fcntl(int fd, int cmd, long arg) { return (int)SYS3(__NR_fcntl, fd, cmd, arg); }
// ioctl takes a pointer or a number, as the request wants
static inline int sys_ioctl(int fd, unsigned long req, long arg) { return (int)SYS3(__NR_ioctl, fd, req, arg); }
#define ioctl(fd, req, arg) sys_ioctl((fd), (req), (long)(arg))
static inline int mkdirat(int dir, const char *p, mode_t m) { return (int)SYS3(__NR_mkdirat, dir, p, m); }
static inline int mkdir(const char *p, mode_t m) { return mkdirat(AT_FDCWD, p, m); }
static inline int mknodat(int dir, const char *p, mode_t m, dev_t d) { return (int)SYS4(__NR_mknodat, dir, p, m, d); }
static inline int fchmodat(int dir, const char *p, mode_t m, int flags) {
	(void)flags; // always 0 here; the system call has no flags
	return (int)SYS3(__NR_fchmodat, dir, p, m);
}
static inline int symlinkat(const char *t, int dir, const char *l) { return (int)SYS3(__NR_symlinkat, t, dir, l); }
static inline int stat(const char *p, struct stat *st) { return (int)SYS4(__NR_newfstatat, AT_FDCWD, p, st, 0); }
static inline int fstat(int fd, struct stat *st) { return (int)SYS2(__NR_fstat, fd, st); }
static inline int fstatfs(int fd, struct statfs *st) { return (int)SYS2(__NR_fstatfs, fd, st); }
static inline int chdir(const char *p) { return (int)SYS1(__NR_chdir, p); }
static inline int fchdir(int fd) { return (int)SYS1(__NR_fchdir, fd); }
static inline int chroot(const char *p) { return (int)SYS1(__NR_chroot, p); }
static inline int mount(const char *src, const char *dst, const char *fs, unsigned long flags, const void *data) {
	return (int)SYS5(__NR_mount, src, dst, fs, flags, data);
}
#define MNT_DETACH 2 // not in the UAPI headers: libc's sys/mount.h
static inline int umount2(const char *p, int flags) { return (int)SYS2(__NR_umount2, p, flags); }
static inline int mount_setattr(int fd, const char *p, unsigned flags, struct mount_attr *a, size_t n) {
	return (int)SYS5(__NR_mount_setattr, fd, p, flags, a, n);
}
static inline int open_tree(int dir, const char *p, unsigned flags) { return (int)SYS3(__NR_open_tree, dir, p, flags); }
static inline int move_mount(int fd, const char *p, int tofd, const char *top, unsigned flags) {
	return (int)SYS5(__NR_move_mount, fd, p, tofd, top, flags);
}
static inline int fsopen(const char *fs, unsigned flags) { return (int)SYS2(__NR_fsopen, fs, flags); }
static inline int fsconfig(int fd, unsigned cmd, const char *key, const void *val, int aux) {
	return (int)SYS5(__NR_fsconfig, fd, cmd, key, val, aux);
}
static inline int fsmount(int fd, unsigned flags, unsigned attr) { return (int)SYS3(__NR_fsmount, fd, flags, attr); }
static inline int pivot_root(const char *n, const char *o) { return (int)SYS2(__NR_pivot_root, n, o); }
static inline int openat2(int dir, const char *p, struct open_how *how, size_t n) {
	return (int)SYS4(__NR_openat2, dir, p, how, n);
}
static inline int close_range(unsigned lo, unsigned hi, unsigned flags) { return (int)SYS3(__NR_close_range, lo, hi, flags); }
// prctl takes numbers or pointers, as the operation wants
static inline int sys_prctl(int op, long a, long b, long c, long d) { return (int)SYS5(__NR_prctl, op, a, b, c, d); }
#define prctl(op, a, b, c, d) sys_prctl((op), (long)(a), (long)(b), (long)(c), (long)(d))
static inline int setns(int fd, int type) { return (int)SYS2(__NR_setns, fd, type); }
static inline int unshare(int flags) { return (int)SYS1(__NR_unshare, flags); }
static inline int sethostname(const char *n, size_t len) { return (int)SYS2(__NR_sethostname, n, len); }
static inline int setdomainname(const char *n, size_t len) { return (int)SYS2(__NR_setdomainname, n, len); }
static inline int setsid(void) { return (int)SYS0(__NR_setsid); }
static inline int setgroups(size_t n, const gid_t *g) { return (int)SYS2(__NR_setgroups, n, g); }
static inline int setresuid(unsigned r, unsigned e, unsigned s) { return (int)SYS3(__NR_setresuid, r, e, s); }
static inline int setresgid(unsigned r, unsigned e, unsigned s) { return (int)SYS3(__NR_setresgid, r, e, s); }
static inline int capset(struct __user_cap_header_struct *h, struct __user_cap_data_struct *d) {
	return (int)SYS2(__NR_capset, h, d);
}
static inline int seccomp(unsigned op, unsigned flags, const void *arg) { return (int)SYS3(__NR_seccomp, op, flags, arg); }
static inline int setrlimit(int res, const struct rlimit64 *r) { return (int)SYS4(__NR_prlimit64, 0, res, r, 0); }
static inline int execve(const char *p, char *const *argv, char *const *envp) { return (int)SYS3(__NR_execve, p, argv, envp); }
static inline int kill(pid_t pid, int sig) { return (int)SYS2(__NR_kill, pid, sig); }
static inline pid_t waitpid(pid_t pid, int *st, int flags) { return (pid_t)SYS4(__NR_wait4, pid, st, flags, 0); }
static inline pid_t getpid(void) { return (pid_t)SYS0(__NR_getpid); }
static inline pid_t getppid(void) { return (pid_t)SYS0(__NR_getppid); }
static inline int pipe2(int *fds, int flags) { return (int)SYS2(__NR_pipe2, fds, flags); }
static inline int pidfd_open(pid_t pid, unsigned flags) { return (int)SYS2(__NR_pidfd_open, pid, flags); }
static inline int poll(struct pollfd *fds, unsigned n, int ms) { return (int)SYS3(__NR_poll, fds, n, ms); }
static inline int lstat(const char *p, struct stat *st) { return (int)SYS4(__NR_newfstatat, AT_FDCWD, p, st, AT_SYMLINK_NOFOLLOW); }
static inline ssize_t readlinkat(int dir, const char *p, char *b, size_t n) { return SYS4(__NR_readlinkat, dir, p, b, n); }
static inline ssize_t readlink(const char *p, char *b, size_t n) { return readlinkat(AT_FDCWD, p, b, n); }
static inline unsigned geteuid(void) { return (unsigned)SYS0(__NR_geteuid); }
static inline int pidfd_send_signal(int fd, int sig) { return (int)SYS4(__NR_pidfd_send_signal, fd, sig, 0, 0); }
#define PROT_NONE 0
#define PROT_READ 1
#define PROT_WRITE 2
#define MAP_PRIVATE 0x02
#define MAP_ANONYMOUS 0x20
#define MAP_STACK 0x20000
#define MAP_FAILED ((void *)-1)
static inline void *mmap(void *a, size_t n, int prot, int flags, int fd, long off) {
	long r;
	register long r10 __asm__("r10") = flags;
	register long r8 __asm__("r8") = fd;
	register long r9 __asm__("r9") = off;
	__asm__ volatile("syscall" : "=a"(r) : "a"(__NR_mmap), "D"(a), "S"(n), "d"(prot), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
	return r < 0 && r > -4096 ? MAP_FAILED : (void *)r;
}
static inline int munmap(void *a, size_t n) { return (int)SYS2(__NR_munmap, a, n); }
static inline int mprotect(void *a, size_t n, int prot) { return (int)SYS3(__NR_mprotect, a, n, prot); }
// the thread pointer (%fs): the entry sets it to a block of its own for
// errno, and gives it back (0) before Go's runtime sets its own
#define ARCH_SET_FS 0x1002
// (raw: errno lives behind the thread pointer)
static inline long arch_prctl_set_fs(void *p) { return rsys(__NR_arch_prctl, ARCH_SET_FS, (long)p, 0, 0, 0); }

// --- sockets (the few constants the UAPI headers leave to libc) ---------------

#define AF_INET 2
#define SOCK_DGRAM 2
#define SOCK_CLOEXEC O_CLOEXEC
#define MSG_NOSIGNAL 0x4000

// struct ifreq as SIOCGIFFLAGS and SIOCSIFFLAGS use it (linux/if.h would
// bring in libc's headers)
#define IFNAMSIZ 16
#define IFF_UP 0x1
#define IFF_RUNNING 0x40
struct ifreq {
	char ifr_name[IFNAMSIZ];
	union {
		short ifr_flags;
		char pad[24];
	};
};

struct iovec {
	void *iov_base;
	size_t iov_len;
};
struct msghdr {
	void *msg_name;
	int msg_namelen;
	struct iovec *msg_iov;
	size_t msg_iovlen;
	void *msg_control;
	size_t msg_controllen;
	int msg_flags;
};
struct cmsghdr {
	size_t cmsg_len;
	int cmsg_level;
	int cmsg_type;
};
#define CMSG_ALIGN(n) (((n) + sizeof(size_t) - 1) & ~(sizeof(size_t) - 1))
#define CMSG_SPACE(n) (CMSG_ALIGN(n) + CMSG_ALIGN(sizeof(struct cmsghdr)))
#define CMSG_LEN(n) (CMSG_ALIGN(sizeof(struct cmsghdr)) + (n))
#define CMSG_FIRSTHDR(m) ((m)->msg_controllen >= sizeof(struct cmsghdr) ? (struct cmsghdr *)(m)->msg_control : NULL)
#define SCM_RIGHTS 1
#define CMSG_DATA(c) ((unsigned char *)(c) + CMSG_ALIGN(sizeof(struct cmsghdr)))

static inline int socket(int dom, int type, int proto) { return (int)SYS3(__NR_socket, dom, type, proto); }
static inline ssize_t sendmsg(int fd, const struct msghdr *m, int flags) { return SYS3(__NR_sendmsg, fd, m, flags); }

// --- signals -----------------------------------------------------------------

// The kernel's sigset: 64 signals, one bit each (signal n is bit n-1).
typedef uint64_t ksigset;
#define KSIG(n) (1ULL << ((n) - 1))

// struct kernel_sigaction is rt_sigaction's argument; SIG_DFL and SIG_IGN
// need no restorer.
struct kernel_sigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	ksigset mask;
};

static inline int sigaction_dfl(int sig) {
	struct kernel_sigaction a = {0};
	return (int)SYS4(__NR_rt_sigaction, sig, &a, 0, sizeof(ksigset));
}
static inline int sigprocmask(int how, const ksigset *set, ksigset *old) {
	return (int)SYS4(__NR_rt_sigprocmask, how, set, old, sizeof(ksigset));
}
static inline int sigwaitinfo(const ksigset *set, siginfo_t *si) {
	return (int)SYS4(__NR_rt_sigtimedwait, set, si, 0, sizeof(ksigset));
}

// nook_clone runs fn(arg) in a new process on stack_top; the parent gets
// the pid, or -errno. The new process keeps its parent's thread pointer,
// and so its errno (init's command, which init waits for: CLONE_VFORK).
long nook_clone(unsigned long flags, void *stack_top, int (*fn)(void *), void *arg);
// nook_clone3 is nook_clone with clone3's arguments (the stack among
// them): fn(arg) in the new process, which exits if fn returns.
long nook_clone3(struct clone_args *args, size_t size, void (*fn)(struct nook_spawn *), struct nook_spawn *arg);

#define WIFEXITED(s) (((s) & 0x7f) == 0)
#define WEXITSTATUS(s) (((s) & 0xff00) >> 8)
#define WTERMSIG(s) ((s) & 0x7f)

#define S_ISDIR(m) (((m) & S_IFMT) == S_IFDIR)
#define S_ISCHR(m) (((m) & S_IFMT) == S_IFCHR)
// the kernel's encoding of a device number (new_decode_dev)
#define major(d) ((unsigned)((((d) >> 32) & 0xfffff000) | (((d) >> 8) & 0xfff)))
#define minor(d) ((unsigned)((((d) >> 12) & 0xffffff00) | ((d) & 0xff)))

// --- memory and strings --------------------------------------------------------

// The compiler calls these four for struct copies and initialisers even
// in freestanding code (sys.c).
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

static inline size_t strlen(const char *s) {
	size_t n = 0;
	while (s[n]) n++;
	return n;
}
static inline int strncmp(const char *a, const char *b, size_t n) {
	for (; n; n--, a++, b++) {
		if (*a != *b) return (unsigned char)*a - (unsigned char)*b;
		if (!*a) return 0;
	}
	return 0;
}
static inline int strcmp(const char *a, const char *b) { return strncmp(a, b, (size_t)-1); }
static inline char *strchr(const char *s, int c) {
	for (;; s++) {
		if (*s == (char)c) return (char *)s;
		if (!*s) return NULL;
	}
}
static inline char *strrchr(const char *s, int c) {
	const char *last = NULL;
	for (;; s++) {
		if (*s == (char)c) last = s;
		if (!*s) return (char *)last;
	}
}

#endif

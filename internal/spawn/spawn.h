// Shared between child.c and the Go side (cgo reads this header): the
// step codes of a spawn plan and the parent's arguments. Keep the numbers
// in step with plan.go.
#ifndef NOOK_SPAWN_H
#define NOOK_SPAWN_H

#define NOOK_MAXARGS 12
#define NOOK_MAXARGV 4096
#define NOOK_MAXGROUPS 256
#define NOOK_MAXFDS 256
#define NOOK_EXIT_SETUP 125

enum {
	OP_SETSID = 1,
	OP_UNSHARE,
	OP_SETNS,
	OP_WRITE,
	OP_HOSTNAME,
	OP_DOMAINNAME,
	OP_LOOPBACK,
	OP_PROPAGATION,
	OP_BASE_PIVOT,
	OP_ROOT,
	OP_MOUNT,
	OP_SYMLINK,
	OP_MASK,
	OP_READONLY,
	OP_TTY,
	OP_PIVOT,
	OP_ROOT_READONLY,
	OP_CHDIR,
	OP_RLIMIT,
	OP_USER,
	OP_NO_NEW_PRIVS,
	OP_SECCOMP,
	OP_ARG,
	OP_ENV,
	OP_WAIT_FD,
	OP_EXEC,
	OP_DEVICE,
};

// what OP_ROOT makes the root under construction of
enum {
	ROOT_BIND = 0,	  // a bind of a directory (--rootfs)
	ROOT_TMPFS = 1,	  // an empty tmpfs (the host view)
	ROOT_OVERLAY = 2, // an image's layers (args: lower dirs NUL-separated, other options, scratch dir or "")
};

enum {
	JOP_RMDIR = 1,
	JOP_UNLINK,
	JOP_UMOUNT,
	JOP_KILL,
};

struct nook_spawn {
	const unsigned char *ops;
	unsigned long ops_len;
	const unsigned char *jops;
	unsigned long jops_len;
	unsigned long long clone_flags;
	int cgroup_fd;	 // >= 0: start in this cgroup (v2, CLONE_INTO_CGROUP)
	int sync_fd;	 // the child waits for one byte here before its steps
	int err_fd;	 // close-on-exec; the child writes an error record here
	int tty_sock;	 // -t: the socket the pty master is sent over, or -1
	int status_fd;	 // init: where the command's wait status goes, or -1
	int wait_fd;	 // OP_WAIT_FD blocks on this fd (OCI start), or -1
	int lifeline_fd; // read end the janitor waits on
	void *janitor_block; // the janitor's memory and stack, or NULL for no janitor
	unsigned long janitor_block_size;
	int share_memory; // in: try CLONE_VM with child_block; out: whether it was used
	void *child_block; // the child's TLS and stack with share_memory, freed after it is reaped
	unsigned long child_block_size;
	int nfds;	 // the child's fds 0..nfds-1 are fds[0..nfds-1] (-1: closed)
	int fds[NOOK_MAXFDS];
	// results
	int pid;
	int pidfd;
	int janitor_pid;
};

int nook_spawn(struct nook_spawn *s);

#endif

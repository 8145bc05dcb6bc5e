// What the C files of the spawn share among themselves (spawn.h is what
// they share with Go): the child's state, error reporting, and reading a
// plan's records.
//
//	steps.c    the child: from clone to the last step, one function per step
//	init.c     the child's end: exec the command, or become its init
//	janitor.c  the janitor: cleanup on the host, whatever becomes of nook
#ifndef NOOK_CHILD_H
#define NOOK_CHILD_H

#include "spawn.h"
#include "sys.h"

// The child's state while it runs its steps.
struct child {
	const struct nook_spawn *s;
	int rootfd;	       // the new root while it is built, -1 before
	const char *procdir;   // where the host's /proc is reachable now
	const char *hostdir;   // prefix under which the host's / is reachable now
	int status_fd;	       // init: where the command's wait status goes
	int tty_slave;	       // -t: the pty's other end, for the command
	const char *argv[NOOK_MAXARGV + 1];
	const char *envp[NOOK_MAXARGV + 1];
	int argc, envc;
	int null_fd; // the verified null device, opened on the first mask
	int nopivot;	 // move mounts and chroot instead of pivot_root (NOOK_OP_NO_PIVOT)
	int realroot_fd; // no-pivot: the real "/", under the chroot of the base root
	pid_t parent;	 // getppid() at the start: 0 where the parent is outside our pid namespace
	uint64_t joined; // CLONE_NEW* joined by the setns_pidfd step: its setns steps are skipped
};

// One record of a plan: its bytes, header included.
struct rec {
	const unsigned char *b;
	uint32_t op;
	uint32_t size;
};

// nook_next reads the record at *off and advances past it: 1, 0 at the
// end, -1 if the plan is malformed (a bug in plan.go). Records are 8-byte
// aligned in an 8-byte aligned buffer, so their fixed parts are read in
// place. No libc: the janitor uses it too.
static inline int nook_next(const unsigned char *buf, size_t n, size_t *off, struct rec *r) {
	if (*off >= n) return 0;
	if (n - *off < sizeof(struct nook_step)) return -1;
	const struct nook_step *h = (const struct nook_step *)(const void *)(buf + *off);
	if (h->size < sizeof *h || h->size % 8 || h->size > n - *off) return -1;
	r->b = buf + *off;
	r->op = h->op;
	r->size = h->size;
	*off += h->size;
	return 1;
}

// nook_fixed returns the record's fixed part.
static inline const void *nook_fixed(const struct rec *r) { return r->b + sizeof(struct nook_step); }

// nook_str returns the string x of record r, or NULL if it does not lie
// inside the record or lacks its NUL.
static inline const char *nook_str(const struct rec *r, struct nook_ref x) {
	if ((uint64_t)x.off + x.len + 1 > r->size || r->b[x.off + x.len] != 0) return NULL;
	return (const char *)r->b + x.off;
}

// nook_fail reports "part part ...: errno" to the parent and exits with
// code. The parts are joined with spaces, empty ones left out; the list
// ends in NULL. The parent turns the errno into Go's text.
void __attribute__((noreturn)) nook_fail(const struct nook_spawn *s, int code, int err, const char *const *parts);

// FAIL(c, err, "what", path...): a failed set-up step.
#define FAIL(c, err, ...) nook_fail((c)->s, NOOK_EXIT_SETUP, (err), (const char *const[]){__VA_ARGS__, NULL})

// nook_exec ends the plan: exec the command, or start it under nook's
// init (init.c).
void __attribute__((noreturn)) nook_exec(struct child *c, int init);

#endif

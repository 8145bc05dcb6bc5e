// What the Go side and the C side of a spawn share: the step codes of a
// plan, the layout of each step's record, the error record, and the
// parent's arguments to the child (struct nook_spawn). The Go side's twins
// of these types (plan.go, spawn.go) are checked against it by
// TestLayoutMatchesC, field by field, with the C compiler's own offsets
// (the DWARF that layout.c leaves in the child's object): a difference
// fails the tests instead of a sandbox start. The constants are enums for
// the same reason: a #define leaves no trace in the object.
//
// A plan is a list of records, each 8-byte aligned:
//
//	struct nook_step { op, size }   size: the whole record, header included
//	struct nook_<step>              the step's fixed fields (none for some)
//	bytes                           strings (each NUL-terminated) and blobs
//
// A string or blob is a struct nook_ref: its offset from the start of its
// record and its length (a string's NUL not counted).
#ifndef NOOK_SPAWN_H
#define NOOK_SPAWN_H

#include <stdint.h>

enum nook_limit {
	NOOK_MAXARGV = 4096,
	NOOK_MAXGROUPS = 256,
	NOOK_MAXFDS = 256,
	NOOK_MAXCGROUPS = 16, // the most cgroup v1 hierarchies a child joins itself (cgroup_tasks)
};

// The child's exit statuses when it fails before the command runs, as a
// shell reports them.
enum nook_exit {
	NOOK_EXIT_SETUP = 125,	  // the sandbox's set-up failed
	NOOK_EXIT_NOEXEC = 126,	  // the command cannot be executed
	NOOK_EXIT_NOTFOUND = 127, // the command does not exist
};

// The child's steps, in the order a plan usually lists them.
enum nook_op {
	NOOK_OP_SETSID = 1,	// -
	NOOK_OP_UNSHARE,	// nook_unshare
	NOOK_OP_SETNS,		// nook_setns
	NOOK_OP_WRITE,		// nook_write
	NOOK_OP_HOSTNAME,	// nook_name
	NOOK_OP_DOMAINNAME,	// nook_name
	NOOK_OP_LOOPBACK,	// -
	NOOK_OP_PROPAGATION,	// nook_propagation
	NOOK_OP_BASE_PIVOT,	// nook_path
	NOOK_OP_ROOT,		// nook_root
	NOOK_OP_MOUNT,		// nook_mount
	NOOK_OP_SYMLINK,	// nook_symlink
	NOOK_OP_MASK,		// nook_path
	NOOK_OP_READONLY,	// nook_path
	NOOK_OP_TTY,		// nook_tty
	NOOK_OP_PIVOT,		// -
	NOOK_OP_ROOT_READONLY,	// -
	NOOK_OP_CHDIR,		// nook_path
	NOOK_OP_RLIMIT,		// nook_rlimit
	NOOK_OP_USER,		// nook_user
	NOOK_OP_NO_NEW_PRIVS,	// -
	NOOK_OP_SECCOMP,	// nook_seccomp
	NOOK_OP_ARG,		// nook_path (the argument)
	NOOK_OP_ENV,		// nook_path (NAME=VALUE)
	NOOK_OP_EXEC,		// nook_exec
	NOOK_OP_DEVICE,		// nook_device
	NOOK_OP_OVERLAY_ROOT,	// nook_overlay_root
	NOOK_OP_CHROOT,		// nook_path
	NOOK_OP_NO_PIVOT,	// -
	NOOK_OP_DETACH,		// nook_path (a host path)
	NOOK_OP_HOOK,		// nook_hook
	NOOK_OP_ROOT_NODEV,	// -
	NOOK_OP_SETNS_PIDFD,	// nook_setns_pidfd
	NOOK_OP_MAX
};

// The janitor's steps, run on the host after the sandbox is gone. Each
// record is a nook_path.
enum nook_janitor_op {
	NOOK_JOP_RMDIR = 1,	// rmdir, retrying while the cgroup is busy
	NOOK_JOP_UNLINK,	// unlink a file
	NOOK_JOP_UMOUNT,	// detach a mount (MNT_DETACH)
	NOOK_JOP_KILL,		// kill every process of a cgroup
	NOOK_JOP_MAX
};

// What to create at a mount's destination when it is missing.
enum nook_mount_point {
	NOOK_MOUNT_POINT_AUTO = 0,	// a bind's source decides; a directory otherwise
	NOOK_MOUNT_POINT_DIR = 1,
	NOOK_MOUNT_POINT_FILE = 2,
};

struct nook_ref {
	uint32_t off;
	uint32_t len;
};

struct nook_step {
	uint32_t op;
	uint32_t size;
};

struct nook_unshare {
	uint64_t flags; // CLONE_NEW*
};

struct nook_setns {
	struct nook_ref path;
	uint64_t nstype; // CLONE_NEW*, or 0 for any
};

// The namespaces of the spawn's ns_pidfd to join in one setns (Linux 5.8);
// the setns steps after it for the same types are then skipped. Where the
// kernel refuses it, those steps do the work.
struct nook_setns_pidfd {
	uint64_t nstypes; // CLONE_NEW*
};

struct nook_write {
	struct nook_ref path; // a procfs file
	struct nook_ref data;
};

struct nook_name {
	struct nook_ref name;
};

struct nook_propagation {
	uint64_t flags; // MS_PRIVATE, MS_SLAVE... | MS_REC
};

struct nook_path {
	struct nook_ref path;
};

struct nook_root {
	struct nook_ref path;
	uint32_t tmpfs; // 1: a fresh tmpfs, 0: path bound onto itself
	uint32_t pad;
};

// An image's overlay as the root under construction (OverlayRoot in
// plan.go).
struct nook_overlay_root {
	struct nook_ref path;	 // where it is mounted: the root under construction
	struct nook_ref lowers;	 // blob: the lower directories, top first, each NUL-terminated
	struct nook_ref options; // the others, comma-separated: upperdir=..., userxattr
	struct nook_ref scratch; // a directory of the base root for a tmpfs upper, or ""
};

struct nook_mount {
	struct nook_ref source; // a host path for a bind, as the child sees it
	struct nook_ref target; // inside the new root
	struct nook_ref fstype; // empty for a bind
	struct nook_ref data;
	uint64_t flags;	      // mount(2) flags
	uint64_t attr;	      // MOUNT_ATTR_* set afterwards
	uint64_t propagation; // MS_PRIVATE... set afterwards, or 0
	uint32_t point;	      // enum nook_mount_point
	uint32_t pad;
};

struct nook_symlink {
	struct nook_ref target;
	struct nook_ref link; // inside the new root
};

struct nook_device {
	struct nook_ref host; // the host's node, as the child sees it
	struct nook_ref path; // inside the new root
	uint64_t rdev;
	uint32_t mode; // file type and permissions
	uint32_t pad;
};

struct nook_rlimit {
	struct nook_ref name; // RLIMIT_NOFILE..., for errors
	uint32_t resource;
	uint32_t pad;
	uint64_t soft;
	uint64_t hard;
};

struct nook_user {
	uint32_t uid;
	uint32_t gid;
	struct nook_ref groups; // uint32_t each
	uint32_t set_groups;	// 0 where the user namespace denies setgroups
	uint32_t set_caps;	// 0: leave capabilities as the user has them
	uint64_t bounding;
	uint64_t effective;
	uint64_t permitted;
	uint64_t inheritable;
	uint64_t ambient;
	uint32_t last_cap; // the kernel's highest capability
	uint32_t pad;
};

struct nook_seccomp {
	struct nook_ref filter; // struct sock_filter[]
	uint32_t flags;		// SECCOMP_FILTER_FLAG_*
	uint32_t pad;
};

struct nook_tty {
	uint32_t rows; // the terminal's size, set before the command starts;
	uint32_t cols; // 0 and 0 leave the kernel's default
};

struct nook_exec {
	uint32_t init; // 1: nook's init is PID 1, the command its child
	uint32_t pad;
};

// A hook of the spec that runs in the container's namespaces, as a child
// of the child: createContainer before the pivot, startContainer once
// start's byte came (the first such step waits for it).
struct nook_hook {
	struct nook_ref name;  // createContainer or startContainer, for errors
	struct nook_ref path;  // as the child sees it at that step
	struct nook_ref args;  // blob: argv, each NUL-terminated
	struct nook_ref env;   // blob: NAME=VALUE, each NUL-terminated
	struct nook_ref state; // the OCI state as JSON without its closing brace: the child adds ,"pid":N} with its own pid
	uint32_t timeout;      // seconds; 0: none
	uint32_t start;        // 1: wait for start's byte first (a held child)
};

// The fixed size of each step's record, indexed by op (the interpreter
// checks every record against it; the Go side's test reads it).
extern const uint32_t nook_step_size[NOOK_OP_MAX];

// The child writes one error record, then the message, to the error pipe
// when it fails before the command runs.
struct nook_error {
	int32_t err;   // errno
	uint32_t exit; // what the child exits with: NOOK_EXIT_*
	uint32_t len;  // of the message that follows
	uint32_t pad;
};

// What the child reads, written by the parent (spawn.go) at the top of
// the child's stack, below its plan.
struct nook_spawn {
	const unsigned char *ops;
	unsigned long ops_len;
	// restore_nofile: RLIMIT_NOFILE as it was when nook started, before
	// Go's runtime raised its soft limit, which the child sets back
	// first, as Go's own exec does for its children
	uint64_t nofile_cur;
	uint64_t nofile_max;
	int restore_nofile;
	int sync_fd;	// the child waits for one byte here before its steps
	int err_fd;	// close-on-exec; the child writes an error record here
	int tty_sock;	// -t: the socket the pty master is sent over, or -1
	int status_fd;	// init: where the command's wait status goes, or -1
	int orphan;	// with init: the command becomes the caller's child (CLONE_PARENT), init reports its pid and exits
	int hold_fd;	// >= 0: after the last step, wait for one byte here before exec (no parent-death signal)
	int start_err_fd; // held child: close-on-exec; the error pipe once start's byte came (a FIFO start reads), or -1
	int ns_pidfd;	// a pidfd of the process whose namespaces the setns_pidfd step joins, or -1
	int net_fd;	// >= 0: a network namespace made for the child, which it joins before its first step
	// v1: the sandbox's cgroups' tasks files, open for writing; the child
	// writes "0" to each after the release, before its first step
	int ncgroup_tasks;
	int cgroup_tasks[NOOK_MAXCGROUPS];
	int nfds; // the child's fds 0..nfds-1 are fds[0..nfds-1] (-1: closed)
	int fds[NOOK_MAXFDS];
};

// The child's thread control block: its thread pointer (%fs, set by
// CLONE_SETTLS) points here, and the first word at itself, as the x86-64
// ABI has it. It holds the child's errno (sys.h), which would be shared
// with every other child started at the same time if it were a global.
struct nook_tls {
	struct nook_tls *self;
	int err;
	int pad;
};

// nook_child_main is the child's entry point (steps.c), on a stack of its
// own, with the thread pointer at a struct nook_tls (sys.h); it never
// returns.
void __attribute__((noreturn)) nook_child_main(struct nook_spawn *s);

// nook_janitor_main is the janitor's entry point (janitor.c); arg is its
// struct nook_janitor.
int nook_janitor_main(void *arg);

// The janitor's block: what it reads, in memory of its own.
struct nook_janitor {
	int lifeline;
	int pidfd;
	const unsigned char *jops;
	unsigned long jops_len;
};

// --- the prepared exec ------------------------------------------------------
//
// A prepared exec (quick.go) is a plain `nook exec SANDBOX COMMAND...`
// worked out by Go once and kept in the sandbox's directory, so that the
// next one is started by entry.c before Go's runtime starts at all. The
// file is a struct nook_quick, then what its refs point at; every ref is
// an offset from the start of the file, and each string is NUL-terminated
// (its NUL not counted). entry.c uses it only while everything it was
// made under still holds: the files it names unchanged, the caller in the
// same namespaces, init the same process. Otherwise nook starts as usual.

enum nook_quick_format {
	NOOK_QUICK_MAGIC = 0x6b6f6f6e,	// "nook", little-endian
	NOOK_QUICK_VERSION = 2,		// change with any change of the format
	NOOK_QUICK_RUN_MAGIC = 0x6e726b6e, // "nkrn", little-endian: a struct nook_quick_run
	NOOK_QUICK_MAX = 1 << 20,	// the largest file entry.c reads
	NOOK_QUICK_ANY_MINOR = -1,	// struct nook_quick_dev: every minor
};

enum nook_quick_flag {
	NOOK_QUICK_PID_NS = 1,		// the command is cloned into init's pid namespace
	NOOK_QUICK_DEVICES_HELD = 2,	// a device cgroup holds the command's devices back
	NOOK_QUICK_SHARE_MEMORY = 4,	// run: the child shares the entry's memory (CLONE_VM)
};

// What one of the caller's stdin, stdout and stderr was when a run was
// prepared (struct nook_quick_run): whether the sandbox needs a device
// cgroup may depend on it.
enum nook_quick_stdio_kind {
	NOOK_QUICK_STDIO_OTHER = 0, // open, and not a device
	NOOK_QUICK_STDIO_CHAR = 1,
	NOOK_QUICK_STDIO_BLOCK = 2,
};

// A file as it was when the exec or run was prepared: the sandbox's state
// and spec are replaced (renamed over), never rewritten, and any write to a
// bundle's config.json changes its ctime, so another inode, size or time
// means another file.
struct nook_quick_file {
	struct nook_ref name; // in the sandbox's directory or the bundle ("" for exe)
	uint64_t dev;
	uint64_t ino;
	uint64_t size;
	int64_t mtime_sec;
	int64_t mtime_nsec;
	int64_t ctime_sec;
	int64_t ctime_nsec;
};

// A namespace of the caller's (/proc/self/ns/NAME) as it was: which of
// the sandbox's namespaces the plan joins depends on which it shares with
// its caller.
struct nook_quick_ns {
	struct nook_ref name;
	uint64_t ino;
};

// A character device the command may be given as its stdin, stdout or
// stderr without a device cgroup to hold it back.
struct nook_quick_dev {
	uint32_t major;
	uint32_t minor; // or NOOK_QUICK_ANY_MINOR
};

struct nook_quick {
	uint32_t magic;   // NOOK_QUICK_MAGIC
	uint32_t version; // NOOK_QUICK_VERSION
	uint64_t size;	  // of the whole file
	int32_t init_pid; // the sandbox's init, whose namespaces are joined
	uint32_t flags;	  // enum nook_quick_flag
	uint64_t init_start;   // its start time: field 22 of /proc/PID/stat
	uint64_t signals;      // KSIG(n) of each signal passed on to the command
	struct nook_quick_file exe; // the nook binary that prepared it: another one (an upgrade) prepares its own
	struct nook_ref files;	    // struct nook_quick_file[]
	struct nook_ref namespaces; // struct nook_quick_ns[]
	struct nook_ref devices;    // struct nook_quick_dev[]
	struct nook_ref cgroup_dir;   // v2: the cgroup the command is cloned into, or ""
	struct nook_ref cgroup_tasks; // v1: each hierarchy's tasks file, each NUL-terminated
	struct nook_ref head;	    // the plan's steps before the command's arguments
	struct nook_ref tail;	    // and after them
};

// --- the prepared run -------------------------------------------------------
//
// A prepared run (quickrun.go, QuickRun) is a plain `nook run --bundle DIR
// ID` worked out by Go, kept in the state root (nook_run_dir, a file named
// by a hash of the bundle's path), for entry.c to start the next one of
// the same bundle and ID: it makes the cgroups as Go made them, clones the
// same child and janitor, waits, and exits with the command's status.

// A file written while the cgroups are made: a v1 device rule, say.
struct nook_quick_write {
	struct nook_ref path;
	struct nook_ref data;
};

struct nook_quick_stdio {
	uint64_t rdev;
	uint32_t kind; // enum nook_quick_stdio_kind
	uint32_t pad;
};

struct nook_quick_run {
	uint32_t magic;   // NOOK_QUICK_RUN_MAGIC
	uint32_t version; // NOOK_QUICK_VERSION
	uint64_t size;	  // of the whole file
	uint32_t flags;	  // enum nook_quick_flag
	uint32_t pad;
	uint64_t clone_flags; // the child's CLONE_NEW*
	uint64_t signals;     // KSIG(n) of each signal passed on to the command
	struct nook_quick_file exe;    // the nook binary that prepared it
	struct nook_quick_file config; // the bundle's config.json
	struct nook_quick_stdio stdio[3];
	struct nook_ref bundle;	      // the bundle's absolute, clean path
	struct nook_ref id;	      // the container's ID
	struct nook_ref namespaces;   // struct nook_quick_ns[]: the caller's
	struct nook_ref checks;	      // struct nook_quick_write[]: files that must hold every word of data, first
	struct nook_ref mkdirs;	      // the cgroups made, in order, each NUL-terminated
	struct nook_ref programs;     // struct nook_quick_write[]: v2 device programs (struct bpf_insn[]) to attach to path
	struct nook_ref writes;	      // struct nook_quick_write[], in order, after the mkdirs
	struct nook_ref cgroup_dir;   // v2: the cgroup the child is cloned into, or ""
	struct nook_ref cgroup_tasks; // v1: each hierarchy's tasks file, each NUL-terminated
	struct nook_ref cleanup;      // the janitor's steps
	struct nook_ref steps;	      // the child's plan, whole
};

// nook_entry_main runs before Go's runtime (entry_amd64.s), with sp the
// stack the kernel started nook on (argc, argv, envp). It returns only
// where it did not start the command; otherwise it exits with the
// command's status.
void nook_entry_main(uint64_t *sp);

#endif

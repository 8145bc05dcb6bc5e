// Package spawn starts a sandbox's first process: it clones the nook
// process straight into new namespaces and runs a short C program in the
// child, which carries out a plan of steps and ends in execve.
//
// # Why C, and why no re-exec
//
// Go's runtime is multithreaded from its first instruction, and several
// things a sandbox start needs are refused to a multithreaded process:
// setns into a user or mount namespace, unshare of a time namespace, and
// anything that must apply to "the process" rather than one thread. runc
// answers this by re-executing itself and doing that work in a C
// constructor (nsexec) that runs before the Go runtime starts; a plain Go
// runtime would need the same re-exec plus a second runtime start.
//
// nook does neither. It calls clone3 from a few lines of assembly that
// jump straight into C on the child's own stack: the child is a
// single-threaded process that never returns to Go. It runs the steps the
// Go side compiled (Plan) with nothing but system calls — no libc at all
// (no malloc, no stdio, no locks: another thread of the parent may have
// held one at the moment of the clone). The child is single-threaded, so
// every namespace operation is open to it, setns into user and mount
// namespaces included.
// Entering existing namespaces (nsenter, exec into a running sandbox) is
// the same mechanism with Setns steps: there is no constructor, no re-exec
// and no second Go runtime on any path, which is where nook's start-up
// time comes from. The one namespace a setns step cannot enter for the
// child itself is a pid namespace (setns moves only the caller's future
// children there): Config.PidNS has a thread of nook's enter it for the
// clone alone, so the child starts inside (a Kubernetes pod's containers
// join the pause process's; root's nook exec enters a sandbox's so, and
// its child is the command, with no fork and no init between). Where it can (a plan that joins no user or
// time namespace), the child shares nook's memory instead of copying it
// (CLONE_VM, as posix_spawn does), on a block of its own mapped outside
// Go's heap: a guard page, its stack, its thread control block (which
// holds its errno, so that two children started at once never share one)
// and its arguments and plan, unmapped once it is reaped. Where it
// cannot, its copy holds that block and nothing of Go's: nook's writable
// mappings are kept from the clone with MADV_DONTFORK (nocopy.go), so
// neither side pays for copying a Go heap.
//
// # A plan, typed on both sides
//
// Plan has one method per step (Mount, Device, Setns, User,
// Rlimit, Seccomp...), each with named fields. Each step is encoded as a
// record whose layout spawn.h declares (struct nook_mount...) and plan.go
// mirrors (mountRec...); TestLayoutMatchesC compares the two field by
// field, with the offsets the C compiler chose (the DWARF that layout.c
// leaves in the child's object), together with the op numbers, the
// shared constants and the records Go hands the child (nook_spawn,
// nook_janitor, nook_tls), so Go and C cannot drift apart silently. Plan.Steps decodes a plan back into typed steps, and
// Plan.String lists them one a line: container's golden tests compare
// that listing for a table of specs. Cleanup is the janitor's plan, built
// and checked the same way.
//
// The C side is one file per role, each opening with what it does and
// what it must never do:
//
//	steps.c    the child: from clone to its last step, one function per step
//	init.c     the last step: exec the command, or become its init (PID 1)
//	janitor.c  cleanup on the host, raw system calls only
//	entry.c    before Go's runtime: a plain nook exec or run --bundle, replayed (below)
//	sys.h      the little of libc they use: system calls, errno, strings
//
// and the parent's side is Go: child.go maps the blocks and clones the
// child and the janitor through clone_amd64.s.
//
// # The protocol
//
//	parent (Go)                          child (C)                 janitor (C)
//	Start: clone3(CLONE_NEW*) ---------> reset signals, fds
//	       clone() ------------------------------------------->  wait on lifeline
//	write uid/gid maps                   wait on sync pipe
//	Release: 1 byte on sync ----------->  join cgroups (v1), run steps ...
//	         read error pipe <---------- error record, exit 125/126/127
//	              (EOF: exec happened)   ... execve (pipe is close-on-exec)
//	Wait: wait4 <----------------------- exit; with init, the command's
//	       read status pipe <----------- raw wait status first
//	Close: close lifeline ---------------------------------------> kill the sandbox,
//	       wait4 janitor <------------------------------------------ run cleanup, exit
//
// A held child (Config.Hold, the OCI runtime's create) closes the error
// pipe after its last step, so that Release returns, and waits for one
// byte on Hold; then the write end of Config.StartErrors (a FIFO that
// start reads with ReadError) becomes its error pipe, with the same
// records and the same EOF at exec.
//
// A caller with nothing to do before the release (Config.AtOnce: no ID
// maps, no pid to write into a cgroup.procs) has the go-ahead written
// into the sync pipe before the clone: the child never waits on it.
//
// On cgroup v2 the child is cloned straight into its cgroup
// (Config.CgroupFD, CLONE_INTO_CGROUP), so the parent has only ID maps to
// write before the release. On v1 the child, once released, moves itself
// into each hierarchy by writing "0" to its tasks file (Config.CgroupTasks,
// opened by the parent), before its first step: the kernel moves a task
// that moves itself without the threadgroup lock that a pid written to
// cgroup.procs takes, and whose first taker waits for an RCU grace period
// (5-30 ms in a VM; measured, that halved `nook run`'s median).
//
// A network namespace made beforehand by another thread (Config.NetNS,
// in place of CLONE_NEWNET) is joined right after that, also before the
// first step: the kernel spends over a millisecond making one, which the
// caller can overlap with its own preparations instead of waiting for it
// in clone3.
//
// The janitor exists so that cleanup happens whatever becomes of nook: if
// nook is killed, the lifeline closes all the same, the child dies of its
// parent-death signal, and the janitor kills what is left of the sandbox
// and removes what it left on the host (cgroups; mounts and files for the
// steps that need them). The normal exit takes the same path.
//
// # How the C gets into nook: no cgo, no libc
//
// The C is compiled freestanding (-ffreestanding -nostdlib, no stack
// protector, position-independent) by mkchild.sh, linked there into one
// block of code and read-only data, and committed as
// child_linux_amd64.syso, which Go's own linker links into nook like any
// Go object. So nook is built with CGO_ENABLED=0: no C compiler, no
// glibc (whose static start, CPUID traps in a VM and IRELATIVE
// relocations included, every nook start paid), a static binary from
// Go's internal linker. TestChildObjectUpToDate fails when the object is
// older than its sources (go generate or make child rebuilds it; the
// build is reproducible), and make test also links it with the system's
// linker, as a program that uses cgo for something else would.
//
// The block has no relocations, by construction: Go's linker, when it
// links a static executable without cgo, drops the relocations of host
// objects without a word (it applies them only while it builds a dynamic
// executable), so mkchild.sh resolves every reference inside the block
// itself and refuses code that needs an absolute address (a table of
// pointers, or a vectorised store of two; hence -fno-tree-vectorize). One
// symbol, nook_child, covers it, with a header that locates the entry
// points (childHeader).
//
// The other ways were weighed. Keeping cgo with a libc of our own
// (freestanding C through cgo) keeps cgo's costs: the runtime/cgo
// start-up, the external linker, and a C compiler for every build. A
// pure Go child, as syscall.forkAndExecInChild is, must be nosplit Go that
// allocates nothing and calls nothing that could grow the stack; the
// child's steps (openat2 walks with 4 KiB path buffers, an init that
// reaps and forwards signals) are far past what fits in a nosplit frame,
// and would have to be written a second time in a dialect with no
// compiler checks.
//
// # Before Go: a replayed exec
//
// A `nook exec` spends about half of its time before it does anything of
// its own: the Go runtime's start (its threads, its CPUID probes, its
// signal handlers) and the initialisation of nook's packages, then
// cobra, the state and the plan. Those are the same every time for the
// same sandbox and caller. So the exec that Go does keeps its compiled
// plan beside the sandbox's state (QuickExec, the file QuickExecFile),
// with everything it was made under: the files it was compiled from (by
// inode, size and time: they are only ever replaced), the nook binary
// that compiled it, the caller's namespaces, init's pid and start time,
// the cgroups to join, the devices the command may be given, the signals
// to pass on. nook's ELF entry point is entry_amd64.s (linked with -E
// nook_rt0), which calls entry.c before jumping to Go's own entry:
// for the command line `nook [--root DIR] exec SANDBOX [--] COMMAND...`
// as root, it checks all of that (about thirty system calls), writes the
// command's arguments into the plan and starts the same child as Start
// does, on a block of its own, then waits for the command with the
// signals passed on, and exits with its status. Nothing else: any check
// that fails, and a child that fails before the command runs, leave it
// all to Go, which does the exec again from the start and reports in its
// own words, and keeps the plan anew. The entry decides nothing; it only
// replays what Go decided, while it still applies. The entry point also
// reads RLIMIT_NOFILE before Go's runtime raises its soft limit
// (startNofile), and every child sets it back, as Go's own exec does for
// its children: a sandbox's processes get their caller's limit. A binary
// linked without -E (go build, go test) never replays, and its children
// keep the raised limit.
//
// # Before Go: a replayed run
//
// `nook run --bundle DIR ID`, the OCI form runc and crun are timed in,
// spends as much of its time in Go's start, in compiling the spec and in
// Go's exit as in the sandbox itself. So the run Go does keeps its plan
// too (QuickRun), in the state root, in the file QuickRunFile names (one
// of 256 by a hash of the bundle's path): the whole child plan, the
// janitor's, the clone's namespaces, the cgroups it made as mkdirs, v2
// device programs and file writes (cgroups.Log), and what all of it
// depends on: config.json (inode, size, mtime and ctime: any write
// changes the ctime), the binary, the caller's namespaces, what its
// stdin, stdout and stderr are, the controllers the shared v2 parent
// passes on.
// For `nook [--root DIR] run --bundle DIR ID` as root, entry.c checks
// those, makes the cgroups (a mkdir that finds one there leaves the run to
// Go, which reports the clash), clones the child into new namespaces and
// the janitor beside it, lets the child run, waits with the signals
// passed on, and exits with the command's status once the janitor has
// removed the cgroups: what Go's Run does, with the same C. A failure
// anywhere before the command runs cleans up and leaves the run to Go,
// as for an exec. Go keeps a plan only where the entry can do all that
// its run did: no terminal, user namespace, hook, pid namespace to join,
// record, time limit or cgroup it cannot list (a cgroupsPath's parents,
// limits set through opencontainers/cgroups), and no warning, which the
// entry would not repeat. The entry loads and attaches a v2 device
// program with bpf(2) as cgroups' loader does: the same instructions,
// type, licence and BPF_F_ALLOW_MULTI.
//
// Only linux/amd64 has the object and the trampoline: elsewhere a plan can
// still be built, decoded and listed, and Start fails with
// ErrUnsupported.
package spawn

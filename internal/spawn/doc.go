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
// nook does neither. It calls clone3 from C: the child is a
// single-threaded process that never returns to Go. It runs the steps the
// Go side compiled (Plan) with nothing but system calls — no malloc, no
// stdio, no locks, since another thread of the parent may have held one at
// the moment of the clone; even fork and setgroups are raw system calls
// there, because glibc's versions take locks or signal threads that do not
// exist in the child. The child is single-threaded, so every namespace
// operation is open to it, setns into user and mount namespaces included.
// Entering existing namespaces (nsenter, exec into a running sandbox) is
// the same mechanism with Setns steps: there is no constructor, no re-exec
// and no second Go runtime on any path, which is where nook's start-up
// time comes from. The one namespace a setns step cannot enter for the
// child itself is a pid namespace (setns moves only the caller's future
// children there): Config.PidNS has the cloning thread enter it for the
// clone alone, so the child starts inside (a Kubernetes pod's containers
// join the pause process's). Where it can (x86-64, and a plan that joins no user or
// time namespace), the child shares nook's memory instead of copying it
// (CLONE_VM, with a stack and thread-local storage of its own), as
// posix_spawn does.
//
// # A plan, typed on both sides
//
// Plan has one method per step (Mount, Device, Setns, User,
// Rlimit, Seccomp...), each with named fields. Each step is encoded as a
// record whose layout spawn.h declares (struct nook_mount...) and plan.go
// mirrors (mountRec...); TestLayoutMatchesC compares the two field by
// field, with the offsets the C compiler chose, together with the op
// numbers and the shared constants, so Go and C cannot drift apart
// silently. Plan.Steps decodes a plan back into typed steps, and
// Plan.String lists them one a line: container's golden tests compare
// that listing for a table of specs. Cleanup is the janitor's plan, built
// and checked the same way.
//
// The C side is one file per role, each opening with what it does and
// what it must never do:
//
//	clone.c    the parent's side: clone the child and the janitor
//	steps.c    the child: from clone to its last step, one function per step
//	init.c     the last step: exec the command, or become its init (PID 1)
//	janitor.c  cleanup on the host, raw system calls only
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
// On cgroup v2 the child is cloned straight into its cgroup
// (Config.CgroupFD, CLONE_INTO_CGROUP), so the parent has only ID maps to
// write before the release. On v1 the child, once released, moves itself
// into each hierarchy by writing "0" to its tasks file (Config.CgroupTasks,
// opened by the parent), before its first step: the kernel moves a task
// that moves itself without the threadgroup lock that a pid written to
// cgroup.procs takes, and whose first taker waits for an RCU grace period
// (5-30 ms in a VM; measured, that halved `nook run`'s median).
//
// The janitor exists so that cleanup happens whatever becomes of nook: if
// nook is killed, the lifeline closes all the same, the child dies of its
// parent-death signal, and the janitor kills what is left of the sandbox
// and removes what it left on the host (cgroups; mounts and files for the
// steps that need them). The normal exit takes the same path.
//
// # Without cgo
//
// Everything but Start builds without cgo: a plan can be built, decoded
// and listed by a program compiled with CGO_ENABLED=0, and Start then
// fails with ErrNoCgo ("not supported: nook was built without cgo").
package spawn

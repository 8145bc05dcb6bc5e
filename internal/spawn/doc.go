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
// nook does neither. It calls clone3 from C, without CLONE_VM: the child is
// a single-threaded copy of the parent that never returns to Go. It runs
// the steps the Go side compiled (Plan) with nothing but system calls — no
// malloc, no stdio, no locks, since another thread of the parent may have
// held one at the moment of the copy; even fork and setgroups are raw
// system calls there, because glibc's versions take locks or signal
// threads that do not exist in the copy. The child is single-threaded, so
// every namespace operation is open to it, setns into user and mount
// namespaces included. Entering existing namespaces (nsenter, exec into a
// running sandbox) is the same mechanism with OpSetns steps: there is no
// constructor, no re-exec and no second Go runtime on any path, which is
// where nook's start-up time comes from.
//
// # The protocol
//
//	parent (Go)                          child (C)                 janitor (C)
//	Start: clone3(CLONE_NEW*) ---------> reset signals, fds
//	       clone3() ------------------------------------------->  wait on lifeline
//	write uid/gid maps, join cgroups     wait on sync pipe
//	Release: 1 byte on sync ----------->  run steps ...
//	         read error pipe <---------- error record, exit 125/126/127
//	              (EOF: exec happened)   ... execve (pipe is close-on-exec)
//	Wait: wait4 <----------------------- exit; with init, the command's
//	       read status pipe <----------- raw wait status first
//	Close: close lifeline ---------------------------------------> kill the sandbox,
//	       wait4 janitor <------------------------------------------ run cleanup, exit
//
// The janitor exists so that cleanup happens whatever becomes of nook: if
// nook is killed, the lifeline closes all the same, the child dies of its
// parent-death signal, and the janitor removes what the sandbox left on
// the host (cgroups, state). The normal exit takes the same path.
package spawn

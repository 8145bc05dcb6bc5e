// Package netns makes, finds and enters network namespaces, named the way
// iproute2 names them: a namespace called NAME is kept alive by a bind
// mount of its nsfs file on /run/netns/NAME, and /run/netns is a shared
// mount, so that a namespace deleted in one mount namespace is gone from
// the others too. `ip netns` and `nook netns` therefore see and use each
// other's namespaces.
//
// # Threads
//
// A network namespace belongs to a thread, and Go moves goroutines
// between threads. No goroutine ever runs on a thread that is in another
// namespace: New and In work on a goroutine locked to its thread, and what
// the work leaves behind is only a descriptor of the namespace and sockets
// made inside it (a netlink socket belongs to the namespace it was made
// in; see package network). Then the thread returns to its first
// namespace and is unlocked, the same thread as before; only where it
// cannot return is it thrown away, its goroutine ending still locked.
// Threads are not ended lightly: a child nook cloned from one gets its
// parent-death signal when that thread ends (see onThrowawayThread). Exec
// enters a namespace on a locked thread and replaces the whole process
// with execve, so no Go code runs there again.
//
// # Anonymous namespaces
//
// A sandbox's namespace needs no name: New returns a descriptor, and the
// sandbox joins /proc/PID/fd/N of the process that holds it. Nothing is
// mounted, so nothing can be left mounted: when the holder and the
// sandbox are gone, the kernel frees the namespace and the links in it.
package netns

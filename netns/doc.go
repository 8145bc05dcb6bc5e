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
// between threads. The package never moves a thread into a namespace and
// back: New makes a namespace on a goroutine locked to a fresh thread that
// is never unlocked, so the runtime throws that thread away when the
// goroutine ends, and what it leaves behind is only a file descriptor of
// the namespace. Everything done inside a namespace afterwards goes
// through handles opened on such a descriptor (a netlink socket created in
// the namespace, see package network). Exec is the one exception: it
// enters the namespace on a locked thread and then replaces the whole
// process with execve, so no Go code runs there again.
//
// # Anonymous namespaces
//
// A sandbox's namespace needs no name: New returns a descriptor, and the
// sandbox joins /proc/PID/fd/N of the process that holds it. Nothing is
// mounted, so nothing can be left mounted: when the holder and the
// sandbox are gone, the kernel frees the namespace and the links in it.
package netns

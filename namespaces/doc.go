// Package namespaces names the eight Linux namespace types and parses what
// users say about them: lists of types, user ID maps (CONTAINER:HOST:SIZE)
// and time namespace offsets. It also tells whether two processes share a
// namespace (Inode).
//
// List finds every namespace on the host as util-linux lsns does (from
// /proc/PID/ns, a process standing for each: the lowest PID in it), plus
// those no process is in that a bind mount (nsfs in mountinfo) or an open
// file keeps alive, which lsns 2.38 misses. Parents and owners come from
// the NS_GET_PARENT and NS_GET_USERNS ioctls, net namespace IDs from
// RTM_GETNSID. Of, Depth and Owner describe one process's namespaces.
//
// It holds no kernel resources. Creating namespaces is the job of package
// container, which clones the sandbox's first process straight into them,
// and joins them for nook exec and nook enter.
package namespaces

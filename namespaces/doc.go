// Package namespaces names the eight Linux namespace types and parses what
// users say about them: lists of types, user ID maps (CONTAINER:HOST:SIZE)
// and time namespace offsets. It also tells whether two processes share a
// namespace (Inode).
//
// It holds no kernel resources. Creating namespaces is the job of package
// container, which clones the sandbox's first process straight into them.
package namespaces

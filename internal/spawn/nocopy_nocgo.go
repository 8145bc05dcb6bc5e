//go:build linux && amd64 && !cgo

package spawn

// libcThreads: without cgo no libc registers per-thread memory with the
// kernel (see nocopy_cgo.go), so the child's copy may leave Go's memory
// out.
const libcThreads = false

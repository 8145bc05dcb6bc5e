//go:build linux && amd64 && cgo

package spawn

// libcThreads: in a program built with cgo, libc may have registered
// per-thread memory with the kernel (glibc's rseq area, in the calling
// thread's TLS), which the kernel reads on the new process's behalf as it
// first returns to user space: a copy without that memory is killed by
// SIGSEGV before its first instruction. So there the copy is whole.
const libcThreads = true

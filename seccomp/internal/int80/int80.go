// Package int80 issues i386 system calls (int $0x80) from a 64-bit
// process, so that tests can check how a seccomp filter treats the
// compat ABI. It is for tests only.
package int80

// Available reports whether this architecture can issue int $0x80.
const Available = available

// Syscall issues the i386 system call nr with up to three arguments
// (ebx, ecx, edx) and returns eax: the result, or -errno.
func Syscall(nr, a1, a2, a3 uint32) int32 {
	return int32(uint32(syscall(uintptr(nr), uintptr(a1), uintptr(a2), uintptr(a3))))
}

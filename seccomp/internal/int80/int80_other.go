//go:build !amd64

package int80

const available = false

func syscall(nr, a1, a2, a3 uintptr) uintptr { panic("int80: not available on this architecture") }

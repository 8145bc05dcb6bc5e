package int80

const available = true

func syscall(nr, a1, a2, a3 uintptr) uintptr

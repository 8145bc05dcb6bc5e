// Command nook runs processes in Linux namespaces. All of its work is done
// by the packages of this module; this file only hands over the arguments.
package main

import (
	"os"

	"github.com/nookrun/nook/internal/cli"
)

func main() {
	growStack()
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}

// growStack grows the main goroutine's stack while main is all there is on
// it. A goroutine starts with 8 KiB of stack and each time it outgrows it
// the stack is copied to one twice the size, reading the stack map of every
// function then on it from the binary's pclntab. nook's commands outgrow
// it deep in cobra, JSON and the start path, so those copies faulted in 13
// windows (the kernel's 64 KiB fault-around) of pclntab: 0.8 MiB of the
// 9.5 MiB peak RSS of nook start or delete. Grown here, the one copy walks
// two frames; 32 KiB is enough that no command copies it again (a larger
// frame measured the same).
//
//go:noinline
func growStack() {
	var frame [16 << 10]byte
	keep(frame[:])
}

// keep makes its argument, and so growStack's frame, necessary.
//
//go:noinline
func keep([]byte) {}

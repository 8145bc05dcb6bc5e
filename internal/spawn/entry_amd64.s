//go:build linux

#include "textflag.h"

#define SYS_prlimit64 302
#define RLIMIT_NOFILE 7

// nook_rt0 is nook's ELF entry point (the Makefile links with -E
// nook_rt0): before Go's runtime starts, nook_entry_main (entry.c) may
// start a prepared `nook exec` itself, and exit. When it returns, the
// stack is as the kernel made it and Go's own entry point takes over, as
// if it had been the first.
TEXT nook_rt0(SB), NOSPLIT|NOFRAME, $0
	// RLIMIT_NOFILE before Go's runtime raises its soft limit (package
	// syscall's init), for the children to get it back (startNofile)
	MOVQ	$SYS_prlimit64, AX
	XORL	DI, DI
	MOVQ	$RLIMIT_NOFILE, SI
	XORL	DX, DX
	LEAQ	·startNofile(SB), R10
	SYSCALL
	// the kernel's stack: argc, argv..., envp...; R12 is kept by C
	MOVQ	SP, R12
	MOVQ	SP, DI
	ANDQ	$~15, SP
	LEAQ	nook_child(SB), AX
	MOVQ	24(AX), BX // childHeader.EntryMain
	ADDQ	BX, AX
	CALL	AX
	MOVQ	R12, SP
	JMP	_rt0_amd64_linux(SB)

//go:build linux

#include "textflag.h"

// The clone of the C child and the janitor (child.go): the new process
// starts on its own stack with nothing but registers, so the entry point
// and its argument travel in ones the system call keeps (R12, R13), and
// it calls into C at once, never returning to Go.

#define SYS_rt_sigprocmask 14
#define SYS_exit 60
#define SYS_clone3 435
#define SIG_SETMASK 2

// func rawClone3(args *cloneArgs, size uintptr, entry uintptr, arg uintptr) int64
TEXT ·rawClone3(SB), NOSPLIT, $16-40
	// block every signal on this thread, keeping the old mask at 8(SP)
	MOVQ	$-1, 0(SP)
	MOVQ	$SYS_rt_sigprocmask, AX
	MOVQ	$SIG_SETMASK, DI
	LEAQ	0(SP), SI
	LEAQ	8(SP), DX
	MOVQ	$8, R10
	SYSCALL
	MOVQ	args+0(FP), DI
	MOVQ	size+8(FP), SI
	MOVQ	entry+16(FP), R12
	MOVQ	arg+24(FP), R13
	MOVQ	$SYS_clone3, AX
	SYSCALL
	CMPQ	AX, $0
	JEQ	child
	MOVQ	AX, ret+32(FP)
	MOVQ	$SYS_rt_sigprocmask, AX
	MOVQ	$SIG_SETMASK, DI
	LEAQ	8(SP), SI
	MOVQ	$0, DX
	MOVQ	$8, R10
	SYSCALL
	RET

child:
	// the new stack, 16-byte aligned before the call, as C expects
	XORL	BP, BP
	ANDQ	$~15, SP
	MOVQ	R13, DI
	CALL	R12
	MOVQ	AX, DI
	MOVQ	$SYS_exit, AX
	SYSCALL
	INT	$3

// func childText() *childHeader
TEXT ·childText(SB), NOSPLIT, $0-8
	LEAQ	nook_child(SB), AX
	MOVQ	AX, ret+0(FP)
	RET

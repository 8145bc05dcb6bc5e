//go:build ignore

// sys.c: what sys.h declares but cannot inline: the memory functions the
// compiler calls on its own, and nook_clone, the clone that init uses to
// start the command. Built by mkchild.sh, not by go build.
#include "sys.h"

// Built with -fno-tree-loop-distribute-patterns, so that the compiler does
// not turn these loops back into calls to themselves.
void *memcpy(void *dst, const void *src, size_t n) {
	unsigned char *d = dst;
	const unsigned char *s = src;
	while (n--) *d++ = *s++;
	return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
	unsigned char *d = dst;
	const unsigned char *s = src;
	if (d < s) {
		while (n--) *d++ = *s++;
	} else {
		while (n--) d[n] = s[n];
	}
	return dst;
}

void *memset(void *dst, int c, size_t n) {
	unsigned char *d = dst;
	while (n--) *d++ = (unsigned char)c;
	return dst;
}

int memcmp(const void *a, const void *b, size_t n) {
	const unsigned char *x = a, *y = b;
	for (; n; n--, x++, y++)
		if (*x != *y) return *x - *y;
	return 0;
}

// nook_clone: the new process starts on stack_top with nothing but
// registers, so fn and arg travel in ones the system call keeps (r12,
// r13 are callee-saved for the caller as well, and restored here).
__asm__(".text\n"
	".globl nook_clone\n"
	".hidden nook_clone\n"
	".type nook_clone, @function\n"
	"nook_clone:\n"
	"	push %r12\n"
	"	push %r13\n"
	"	mov %rdx, %r12\n" // fn
	"	mov %rcx, %r13\n" // arg
	"	and $-16, %rsi\n"
	"	mov $56, %eax\n" // __NR_clone (flags, stack, parent_tid, child_tid, tls)
	"	xor %edx, %edx\n"
	"	xor %r10d, %r10d\n"
	"	xor %r8d, %r8d\n"
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jz .Lnook_clone_child\n"
	"	pop %r13\n"
	"	pop %r12\n"
	"	ret\n"
	// the new process of either clone: fn(arg) on its own stack (16-byte
	// aligned for the call), then exit with what fn returned
	".Lnook_clone_child:\n"
	"	xor %ebp, %ebp\n"
	"	and $-16, %rsp\n"
	"	mov %r13, %rdi\n"
	"	call *%r12\n"
	"	mov %rax, %rdi\n"
	"	mov $60, %eax\n" // __NR_exit
	"	syscall\n"
	"	hlt\n"
	".size nook_clone, .-nook_clone\n");

// nook_clone3 (entry.c): clone3 puts the new process on the stack its
// arguments name; fn and arg travel in r12 and r13 as above, and the new
// process runs nook_clone's.
__asm__(".text\n"
	".globl nook_clone3\n"
	".hidden nook_clone3\n"
	".type nook_clone3, @function\n"
	"nook_clone3:\n"
	"	push %r12\n"
	"	push %r13\n"
	"	mov %rdx, %r12\n" // fn
	"	mov %rcx, %r13\n" // arg
	"	mov $435, %eax\n" // __NR_clone3 (args, size)
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jz .Lnook_clone_child\n"
	"	pop %r13\n"
	"	pop %r12\n"
	"	ret\n"
	".size nook_clone3, .-nook_clone3\n");
_Static_assert(__NR_clone == 56 && __NR_exit == 60 && __NR_clone3 == 435, "x86-64 system call numbers");

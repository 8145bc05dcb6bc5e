// Package seccomp turns seccomp profiles into classic-BPF programs for
// nook's sandboxed child.
//
// # How it fits
//
// nook's child is a clone of the nook process that runs a small C
// program, not Go, between clone and execve (package internal/spawn). The
// Go parent therefore does all the work here: it reads or builds a profile
// ([Load], [Default]), compiles it ([Compile]) and puts [Program.Bytes]
// (an array of struct sock_filter) and [FilterFlags] into the child's plan
// (package container). The child only calls seccomp(SECCOMP_SET_MODE_FILTER,
// flags, &(struct sock_fprog){len, bytes}), at one of two points: with
// no_new_privs (nook's default) it sets PR_SET_NO_NEW_PRIVS after
// switching to the command's user and capabilities and loads the filter
// last, right before execve, so the filter never sees nook's own set-up
// calls; without no_new_privs, loading a filter needs CAP_SYS_ADMIN, so it
// is loaded before the user and capabilities change, while that is still
// held.
//
// # Why a pure-Go compiler and not libseccomp
//
// The compiler is ours, written in Go, with syscall tables generated from
// golang.org/x/sys (mksysnum.go; "go generate ./seccomp/"). We measured
// the alternative, libseccomp 2.5.4 through libseccomp-golang v0.11.1,
// building the same default profile and exporting it with ExportBPF
// (go test -tags libseccomp -bench CompileDefault ./seccomp/):
//
//	nook compiler:           ~37 µs, 169 instructions (amd64 + i386)
//	libseccomp + ExportBPF:  ~500-650 µs, 175 instructions
//
// Loading is the same for both (the seccomp() call itself: ~55-75 µs for
// a 169-instruction filter on the test VM, ~200 µs for the first filter of
// a process), and running the filter adds no measurable cost to a
// syscall there. What decided it:
//
//   - nook's release and test binaries are static, and test binaries are
//     built with CGO_ENABLED=0. A pure-Go compiler serves every profile in
//     every build, where libseccomp would have left CGO_ENABLED=0 builds
//     with a pregenerated default program and an error for anything
//     else, and release builds with a static libseccomp to link.
//   - Exactness is checked rather than assumed: tests run every
//     generated program in a BPF interpreter against an independent
//     reference evaluator on random profiles and inputs, compare with
//     libseccomp's output on the default profile and random profiles
//     (-tags libseccomp), check our tables against libseccomp's, and
//     install the default filter in a real process. That comparison found
//     a libseccomp 2.5.4 miscompilation (two rules comparing the same
//     64-bit argument: the second compares a stale low word against its
//     high-word constant); our output is right there.
//   - At ~40 µs there is nothing to cache: the default program is
//     compiled when needed, no generated program blob to keep in sync.
//
// # What Compile supports
//
// defaultAction/defaultErrnoRet; architectures; syscalls[].names, action,
// errnoRet and args (index 0-5, value, valueTwo; ops SCMP_CMP_NE, LT, LE,
// EQ, GE, GT, MASKED_EQ, the last as (arg & value) == (valueTwo & value));
// actions SCMP_ACT_ALLOW, ERRNO (default EPERM), KILL/KILL_THREAD,
// KILL_PROCESS, TRAP, TRACE (default data EPERM, as runc), LOG. Flags
// LOG and SPEC_ALLOW are returned by [FilterFlags]; TSYNC and
// WAIT_KILLABLE_RECV are accepted and dropped. SCMP_ACT_NOTIFY (and so
// listenerPath) is not supported. Malformed input is an error naming the
// field, e.g. "seccomp: syscalls[3].args[0]: unknown op "SCMP_CMP_EQUAL"".
//
// Semantics, which follow runc + libseccomp except where noted:
//
//   - Architectures. The filter first checks seccomp_data.arch. The
//     native ABI always has a section; a compat ABI (i386 on x86_64, arm
//     on aarch64) has one if the profile lists it. Syscalls from any ABI
//     without a section kill the process. On x86_64, x32 syscalls
//     (numbers with bit 30 set, sharing AUDIT_ARCH_X86_64) always get
//     ENOSYS, listed or not: nook has no x32 tables, and that is what a
//     kernel without x32 answers. Architectures of other families are
//     accepted and ignored (this kernel can never present them).
//   - Names. Each name is looked up per ABI; names an ABI does not have
//     are skipped for it (vm86 on x86_64, arm_fadvise64_64 on x86, calls
//     newer than the tables), as runc does. Names must look like syscall
//     names ([a-z0-9_]+).
//   - Arguments. Conditions on different arguments are ANDed; several
//     conditions on the same argument in one entry become separate rules
//     (ORed), runc's interpretation. On 64-bit ABIs the full 64 bits are
//     compared; on 32-bit ABIs only the low 32 bits, against the value
//     truncated to 32 bits (the upper half of the register is garbage
//     there and the kernel ignores it), as libseccomp does. The kernel
//     also ignores the upper half for "int" arguments on 64-bit ABIs;
//     profiles should compare those with MASKED_EQ and mask 0xffffffff.
//   - i386 multiplexers. An unconditional rule for a socket call
//     (socket, connect, ...) or a SysV IPC call (shmat, semop, ...) also
//     applies to the same call through socketcall(2)/ipc(2) on i386, as in
//     libseccomp. Rules with argument conditions are not carried over
//     (the real arguments are in memory); a profile that restricts those
//     calls by argument should also restrict socketcall/ipc.
//   - Precedence for one syscall: conditional rules are tried in profile
//     order and the first that matches decides; otherwise the
//     unconditional rule decides; otherwise the default action.
//     Unconditional rules equal to the default action are ignored (runc);
//     two unconditional rules with different actions are an error.
//     Deliberate difference: libseccomp lets an unconditional rule
//     silently shadow conditional rules for the same syscall; nook lets
//     the conditional rules win, which is what a profile that writes both
//     means (nook's default profile uses this for personality).
//
// # Generated code
//
// Per ABI, the syscall number is found by a binary search over ranges of
// numbers that share an action (about log2(ranges) comparisons, ~8 for
// the default profile); plain actions jump to shared return
// instructions; single-flag tests on one argument word ("any of these
// CLONE_NEW* flags") become one jset. Conditional jumps longer than 255
// instructions go through "ja" trampolines, and programs over the
// kernel's 4096-instruction limit are an error.
//
// # Default profile
//
// [Default] and [DefaultFor] build nook's denylist (everything else
// allowed): kernel modules, kexec/reboot, bpf, perf_event_open, the
// keyring, the mount family, file handles, setns, namespace-creating
// clone/unshare, userfaultfd, io_uring, acct, swap, the clock, syslog,
// iopl/ioperm, quotas, process_vm_*/kcmp, obsolete calls, and
// personality values other than the safe ones, all with EPERM; clone3 gets
// ENOSYS so that libc falls back to clone, whose flags can be checked.
// Rules whose operation needs a capability are lifted when the sandbox is
// granted that capability; the keyring, io_uring, new user namespaces and
// clone3 stay refused regardless. The reason for each group is in
// profile.go.
//
// # Loading profiles
//
// [Load], [LoadWithCaps] and [Parse] read OCI LinuxSeccomp JSON and
// Docker's profile format (archMap, "name", "comment", includes/excludes
// on caps, arches and minKernel), evaluating Docker's conditions for the
// granted capabilities, the target architecture and the kernel version.
// Unknown JSON fields are an error.
//
// # Caveats
//
//   - Little-endian targets only (amd64, 386, arm64, arm).
//   - No user notification (SCMP_ACT_NOTIFY).
//   - i386 live tests need a kernel that allows int 0x80 from 64-bit
//     code; where it does not, they are skipped and only the interpreter
//     tests cover i386.
package seccomp

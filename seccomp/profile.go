package seccomp

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nookrun/nook/caps"
)

// Flag values (include/uapi/linux/sched.h, personality.h) used by the
// default profile.
const (
	cloneNewTime   = 0x00000080 // unshare(2)/clone3(2) only
	cloneNewNS     = 0x00020000
	cloneNewCgroup = 0x02000000
	cloneNewUTS    = 0x04000000
	cloneNewIPC    = 0x08000000
	cloneNewUser   = 0x10000000
	cloneNewPID    = 0x20000000
	cloneNewNet    = 0x40000000

	tiocsti   = 0x5412 // ioctl: push a byte into a terminal's input
	tioclinux = 0x541c // ioctl: Linux console subcommands (selection paste)
	sIFMT     = 0o170000
	sIFCHR    = 0o020000
	sIFBLK    = 0o060000

	perLinux    = 0x0000
	perLinux32  = 0x0008
	perUname26  = 0x0020000
	perQuery    = 0xffffffff // personality(0xffffffff) only reads the value
	lowWordMask = 0xffffffff
)

// denyGroup is a set of syscalls the default profile refuses with EPERM
// unless one of the listed capabilities is granted (none listed: always).
type denyGroup struct {
	names  []string
	unless []string
}

// defaultDenied is nook's denylist. Syscalls a program in a sandbox has no
// business making: they act on the whole machine rather than on the
// sandbox, or they are large kernel attack surfaces with no ordinary
// use. Where the kernel itself requires a capability, granting that
// capability to the sandbox lifts the rule (the user asked for that
// power); where it does not, the rule stays.
//
// Names that do not exist on an ABI (vm86 on x86_64, stime on aarch64)
// are skipped for that ABI by the compiler.
var defaultDenied = []denyGroup{
	// Loading or removing kernel code is full control of the host.
	{[]string{"init_module", "finit_module", "delete_module"}, []string{"CAP_SYS_MODULE"}},
	// Replacing the running kernel, or rebooting/halting the machine.
	{[]string{"kexec_load", "kexec_file_load", "reboot"}, []string{"CAP_SYS_BOOT"}},
	// eBPF and perf events: large, frequently exploited kernel
	// interfaces, and perf can observe other processes and the kernel.
	{[]string{"bpf"}, []string{"CAP_BPF", "CAP_SYS_ADMIN"}},
	{[]string{"perf_event_open"}, []string{"CAP_PERFMON", "CAP_SYS_ADMIN"}},
	// The kernel keyring is not namespaced: keys of other users and
	// containers could be reached, and the keyring code has a history of
	// bugs. No capability makes this safe.
	{[]string{"add_key", "request_key", "keyctl"}, nil},
	// Changing the mount table. nook sets up the sandbox's mounts before
	// this filter is installed; afterwards the program has no need to
	// (re)mount anything, and mount-related bugs are a classic container
	// escape. An OCI profile cannot say "only inside a user namespace the
	// sandbox owns", so the rule is lifted only by CAP_SYS_ADMIN.
	{[]string{"mount", "umount", "umount2", "mount_setattr", "move_mount", "open_tree", "open_tree_attr",
		"fsopen", "fsconfig", "fsmount", "fspick", "pivot_root"}, []string{"CAP_SYS_ADMIN"}},
	// File handles bypass path-based confinement: open_by_handle_at can
	// open any file of a mounted file system by its handle (the
	// "shocker" escape), and name_to_handle_at produces those handles.
	{[]string{"open_by_handle_at", "name_to_handle_at"}, []string{"CAP_DAC_READ_SEARCH"}},
	// Joining other namespaces.
	{[]string{"setns"}, []string{"CAP_SYS_ADMIN"}},
	// userfaultfd lets a program stall kernel accesses to its memory,
	// the standard way to win kernel race conditions.
	{[]string{"userfaultfd"}, []string{"CAP_SYS_PTRACE"}},
	// io_uring: a second system-call interface that seccomp cannot see
	// into, and a large source of kernel vulnerabilities. Programs fall
	// back to ordinary syscalls when io_uring_setup fails (EPERM is also
	// what the kernel.io_uring_disabled sysctl returns).
	{[]string{"io_uring_setup", "io_uring_enter", "io_uring_register"}, nil},
	// Process accounting writes a record of every process on the host.
	{[]string{"acct"}, []string{"CAP_SYS_PACCT"}},
	// Swap is machine-wide.
	{[]string{"swapon", "swapoff"}, []string{"CAP_SYS_ADMIN"}},
	// The clock is not namespaced. (adjtimex/clock_adjtime in read-only
	// mode are refused too: a filter cannot see the mode inside the
	// struct.)
	{[]string{"settimeofday", "stime", "clock_settime", "clock_settime64",
		"adjtimex", "clock_adjtime", "clock_adjtime64"}, []string{"CAP_SYS_TIME"}},
	// The kernel log is host-wide and leaks kernel addresses.
	{[]string{"syslog"}, []string{"CAP_SYSLOG"}},
	// Direct I/O port access.
	{[]string{"iopl", "ioperm"}, []string{"CAP_SYS_RAWIO"}},
	// Disk quotas are managed by the host.
	{[]string{"quotactl", "quotactl_fd"}, []string{"CAP_SYS_ADMIN"}},
	// Reading/writing another process's memory, and comparing kernel
	// objects of other processes. ptrace itself stays allowed: since
	// Linux 4.8 seccomp re-checks a syscall after a tracer changes it,
	// so ptrace can no longer be used to get around this filter, and
	// debuggers and strace need it (the kernel's own ptrace access
	// checks still apply).
	{[]string{"process_vm_readv", "process_vm_writev", "kcmp"}, []string{"CAP_SYS_PTRACE"}},
	// Obsolete or unimplemented calls with no legitimate modern use, some
	// with a history of exploits (uselib, vm86): _sysctl,
	// lookup_dcookie, nfsservctl, uselib, vm86/vm86old (i386 only), and
	// the pre-2.6 module calls.
	{[]string{"_sysctl", "lookup_dcookie", "nfsservctl", "uselib", "vm86", "vm86old",
		"create_module", "get_kernel_syms", "query_module"}, nil},
}

// safePersonalities are the personality(2) values the default profile
// allows: plain Linux, the 32-bit uname variant (linux32/setarch), the
// "uname reports 2.6" flag, their combination, and the query value.
// Everything else is refused: other values switch off ASLR
// (ADDR_NO_RANDOMIZE), make all readable memory executable
// (READ_IMPLIES_EXEC), map page zero (MMAP_PAGE_ZERO) or select obsolete
// execution domains.
var safePersonalities = []uint64{perLinux, perLinux32, perUname26, perLinux32 | perUname26, perQuery}

// Default returns nook's default profile, for the default capability set
// ([caps.Default]). It is a denylist: everything not listed is allowed.
func Default() *specs.LinuxSeccomp {
	return DefaultFor(caps.Default())
}

// DefaultFor returns nook's default profile adjusted to the capabilities
// the sandbox is granted (names as accepted by [caps.Normalize]; names it
// does not know grant nothing). Rules guarded by a capability are left out
// when that capability is granted; see the comments in the source for the
// reason behind each rule.
//
// Independent of capabilities:
//   - new user namespaces are always refused (clone and unshare with
//     CLONE_NEWUSER get EPERM): they open the kernel's namespace-root code
//     paths, the most common route to kernel exploits from unprivileged
//     code. A sandbox that needs nested user namespaces needs its own
//     profile.
//   - clone3 always fails with ENOSYS: its flags are in memory, where a
//     filter cannot check them, and ENOSYS makes libc fall back to clone,
//     whose flags can be checked.
//   - personality is limited to safe values.
//
// The profile lists x86_64, x86 (i386), x32, aarch64 and arm; the compiler
// uses the ones the running kernel can present, and refuses x32 syscalls
// with ENOSYS.
func DefaultFor(granted []string) *specs.LinuxSeccomp {
	have := map[string]bool{}
	for _, c := range granted {
		if n, err := caps.Normalize(c); err == nil {
			have[n] = true
		}
	}
	haveAny := func(cs []string) bool {
		for _, c := range cs {
			if have[c] {
				return true
			}
		}
		return false
	}
	eperm := func() *uint { v := uint(errnoEPERM); return &v }
	p := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32, specs.ArchAARCH64, specs.ArchARM},
	}
	deny := func(names []string, args ...specs.LinuxSeccompArg) {
		p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: names, Action: specs.ActErrno, ErrnoRet: eperm(), Args: args})
	}
	for _, g := range defaultDenied {
		if len(g.unless) == 0 || !haveAny(g.unless) {
			deny(g.names)
		}
	}

	// Namespaces. The legacy clone(2) and unshare(2) take the flags in
	// the first argument on every architecture nook supports; each flag
	// is its own rule because several conditions on one argument are ORed.
	// The kernel reads clone's flags as a 32-bit value; all these flags
	// are in the low word.
	nsFlags := []uint64{cloneNewUser}
	if !have["CAP_SYS_ADMIN"] {
		nsFlags = append(nsFlags, cloneNewNS, cloneNewCgroup, cloneNewUTS, cloneNewIPC, cloneNewPID, cloneNewNet)
	}
	for _, f := range nsFlags {
		deny([]string{"clone", "unshare"}, specs.LinuxSeccompArg{Index: 0, Value: f, ValueTwo: f, Op: specs.OpMaskedEqual})
	}
	if !have["CAP_SYS_ADMIN"] {
		// CLONE_NEWTIME shares its bit with the exit signal in clone(2),
		// so it is only checked for unshare(2).
		deny([]string{"unshare"}, specs.LinuxSeccompArg{Index: 0, Value: cloneNewTime, ValueTwo: cloneNewTime, Op: specs.OpMaskedEqual})
	}
	if !have["CAP_SYS_ADMIN"] {
		// Typing into a terminal: a sandbox that inherits the user's
		// terminal as stdin could queue commands for the user's shell
		// to run after it exits (TIOCSTI), or paste through the console
		// (TIOCLINUX). The kernel already requires CAP_SYS_ADMIN for a
		// terminal that is not the caller's controlling one; this also
		// covers one that is. The request is 32 bits.
		for _, req := range []uint64{tiocsti, tioclinux} {
			deny([]string{"ioctl"}, specs.LinuxSeccompArg{Index: 1, Value: lowWordMask, ValueTwo: req, Op: specs.OpMaskedEqual})
		}
		// Device nodes: the sandbox gets the ones it needs from nook.
		// A block or character node made inside could reach a host disk
		// wherever no device cgroup stands in the way (cgroup v2 has
		// none without BPF); FIFOs and sockets stay allowed.
		for _, kind := range []uint64{sIFCHR, sIFBLK} {
			deny([]string{"mknod"}, specs.LinuxSeccompArg{Index: 1, Value: sIFMT, ValueTwo: kind, Op: specs.OpMaskedEqual})
			deny([]string{"mknodat"}, specs.LinuxSeccompArg{Index: 2, Value: sIFMT, ValueTwo: kind, Op: specs.OpMaskedEqual})
		}
	}
	enosys := uint(errnoENOSYS)
	p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys})

	// personality: refused, except for the safe values. The kernel reads
	// the argument as 32 bits, so only the low word is compared. These
	// ALLOW rules are conditional and so take precedence over the
	// unconditional ERRNO rule for the same syscall (see Compile).
	deny([]string{"personality"})
	for _, v := range safePersonalities {
		p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{
			Names:  []string{"personality"},
			Action: specs.ActAllow,
			Args:   []specs.LinuxSeccompArg{{Index: 0, Value: lowWordMask, ValueTwo: v, Op: specs.OpMaskedEqual}},
		})
	}
	return p
}

package seccomp

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// AUDIT_ARCH_* values (include/uapi/linux/audit.h) as seen in
// seccomp_data.arch.
const (
	auditArchX86_64  = 0xc000003e
	auditArchI386    = 0x40000003
	auditArchAARCH64 = 0xc00000b7
	auditArchARM     = 0x40000028
)

// x32SyscallBit marks x32 syscalls, which share AUDIT_ARCH_X86_64 with
// native x86_64 ones (arch/x86/include/uapi/asm/unistd.h).
const x32SyscallBit = 0x40000000

// archInfo describes one architecture we can generate rules for.
type archInfo struct {
	name  specs.Arch
	audit uint32
	// is64 tells whether seccomp_data.args hold 64-bit values. For the
	// 32-bit (compat) ABIs only the low 32 bits of each argument reach
	// the syscall, and the upper half of the register may hold garbage
	// (a 64-bit process can issue int 0x80), so only the low word is
	// compared, with the rule's value truncated to 32 bits (libseccomp
	// does the same).
	is64  bool
	table sysTable
	// multiplexed is true for i386, where the socket and SysV IPC calls
	// can also be made through socketcall(2) and ipc(2).
	multiplexed bool
}

var (
	archX86_64  = &archInfo{name: specs.ArchX86_64, audit: auditArchX86_64, is64: true, table: sysnumX86_64}
	archX86     = &archInfo{name: specs.ArchX86, audit: auditArchI386, table: sysnumX86, multiplexed: true}
	archAARCH64 = &archInfo{name: specs.ArchAARCH64, audit: auditArchAARCH64, is64: true, table: sysnumAARCH64}
	archARM     = &archInfo{name: specs.ArchARM, audit: auditArchARM, table: sysnumARM}
)

// family is what one kernel can present to a filter: the native ABI and
// the compat ABIs a process may use.
type family struct {
	native *archInfo
	compat []*archInfo
	// x32 is true on x86_64, where syscall numbers with x32SyscallBit set
	// arrive under AUDIT_ARCH_X86_64.
	x32 bool
}

// The tables below are slices of pairs, not maps: a map literal at
// package level is built by code when the package is initialised, in
// every nook command, where a slice of constants is data in the binary,
// read only when a profile is compiled.

// pair is one row of a lookup table.
type pair[K comparable, V any] struct {
	k K
	v V
}

// find returns the value of key k in table t.
func find[K comparable, V any](t []pair[K, V], k K) (V, bool) {
	for _, p := range t {
		if p.k == k {
			return p.v, true
		}
	}
	var zero V
	return zero, false
}

// families are keyed by GOARCH.
var families = []pair[string, family]{
	{"amd64", family{native: archX86_64, compat: []*archInfo{archX86}, x32: true}},
	{"386", family{native: archX86}},
	{"arm64", family{native: archAARCH64, compat: []*archInfo{archARM}}},
	{"arm", family{native: archARM}},
}

// knownArches are the architecture names of the OCI spec. Those that are
// not part of the target's family are accepted and ignored: the kernel
// can never present them to the filter.
var knownArches = []specs.Arch{
	specs.ArchX86, specs.ArchX86_64, specs.ArchX32,
	specs.ArchARM, specs.ArchAARCH64,
	specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32,
	specs.ArchMIPSEL, specs.ArchMIPSEL64, specs.ArchMIPSEL64N32,
	specs.ArchPPC, specs.ArchPPC64, specs.ArchPPC64LE,
	specs.ArchS390, specs.ArchS390X,
	specs.ArchPARISC, specs.ArchPARISC64,
	specs.ArchRISCV64, specs.ArchLOONGARCH64,
	specs.ArchM68K, specs.ArchSH, specs.ArchSHEB,
}

// goArchOf maps an SCMP_ARCH_* name to GOARCH where Go has one, for the
// Docker "archMap"/"arches" matching.
var goArchOf = []pair[specs.Arch, string]{
	{specs.ArchX86_64, "amd64"},
	{specs.ArchX86, "386"},
	{specs.ArchX32, "x32"},
	{specs.ArchAARCH64, "arm64"},
	{specs.ArchARM, "arm"},
	{specs.ArchMIPS, "mips"},
	{specs.ArchMIPSEL, "mipsle"},
	{specs.ArchMIPS64, "mips64"},
	{specs.ArchMIPSEL64, "mips64le"},
	{specs.ArchMIPS64N32, "mips64n32"},
	{specs.ArchMIPSEL64N32, "mips64len32"},
	{specs.ArchPPC, "ppc"},
	{specs.ArchPPC64, "ppc64"},
	{specs.ArchPPC64LE, "ppc64le"},
	{specs.ArchS390, "s390"},
	{specs.ArchS390X, "s390x"},
	{specs.ArchPARISC, "parisc"},
	{specs.ArchPARISC64, "parisc64"},
	{specs.ArchRISCV64, "riscv64"},
	{specs.ArchLOONGARCH64, "loong64"},
	{specs.ArchM68K, "m68k"},
	{specs.ArchSH, "sh"},
	{specs.ArchSHEB, "sheb"},
}

func familyFor(goarch string) (family, error) {
	f, ok := find(families, goarch)
	if !ok {
		return family{}, fmt.Errorf("seccomp: architecture %q is not supported (supported: amd64, 386, arm64, arm)", goarch)
	}
	return f, nil
}

// SyscallNumber returns the number of a syscall on an architecture given
// as an SCMP_ARCH_* name, for the architectures this package has tables
// for (x86_64, x86, aarch64, arm).
func SyscallNumber(arch specs.Arch, name string) (uint32, bool) {
	for _, a := range []*archInfo{archX86_64, archX86, archAARCH64, archARM} {
		if a.name == arch {
			return a.table.lookup(name)
		}
	}
	return 0, false
}

// socketcallOps are the call numbers of socketcall(2)
// (include/uapi/linux/net.h).
var socketcallOps = []pair[string, uint64]{
	{"socket", 1}, {"bind", 2}, {"connect", 3}, {"listen", 4}, {"accept", 5},
	{"getsockname", 6}, {"getpeername", 7}, {"socketpair", 8}, {"send", 9},
	{"recv", 10}, {"sendto", 11}, {"recvfrom", 12}, {"shutdown", 13},
	{"setsockopt", 14}, {"getsockopt", 15}, {"sendmsg", 16}, {"recvmsg", 17},
	{"accept4", 18}, {"recvmmsg", 19}, {"sendmmsg", 20},
}

// ipcOps are the call numbers of ipc(2) (include/uapi/linux/ipc.h). The
// kernel takes the operation from the low 16 bits of the first argument
// (the high bits are an interface version).
var ipcOps = []pair[string, uint64]{
	{"semop", 1}, {"semget", 2}, {"semctl", 3}, {"semtimedop", 4},
	{"msgsnd", 11}, {"msgrcv", 12}, {"msgget", 13}, {"msgctl", 14},
	{"shmat", 21}, {"shmdt", 22}, {"shmget", 23}, {"shmctl", 24},
}

package seccomp

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func uintp(v uint) *uint { return &v }

// evalRef is a direct, slow evaluation of profile p for the data d on a
// kernel of family goarch, written independently of the code generator:
// the behaviour Compile's output must have.
func evalRef(t testing.TB, p *specs.LinuxSeccomp, goarch string, d seccompData) uint32 {
	t.Helper()
	n, err := normalize(p)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := familyFor(goarch)
	var a *archInfo
	for _, c := range n.archesFor(f) {
		if c.audit == d.arch {
			a = c
		}
	}
	if a == nil {
		return badArchAction
	}
	nr := uint32(d.nr)
	if f.x32 && a == f.native && nr >= x32SyscallBit {
		return x32Action
	}
	match := func(c cond) bool {
		x, v, two := d.args[c.index], c.value, c.two
		if !a.is64 {
			x, v, two = x&0xffffffff, v&0xffffffff, two&0xffffffff
		}
		switch c.op {
		case specs.OpEqualTo:
			return x == v
		case specs.OpNotEqual:
			return x != v
		case specs.OpLessThan:
			return x < v
		case specs.OpLessEqual:
			return x <= v
		case specs.OpGreaterThan:
			return x > v
		case specs.OpGreaterEqual:
			return x >= v
		case specs.OpMaskedEqual:
			return x&v == two&v
		}
		t.Fatalf("bad op %q", c.op)
		return false
	}
	var uncond *uint32
	for _, r := range n.rules {
		if a.multiplexed && len(r.conds) == 0 && r.action != n.defAction {
			if op, ok := find(socketcallOps, r.name); ok && nr == 102 && d.args[0]&0xffffffff == op {
				return r.action
			}
			if op, ok := find(ipcOps, r.name); ok && nr == 117 && d.args[0]&0xffff == op {
				return r.action
			}
		}
		if num, ok := a.table.lookup(r.name); !ok || num != nr {
			continue
		}
		if len(r.conds) == 0 {
			if r.action != n.defAction && uncond == nil {
				act := r.action
				uncond = &act
			}
			continue
		}
		all := true
		for _, c := range r.conds {
			all = all && match(c)
		}
		if all {
			return r.action
		}
	}
	if uncond != nil {
		return *uncond
	}
	return n.defAction
}

func mustRun(t testing.TB, p Program, d seccompData) uint32 {
	t.Helper()
	got, _, err := run(p, d)
	if err != nil {
		t.Fatalf("running filter on %+v: %v", d, err)
	}
	return got
}

func TestDefaultProfileDecisions(t *testing.T) {
	prog, err := CompileArch(Default(), "amd64")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("default program for amd64: %d instructions, %d bytes", len(prog), len(prog.Bytes()))
	const (
		x64    = auditArchX86_64
		i386   = auditArchI386
		eperm  = retErrno | 1
		enosys = retErrno | 38
	)
	type args = [6]uint64
	for _, tc := range []struct {
		name string
		arch uint32
		nr   uint32
		args args
		want uint32
	}{
		{"getpid", x64, 39, args{}, retAllow},
		{"read", x64, 0, args{}, retAllow},
		{"highest known", x64, 471, args{}, retAllow},
		{"unknown number", x64, 1000, args{}, retAllow},
		{"mount", x64, 165, args{}, eperm},
		{"umount2", x64, 166, args{}, eperm},
		{"fsopen", x64, 430, args{}, eperm},
		{"keyctl", x64, 250, args{}, eperm},
		{"bpf", x64, 321, args{}, eperm},
		{"io_uring_setup", x64, 425, args{}, eperm},
		{"init_module", x64, 175, args{}, eperm},
		{"kexec_load", x64, 246, args{}, eperm},
		{"open_by_handle_at", x64, 304, args{}, eperm},
		{"setns", x64, 308, args{}, eperm},
		{"ptrace allowed", x64, 101, args{}, retAllow},
		{"clone3", x64, 435, args{}, enosys},
		{"clone thread", x64, 56, args{0x3d0f00}, retAllow},
		{"clone fork", x64, 56, args{0x01200011}, retAllow},
		{"clone newuser", x64, 56, args{0x10000000 | 17}, eperm},
		{"clone newns", x64, 56, args{0x00020000}, eperm},
		{"clone newnet", x64, 56, args{0x40000000}, eperm},
		{"clone exit signal 0x80", x64, 56, args{0x80}, retAllow},
		{"unshare files", x64, 272, args{0x400}, retAllow},
		{"unshare newuser", x64, 272, args{0x10000000}, eperm},
		{"unshare newtime", x64, 272, args{0x80}, eperm},
		{"personality linux", x64, 135, args{0}, retAllow},
		{"personality linux32", x64, 135, args{8}, retAllow},
		{"personality query", x64, 135, args{0xffffffff}, retAllow},
		{"personality query hi garbage", x64, 135, args{0xdead0000ffffffff}, retAllow},
		{"personality no-aslr", x64, 135, args{0x0040000}, eperm},
		{"personality read-implies-exec", x64, 135, args{0x0400000}, eperm},
		{"i386 getpid", i386, 20, args{}, retAllow},
		{"i386 mount", i386, 21, args{}, eperm},
		{"i386 umount", i386, 22, args{}, eperm},
		{"i386 keyctl", i386, 288, args{}, eperm},
		{"i386 vm86", i386, 166, args{}, eperm},
		{"i386 clone3", i386, 435, args{}, enosys},
		{"i386 clone newuser hi garbage", i386, 120, args{0xffffffff10000000}, eperm},
		{"i386 clone thread", i386, 120, args{0x3d0f00}, retAllow},
		{"i386 unshare newuser", i386, 310, args{0x10000000}, eperm},
		{"i386 clock_settime64", i386, 404, args{}, eperm},
		{"i386 socketcall", i386, 102, args{}, retAllow},
		{"x32 getpid", x64, 0x40000000 | 39, args{}, enosys},
		{"x32 mount", x64, 0x40000000 | 165, args{}, enosys},
		{"nr -1", x64, 0xffffffff, args{}, enosys},
		{"aarch64 on amd64", auditArchAARCH64, 40, args{}, retKillProcess},
		{"garbage arch", 0x12345678, 0, args{}, retKillProcess},
	} {
		d := seccompData{nr: int32(tc.nr), arch: tc.arch, args: tc.args}
		if got := mustRun(t, prog, d); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, actionString(got), actionString(tc.want))
		}
		if ref := evalRef(t, Default(), "amd64", d); ref != tc.want {
			t.Errorf("%s: reference evaluator says %s, test wants %s", tc.name, actionString(ref), actionString(tc.want))
		}
	}
}

func TestDefaultForCaps(t *testing.T) {
	for _, tc := range []struct {
		caps []string
		nr   uint32
		arg0 uint64
		want uint32
	}{
		{[]string{"CAP_SYS_ADMIN"}, 165, 0, retAllow},             // mount
		{[]string{"sys_admin"}, 308, 0, retAllow},                 // setns
		{[]string{"CAP_SYS_ADMIN"}, 56, 0x20000, retAllow},        // clone(CLONE_NEWNS)
		{[]string{"CAP_SYS_ADMIN"}, 56, 0x10000000, retErrno | 1}, // clone(CLONE_NEWUSER) stays denied
		{[]string{"CAP_SYS_ADMIN"}, 435, 0, retErrno | 38},        // clone3 stays ENOSYS
		{[]string{"CAP_SYS_ADMIN"}, 250, 0, retErrno | 1},         // keyctl stays denied
		{[]string{"CAP_SYS_PTRACE"}, 310, 0, retAllow},            // process_vm_readv
		{[]string{"CAP_SYS_TIME"}, 227, 0, retAllow},              // clock_settime
		{[]string{"CAP_BPF"}, 321, 0, retAllow},                   // bpf
		{[]string{"CAP_SYS_ADMIN", "CAP_SYS_PTRACE"}, 165, 0, retAllow},
		{nil, 165, 0, retErrno | 1},
		{[]string{"CAP_NOT_REAL"}, 165, 0, retErrno | 1},
	} {
		p := DefaultFor(tc.caps)
		prog, err := CompileArch(p, "amd64")
		if err != nil {
			t.Fatal(err)
		}
		d := seccompData{nr: int32(tc.nr), arch: auditArchX86_64, args: [6]uint64{tc.arg0}}
		if got := mustRun(t, prog, d); got != tc.want {
			t.Errorf("caps %v nr %d arg %#x: got %s, want %s", tc.caps, tc.nr, tc.arg0, actionString(got), actionString(tc.want))
		}
	}
	// Every name the default profile mentions must exist on at least one
	// ABI we have tables for, or it is a typo.
	for _, sc := range DefaultFor(nil).Syscalls {
		for _, name := range sc.Names {
			found := false
			for _, a := range []*archInfo{archX86_64, archX86, archAARCH64, archARM} {
				if _, ok := a.table.lookup(name); ok {
					found = true
				}
			}
			if !found {
				t.Errorf("default profile names unknown syscall %q", name)
			}
		}
	}
}

func TestCompileArm64(t *testing.T) {
	prog, err := CompileArch(Default(), "arm64")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("default program for arm64: %d instructions", len(prog))
	for _, tc := range []struct {
		arch uint32
		nr   uint32
		want uint32
	}{
		{auditArchAARCH64, 172, retAllow},      // getpid
		{auditArchAARCH64, 40, retErrno | 1},   // mount
		{auditArchAARCH64, 435, retErrno | 38}, // clone3
		{auditArchARM, 20, retAllow},           // getpid
		{auditArchARM, 21, retErrno | 1},       // mount
		{auditArchX86_64, 39, retKillProcess},
	} {
		if got := mustRun(t, prog, seccompData{nr: int32(tc.nr), arch: tc.arch}); got != tc.want {
			t.Errorf("arch %#x nr %d: got %s, want %s", tc.arch, tc.nr, actionString(got), actionString(tc.want))
		}
	}
}

func TestArchitectureSelection(t *testing.T) {
	// Only the native ABI: i386 syscalls kill the process.
	p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
	prog, err := CompileArch(p, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	if got := mustRun(t, prog, seccompData{nr: 20, arch: auditArchI386}); got != retKillProcess {
		t.Errorf("unlisted i386: got %s", actionString(got))
	}
	if got := mustRun(t, prog, seccompData{nr: 39, arch: auditArchX86_64}); got != retAllow {
		t.Errorf("native: got %s", actionString(got))
	}
	// Listing only a compat or foreign ABI still gives the native one.
	p.Architectures = []specs.Arch{specs.ArchX86, specs.ArchPPC64LE}
	prog, err = CompileArch(p, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []uint32{auditArchI386, auditArchX86_64} {
		if got := mustRun(t, prog, seccompData{nr: 20, arch: a}); got != retAllow {
			t.Errorf("arch %#x: got %s", a, actionString(got))
		}
	}
}

// TestCompileRandom compares the generated filters with evalRef on random
// profiles and inputs, covering every operator, 32- and 64-bit ABIs,
// rule precedence and long programs that need jump trampolines.
func TestCompileRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"read", "write", "openat", "close", "mmap", "ioctl", "clone", "unshare",
		"socket", "connect", "personality", "prctl", "kill", "futex", "mount", "getpid", "vm86", "arch_prctl"}
	ops := []specs.LinuxSeccompOperator{specs.OpEqualTo, specs.OpNotEqual, specs.OpLessThan,
		specs.OpLessEqual, specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpMaskedEqual}
	actions := []struct {
		a specs.LinuxSeccompAction
		e *uint
	}{
		{specs.ActAllow, nil}, {specs.ActErrno, uintp(1)}, {specs.ActErrno, uintp(13)},
		{specs.ActKillProcess, nil}, {specs.ActTrap, nil}, {specs.ActLog, nil}, {specs.ActTrace, uintp(7)},
	}
	vals := []uint64{0, 1, 2, 5, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000, 0x100000005,
		0xffffffff00000000, 0xffffffffffffffff, 0x8000000000000000, 0x10000000, 0x3d0f00}
	randVal := func() uint64 {
		if rng.IntN(4) == 0 {
			return rng.Uint64() >> rng.IntN(64)
		}
		return vals[rng.IntN(len(vals))]
	}
	for iter := range 300 {
		def := actions[rng.IntN(len(actions))]
		p := &specs.LinuxSeccomp{DefaultAction: def.a, DefaultErrnoRet: def.e,
			Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}}
		nrules := 1 + rng.IntN(40)
		if iter%25 == 0 {
			nrules = 400 // long programs: jumps beyond 255 instructions
		}
		for range nrules {
			act := actions[rng.IntN(len(actions))]
			sc := specs.LinuxSyscall{Action: act.a, ErrnoRet: act.e}
			for range 1 + rng.IntN(2) {
				sc.Names = append(sc.Names, names[rng.IntN(len(names))])
			}
			if iter%25 == 0 {
				sc.Names = []string{sysnumX86_64[rng.IntN(len(sysnumX86_64))].name}
			}
			for range rng.IntN(4) {
				sc.Args = append(sc.Args, specs.LinuxSeccompArg{
					Index: uint(rng.IntN(3)), Value: randVal(), Op: ops[rng.IntN(len(ops))]})
				if a := &sc.Args[len(sc.Args)-1]; a.Op == specs.OpMaskedEqual {
					a.ValueTwo = randVal()
					if rng.IntN(2) == 0 { // single-bit flag tests (jset)
						a.Value = 1 << rng.IntN(64)
						a.ValueTwo = a.Value
						if rng.IntN(2) == 0 {
							a.Value = 1 << rng.IntN(3)
							a.ValueTwo = a.Value
						}
					}
				}
			}
			p.Syscalls = append(p.Syscalls, sc)
		}
		if uncondConflict(p) {
			// the first rule wins (TestFirstUnconditionalWins); the
			// reference does not model it
			continue
		}
		prog, err := CompileArch(p, "amd64")
		if err != nil {
			t.Fatalf("iter %d: %v", iter, err)
		}
		for range 300 {
			d := seccompData{arch: auditArchX86_64}
			switch rng.IntN(10) {
			case 0:
				d.arch = auditArchI386
			case 1:
				d.arch = rng.Uint32()
			}
			var tbl sysTable = sysnumX86_64
			if d.arch == auditArchI386 {
				tbl = sysnumX86
			}
			if nr, ok := tbl.lookup(names[rng.IntN(len(names))]); ok && rng.IntN(5) != 0 {
				d.nr = int32(nr)
			} else {
				d.nr = int32(rng.Uint32() >> rng.IntN(32))
			}
			for i := range d.args {
				d.args[i] = randVal()
				if rng.IntN(3) == 0 {
					d.args[i] = argValueNear(p.Syscalls[rng.IntN(len(p.Syscalls))], rng)
				}
			}
			want := evalRef(t, p, "amd64", d)
			got, _, err := run(prog, d)
			if err != nil {
				t.Fatalf("iter %d: %v", iter, err)
			}
			if got != want {
				t.Fatalf("iter %d: data %+v: filter says %s, reference says %s\nprofile: %+v", iter, d, actionString(got), actionString(want), p.Syscalls)
			}
		}
	}
}

func TestCompileErrors(t *testing.T) {
	base := func() *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"mount"}, Action: specs.ActErrno}}}
	}
	for _, tc := range []struct {
		name string
		mod  func(p *specs.LinuxSeccomp)
		want string
	}{
		{"no default", func(p *specs.LinuxSeccomp) { p.DefaultAction = "" }, "defaultAction: action is missing"},
		{"bad default", func(p *specs.LinuxSeccomp) { p.DefaultAction = "SCMP_ACT_MAYBE" }, `unknown action "SCMP_ACT_MAYBE"`},
		{"notify", func(p *specs.LinuxSeccomp) { p.Syscalls[0].Action = specs.ActNotify }, "syscalls[0]: SCMP_ACT_NOTIFY is not supported"},
		{"errno on allow", func(p *specs.LinuxSeccomp) { p.DefaultErrnoRet = uintp(1) }, "defaultAction: errnoRet is only valid"},
		{"errno too big", func(p *specs.LinuxSeccomp) { p.Syscalls[0].ErrnoRet = uintp(70000) }, "syscalls[0]: errnoRet 70000 out of range"},
		{"bad arch", func(p *specs.LinuxSeccomp) { p.Architectures = []specs.Arch{"SCMP_ARCH_Z80"} }, `architectures[0]: unknown architecture "SCMP_ARCH_Z80"`},
		{"empty names", func(p *specs.LinuxSeccomp) { p.Syscalls[0].Names = nil }, "syscalls[0]: names is empty"},
		{"bad name", func(p *specs.LinuxSeccomp) { p.Syscalls[0].Names = []string{"mount", "Mount!"} }, `syscalls[0].names[1]: invalid syscall name "Mount!"`},
		{"bad index", func(p *specs.LinuxSeccomp) {
			p.Syscalls[0].Args = []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}
		}, "syscalls[0].args[0]: index 6 out of range"},
		{"bad op", func(p *specs.LinuxSeccomp) {
			p.Syscalls[0].Args = []specs.LinuxSeccompArg{{Index: 0, Op: "SCMP_CMP_ABOUT"}}
		}, `syscalls[0].args[0]: unknown op "SCMP_CMP_ABOUT"`},
		{"no op", func(p *specs.LinuxSeccomp) { p.Syscalls[0].Args = []specs.LinuxSeccompArg{{Index: 0}} }, "syscalls[0].args[0]: op is missing"},
		{"valueTwo", func(p *specs.LinuxSeccomp) {
			p.Syscalls[0].Args = []specs.LinuxSeccompArg{{Index: 0, ValueTwo: 3, Op: specs.OpEqualTo}}
		}, "syscalls[0].args[0]: valueTwo is only used with SCMP_CMP_MASKED_EQ"},
		{"bad flag", func(p *specs.LinuxSeccomp) { p.Flags = []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_FAST"} }, `flags[0]: unknown flag`},
	} {
		p := base()
		tc.mod(p)
		_, err := CompileArch(p, "amd64")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
	if _, err := CompileArch(Default(), "sparc64"); err == nil || !strings.Contains(err.Error(), "sparc64") {
		t.Errorf("unsupported arch: %v", err)
	}
	if _, err := Compile(nil); err == nil {
		t.Error("nil profile: no error")
	}
}

func TestPrecedence(t *testing.T) {
	eno := func(e uint) *uint { return &e }
	p := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: eno(1),
		Syscalls: []specs.LinuxSyscall{
			// Dropped: same as the default action.
			{Names: []string{"socket"}, Action: specs.ActErrno, ErrnoRet: eno(1)},
			{Names: []string{"socket"}, Action: specs.ActAllow},
			// Conditional rule beats the unconditional one.
			{Names: []string{"socket"}, Action: specs.ActErrno, ErrnoRet: eno(97),
				Args: []specs.LinuxSeccompArg{{Index: 0, Value: 40, Op: specs.OpEqualTo}}},
			// Several conditions on one argument are ORed (runc).
			{Names: []string{"kill"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 1, Value: 0, Op: specs.OpEqualTo}, {Index: 1, Value: 15, Op: specs.OpEqualTo}}},
			// Conditions on different arguments are ANDed.
			{Names: []string{"tgkill"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: 1, Op: specs.OpNotEqual}, {Index: 2, Value: 9, Op: specs.OpNotEqual}}},
		},
	}
	prog, err := CompileArch(p, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		nr   uint32
		args [6]uint64
		want uint32
	}{
		{41, [6]uint64{2}, retAllow},
		{41, [6]uint64{40}, retErrno | 97},
		{62, [6]uint64{5, 0}, retAllow},
		{62, [6]uint64{5, 15}, retAllow},
		{62, [6]uint64{5, 9}, retErrno | 1},
		{234, [6]uint64{5, 0, 15}, retAllow},
		{234, [6]uint64{1, 0, 15}, retErrno | 1},
		{234, [6]uint64{5, 0, 9}, retErrno | 1},
	} {
		if got := mustRun(t, prog, seccompData{nr: int32(tc.nr), arch: auditArchX86_64, args: tc.args}); got != tc.want {
			t.Errorf("nr %d args %v: got %s, want %s", tc.nr, tc.args[:3], actionString(got), actionString(tc.want))
		}
	}
}

func TestBytes(t *testing.T) {
	prog := Program{{Code: 0x20, Jt: 1, Jf: 2, K: 4}, {Code: 0x06, K: 0x7fff0000}}
	want := []byte{0x20, 0, 1, 2, 4, 0, 0, 0, 0x06, 0, 0, 0, 0, 0, 0xff, 0x7f}
	if got := prog.Bytes(); !bytes.Equal(got, want) {
		t.Errorf("Bytes = % x, want % x", got, want)
	}
	back, err := FromBytes(want)
	if err != nil || !slices.Equal(back, prog) {
		t.Errorf("FromBytes = %v, %v", back, err)
	}
	if _, err := FromBytes(want[:7]); err == nil {
		t.Error("FromBytes accepted 7 bytes")
	}
}

func TestFilterFlags(t *testing.T) {
	f, err := FilterFlags(&specs.LinuxSeccomp{Flags: []specs.LinuxSeccompFlag{
		specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow, "SECCOMP_FILTER_FLAG_TSYNC"}})
	if err != nil || f != 6 {
		t.Errorf("FilterFlags = %d, %v", f, err)
	}
}

func TestSyscallNumbers(t *testing.T) {
	for _, tc := range []struct {
		arch specs.Arch
		name string
		nr   uint32
	}{
		{specs.ArchX86_64, "read", 0}, {specs.ArchX86_64, "mount", 165}, {specs.ArchX86_64, "clone3", 435},
		{specs.ArchX86_64, "_sysctl", 156},
		{specs.ArchX86, "mount", 21}, {specs.ArchX86, "socketcall", 102}, {specs.ArchX86, "clone3", 435},
		{specs.ArchAARCH64, "mount", 40}, {specs.ArchAARCH64, "getpid", 172},
		{specs.ArchARM, "mount", 21}, {specs.ArchARM, "arm_fadvise64_64", 270},
	} {
		nr, ok := SyscallNumber(tc.arch, tc.name)
		if !ok || nr != tc.nr {
			t.Errorf("%s %s = %d, %v; want %d", tc.arch, tc.name, nr, ok, tc.nr)
		}
	}
	if _, ok := SyscallNumber(specs.ArchX86_64, "vm86"); ok {
		t.Error("vm86 on x86_64")
	}
	for _, tbl := range []sysTable{sysnumX86_64, sysnumX86, sysnumAARCH64, sysnumARM} {
		if !slices.IsSortedFunc(tbl, func(a, b sysEntry) int { return strings.Compare(a.name, b.name) }) {
			t.Error("table not sorted")
		}
	}
}

// TestCompileBitGroups targets the jset grouping of single-bit rules.
func TestCompileBitGroups(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	acts := []specs.LinuxSeccompAction{specs.ActErrno, specs.ActKillProcess, specs.ActAllow}
	for iter := range 500 {
		p := &specs.LinuxSeccomp{DefaultAction: acts[rng.IntN(3)], Architectures: []specs.Arch{specs.ArchX86}}
		var bits []uint64
		for range 1 + rng.IntN(8) {
			bit := uint64(1) << rng.IntN(64)
			if rng.IntN(2) == 0 {
				bit = 1 << rng.IntN(4)
			}
			bits = append(bits, bit)
			sc := specs.LinuxSyscall{Names: []string{"clone"}, Action: acts[rng.IntN(2)],
				Args: []specs.LinuxSeccompArg{{Index: uint(rng.IntN(2)), Value: bit, ValueTwo: bit, Op: specs.OpMaskedEqual}}}
			if rng.IntN(8) == 0 {
				sc.Args[0].ValueTwo = 0
			}
			p.Syscalls = append(p.Syscalls, sc)
		}
		if rng.IntN(3) == 0 {
			p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: []string{"clone"}, Action: specs.ActTrap})
		}
		prog, err := CompileArch(p, "amd64")
		if err != nil {
			t.Fatal(err)
		}
		for range 200 {
			d := seccompData{nr: 56, arch: auditArchX86_64}
			if rng.IntN(3) == 0 {
				d = seccompData{nr: 120, arch: auditArchI386}
			}
			for i := range 2 {
				for _, b := range bits {
					if rng.IntN(3) == 0 {
						d.args[i] |= b
					}
				}
				if rng.IntN(4) == 0 {
					d.args[i] = rng.Uint64()
				}
			}
			if got, want := mustRun(t, prog, d), evalRef(t, p, "amd64", d); got != want {
				t.Fatalf("iter %d: %+v: filter %s, reference %s\n%+v", iter, d, actionString(got), actionString(want), p.Syscalls)
			}
		}
	}
}

// uncondConflict reports whether a syscall has two unconditional rules
// with different actions, neither the default.
func uncondConflict(p *specs.LinuxSeccomp) bool {
	seen := map[string]specs.LinuxSeccompAction{}
	for _, sc := range p.Syscalls {
		if len(sc.Args) > 0 || sc.Action == p.DefaultAction {
			continue
		}
		act := sc.Action
		if sc.ErrnoRet != nil {
			act += specs.LinuxSeccompAction(fmt.Sprint(*sc.ErrnoRet))
		}
		for _, n := range sc.Names {
			if a, ok := seen[n]; ok && a != act {
				return true
			}
			seen[n] = act
		}
	}
	return false
}

// Two unconditional rules for one syscall: the first wins, as in
// libseccomp, so that podman's default profile (setns allowed, then
// listed again with SCMP_ACT_ERRNO) loads as runc loads it.
func TestFirstUnconditionalWins(t *testing.T) {
	p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"mount"}, Action: specs.ActErrno},
		{Names: []string{"mount"}, Action: specs.ActKillProcess},
	}}
	prog, err := CompileArch(p, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	nr, _ := sysTable(sysnumX86_64).lookup("mount")
	got, _, err := run(prog, seccompData{arch: auditArchX86_64, nr: int32(nr)})
	if err != nil {
		t.Fatal(err)
	}
	if got&0xffff0000 != retErrno {
		t.Errorf("mount: %s, want the first rule's SCMP_ACT_ERRNO", actionString(got))
	}
}

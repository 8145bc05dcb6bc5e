//go:build cgo && libseccomp

// Comparison with libseccomp (the library runc uses), built only with
// -tags libseccomp because it needs libseccomp-dev:
//
//	go test -tags libseccomp -run Libseccomp -bench Libseccomp ./seccomp/
//
// It checks that our syscall tables agree with libseccomp's, that the
// filters behave the same on many inputs, and measures libseccomp's
// compile+export time against ours.

package seccomp

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	ls "github.com/seccomp/libseccomp-golang"
)

func lsAction(a specs.LinuxSeccompAction, errnoRet *uint) ls.ScmpAction {
	ret := int16(1)
	if errnoRet != nil {
		ret = int16(*errnoRet)
	}
	switch a {
	case specs.ActAllow:
		return ls.ActAllow
	case specs.ActErrno:
		return ls.ActErrno.SetReturnCode(ret)
	case specs.ActTrace:
		return ls.ActTrace.SetReturnCode(ret)
	case specs.ActKill, specs.ActKillThread:
		return ls.ActKillThread
	case specs.ActKillProcess:
		return ls.ActKillProcess
	case specs.ActTrap:
		return ls.ActTrap
	case specs.ActLog:
		return ls.ActLog
	}
	panic("unsupported action " + a)
}

var lsOps = map[specs.LinuxSeccompOperator]ls.ScmpCompareOp{
	specs.OpNotEqual: ls.CompareNotEqual, specs.OpLessThan: ls.CompareLess,
	specs.OpLessEqual: ls.CompareLessOrEqual, specs.OpEqualTo: ls.CompareEqual,
	specs.OpGreaterEqual: ls.CompareGreaterEqual, specs.OpGreaterThan: ls.CompareGreater,
	specs.OpMaskedEqual: ls.CompareMaskedEqual,
}

// compileLibseccomp builds p with libseccomp the way runc does (skipping
// rules equal to the default action and unknown names, ORing same-index
// conditions) and exports the BPF. x32 is not added.
func compileLibseccomp(p *specs.LinuxSeccomp) (Program, error) {
	def := lsAction(p.DefaultAction, p.DefaultErrnoRet)
	f, err := ls.NewFilter(def)
	if err != nil {
		return nil, err
	}
	defer f.Release()
	if err := f.SetBadArchAction(ls.ActKillProcess); err != nil {
		return nil, err
	}
	for _, a := range p.Architectures {
		if a != specs.ArchX86 {
			continue
		}
		arch, _ := ls.GetArchFromString("x86")
		if err := f.AddArch(arch); err != nil {
			return nil, err
		}
	}
	for _, sc := range p.Syscalls {
		act := lsAction(sc.Action, sc.ErrnoRet)
		if act == def {
			continue
		}
		var conds []ls.ScmpCondition
		var count [6]int
		multi := false
		for _, a := range sc.Args {
			var c ls.ScmpCondition
			if a.Op == specs.OpMaskedEqual {
				c, err = ls.MakeCondition(a.Index, lsOps[a.Op], a.Value, a.ValueTwo)
			} else {
				c, err = ls.MakeCondition(a.Index, lsOps[a.Op], a.Value)
			}
			if err != nil {
				return nil, err
			}
			count[a.Index]++
			multi = multi || count[a.Index] > 1
			conds = append(conds, c)
		}
		for _, name := range sc.Names {
			nr, err := ls.GetSyscallFromName(name)
			if err != nil {
				continue
			}
			switch {
			case len(conds) == 0:
				err = f.AddRule(nr, act)
			case multi:
				for _, c := range conds {
					if err = f.AddRuleConditional(nr, act, []ls.ScmpCondition{c}); err != nil {
						break
					}
				}
			default:
				err = f.AddRuleConditional(nr, act, conds)
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	errc := make(chan error, 1)
	go func() { errc <- f.ExportBPF(w); w.Close() }()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if err := <-errc; err != nil {
		return nil, err
	}
	return FromBytes(b)
}

func TestLibseccompTablesAgree(t *testing.T) {
	for _, tc := range []struct {
		tbl  sysTable
		arch string
	}{{sysnumX86_64, "amd64"}, {sysnumX86, "x86"}, {sysnumAARCH64, "arm64"}, {sysnumARM, "arm"}} {
		arch, err := ls.GetArchFromString(tc.arch)
		if err != nil {
			t.Fatal(err)
		}
		known, missing := 0, 0
		for _, e := range tc.tbl {
			nr, err := ls.GetSyscallFromNameByArch(e.name, arch)
			if err != nil || nr < 0 {
				missing++
				continue
			}
			known++
			if uint32(nr) != e.nr {
				t.Errorf("%s %s: ours %d, libseccomp %d", tc.arch, e.name, e.nr, nr)
			}
		}
		t.Logf("%s: %d names agree, %d not known to libseccomp", tc.arch, known, missing)
	}
}

// lsUnknown lists the numbers whose names libseccomp does not know on
// arch: there the two filters legitimately differ.
func lsUnknown(tbl sysTable, arch string) map[uint32]bool {
	a, _ := ls.GetArchFromString(arch)
	m := map[uint32]bool{}
	for _, e := range tbl {
		if nr, err := ls.GetSyscallFromNameByArch(e.name, a); err != nil || nr < 0 {
			m[e.nr] = true
		}
	}
	return m
}

func compareWithLibseccomp(t *testing.T, p *specs.LinuxSeccomp, rng *rand.Rand, skip map[uint32]bool, skip32 map[uint32]bool, inputs int) {
	t.Helper()
	ours, err := CompileArch(p, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := compileLibseccomp(p)
	if err != nil {
		t.Fatal(err)
	}
	unk64, unk32 := lsUnknown(sysnumX86_64, "amd64"), lsUnknown(sysnumX86, "x86")
	for range inputs {
		d := seccompData{arch: auditArchX86_64, nr: int32(rng.IntN(480))}
		if rng.IntN(4) == 0 {
			d.arch = auditArchI386
		}
		if d.arch == auditArchX86_64 && unk64[uint32(d.nr)] || d.arch == auditArchI386 && unk32[uint32(d.nr)] || skip[uint32(d.nr)] ||
			d.arch == auditArchI386 && skip32[uint32(d.nr)] {
			continue
		}
		for i := range d.args {
			d.args[i] = []uint64{0, 1, 8, 0x40000, 0x10000000, 0x20000, 0xffffffff, 0x100000000, 1 << 63, rng.Uint64()}[rng.IntN(10)]
		}
		a, _, err1 := run(ours, d)
		b, _, err2 := run(theirs, d)
		if err1 != nil || err2 != nil {
			t.Fatalf("run: %v / %v", err1, err2)
		}
		if a != b {
			t.Fatalf("input %+v: nook %s, libseccomp %s\nprofile %s %+v", d, actionString(a), actionString(b), p.DefaultAction, p.Syscalls)
		}
	}
	t.Logf("nook %d instructions, libseccomp %d", len(ours), len(theirs))
}

func TestLibseccompAgreesDefault(t *testing.T) {
	p := Default()
	p.Architectures = []specs.Arch{specs.ArchX86_64, specs.ArchX86}
	// personality is where the semantics differ on purpose (see resolve).
	compareWithLibseccomp(t, p, rand.New(rand.NewPCG(3, 4)), map[uint32]bool{135: true, 136: true}, nil, 200000)
}

func TestLibseccompAgreesRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	names := []string{"read", "write", "openat", "close", "mmap", "ioctl", "clone", "unshare",
		"socket", "connect", "prctl", "kill", "futex", "mount", "getpid", "fcntl"}
	ops := []specs.LinuxSeccompOperator{specs.OpEqualTo, specs.OpNotEqual, specs.OpLessThan,
		specs.OpLessEqual, specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpMaskedEqual}
	acts := []specs.LinuxSeccompAction{specs.ActAllow, specs.ActErrno, specs.ActKillProcess, specs.ActTrap, specs.ActLog}
	vals := []uint64{0, 1, 8, 0x40000, 0x10000000, 0xffffffff, 0x100000000, 1 << 63}
	for range 100 {
		p := &specs.LinuxSeccomp{DefaultAction: acts[rng.IntN(len(acts))],
			Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86}}
		// One entry per name, each argument compared at most once:
		// libseccomp's order among overlapping rules with different
		// actions is not defined, and 2.5.4 miscompiles some filters with
		// several 64-bit comparisons of one argument in different rules
		// (it compares the low word against the next rule's high word;
		// nook's output is right there, as TestCompileRandom checks).
		for _, i := range rng.Perm(len(names))[:1+rng.IntN(10)] {
			sc := specs.LinuxSyscall{Names: []string{names[i]}, Action: acts[rng.IntN(len(acts))]}
			for _, idx := range rng.Perm(3)[:rng.IntN(3)] {
				a := specs.LinuxSeccompArg{Index: uint(idx), Value: vals[rng.IntN(len(vals))], Op: ops[rng.IntN(len(ops))]}
				if a.Op == specs.OpMaskedEqual {
					a.ValueTwo = vals[rng.IntN(len(vals))]
				}
				sc.Args = append(sc.Args, a)
			}
			p.Syscalls = append(p.Syscalls, sc)
		}
		// libseccomp copies argument conditions of socket/IPC rules onto
		// socketcall/ipc, where they compare the wrong arguments; nook
		// only expands unconditional rules (see TestLibseccompMultiplexed).
		compareWithLibseccomp(t, p, rng, nil, map[uint32]bool{102: true, 117: true}, 3000)
	}
}

func TestLibseccompMultiplexed(t *testing.T) {
	for _, def := range []specs.LinuxSeccompAction{specs.ActAllow, specs.ActKillProcess} {
		p := &specs.LinuxSeccomp{DefaultAction: def, Architectures: []specs.Arch{specs.ArchX86}}
		act := specs.ActErrno
		if def == specs.ActErrno {
			act = specs.ActAllow
		}
		p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: []string{"connect", "socket", "shmat", "msgget", "sendmmsg"}, Action: act})
		ours, err := CompileArch(p, "amd64")
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := compileLibseccomp(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, nr := range []int32{102, 117} {
			for call := range uint64(30) {
				d := seccompData{arch: auditArchI386, nr: nr, args: [6]uint64{call}}
				a, _, _ := run(ours, d)
				b, _, _ := run(theirs, d)
				if a != b {
					t.Errorf("default %s: i386 nr %d call %d: nook %s, libseccomp %s", def, nr, call, actionString(a), actionString(b))
				}
			}
		}
	}
}

func BenchmarkLibseccompCompileDefault(b *testing.B) {
	p := Default()
	p.Architectures = []specs.Arch{specs.ArchX86_64, specs.ArchX86}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := compileLibseccomp(p); err != nil {
			b.Fatal(err)
		}
	}
}

package cgroups

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/nookrun/nook/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// dev builds a rule; typ "" and "a" are all devices, major/minor -2 is nil.
func dev(allow bool, typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
	d := specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Access: access}
	if major != -2 {
		d.Major = ptr(major)
	}
	if minor != -2 {
		d.Minor = ptr(minor)
	}
	return d
}

const anyN = -2 // nil major/minor

var (
	denyAll  = dev(false, "a", anyN, anyN, "rwm")
	allowAll = dev(true, "a", anyN, anyN, "rwm")
)

// nookDefaultDevices is sandbox.DeviceRules (which this package cannot
// import): what every nook sandbox asks for.
var nookDefaultDevices = []specs.LinuxDeviceCgroup{
	denyAll,
	dev(true, "c", 1, 3, "rwm"), dev(true, "c", 1, 5, "rwm"), dev(true, "c", 1, 7, "rwm"),
	dev(true, "c", 1, 8, "rwm"), dev(true, "c", 1, 9, "rwm"),
	dev(true, "c", 5, 0, "rwm"), dev(true, "c", 5, 2, "rwm"), dev(true, "c", 136, anyN, "rwm"),
}

func (p devicePolicy) String() string {
	var b strings.Builder
	if p.allow {
		b.WriteString("allow")
	} else {
		b.WriteString("deny")
	}
	for _, e := range p.except {
		b.WriteString("; " + e.String())
	}
	return b.String()
}

func TestCanonDevices(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		want  string // devicePolicy.String, or the error's text
		err   error
	}{
		{"empty", nil, "deny", nil},
		{"allow all", []specs.LinuxDeviceCgroup{allowAll}, "allow", nil},
		{"allow all, type empty, no access", []specs.LinuxDeviceCgroup{{Allow: true}}, "allow", nil},
		{"allow all -1", []specs.LinuxDeviceCgroup{dev(true, "a", -1, -1, "r")}, "allow", nil},
		{"deny all", []specs.LinuxDeviceCgroup{denyAll}, "deny", nil},
		{"deny all then allow all", []specs.LinuxDeviceCgroup{denyAll, allowAll}, "allow", nil},
		{"allow all then deny all", []specs.LinuxDeviceCgroup{allowAll, dev(true, "c", 1, 3, "r"), denyAll}, "deny", nil},
		{"task example", []specs.LinuxDeviceCgroup{denyAll, dev(true, "c", 1, 3, "rwm"), dev(true, "c", 1, 5, "r")},
			"deny; c 1:3 rwm; c 1:5 r", nil},
		{"no leading deny all", []specs.LinuxDeviceCgroup{dev(true, "c", 1, 3, "")}, "deny; c 1:3 rwm", nil},
		{"deny without allow", []specs.LinuxDeviceCgroup{dev(false, "c", 1, 3, "rwm")}, "deny", nil},
		{"merge", []specs.LinuxDeviceCgroup{denyAll, dev(true, "c", 1, 3, "r"), dev(true, "c", 1, 3, "w")}, "deny; c 1:3 rw", nil},
		{"take away", []specs.LinuxDeviceCgroup{denyAll, dev(true, "c", 1, 3, "rwm"), dev(false, "c", 1, 3, "w")}, "deny; c 1:3 rm", nil},
		{"take all away", []specs.LinuxDeviceCgroup{denyAll, dev(true, "c", 1, 3, "rwm"), dev(false, "c", 1, 3, "mwr")}, "deny", nil},
		{"reset drops earlier", []specs.LinuxDeviceCgroup{allowAll, dev(false, "c", 1, 3, "rwm"), denyAll, dev(true, "b", 7, 0, "r")},
			"deny; b 7:0 r", nil},
		{"blacklist", []specs.LinuxDeviceCgroup{allowAll, dev(false, "c", 1, 5, "w"), dev(false, "b", anyN, anyN, "m")},
			"allow; b *:* m; c 1:5 w", nil},
		{"blacklist allow removes", []specs.LinuxDeviceCgroup{allowAll, dev(false, "c", 1, 5, "rw"), dev(true, "c", 1, 5, "r")},
			"allow; c 1:5 w", nil},
		{"wildcards nil and -1 are the same", []specs.LinuxDeviceCgroup{
			denyAll, dev(true, "c", anyN, anyN, "m"), dev(true, "b", -1, -1, "m"), dev(true, "c", 136, anyN, "rw"),
			dev(false, "c", -1, -1, "m"), dev(false, "b", anyN, -1, "m"),
		}, "deny; c 136:* rw", nil},
		{"type c and b differ", []specs.LinuxDeviceCgroup{denyAll, dev(true, "c", 1, 3, "r"), dev(true, "b", 1, 3, "w")},
			"deny; b 1:3 w; c 1:3 r", nil},
		{"sorted", []specs.LinuxDeviceCgroup{denyAll, dev(true, "c", 5, 0, "r"), dev(true, "c", 1, anyN, "r"), dev(true, "c", 1, 3, "r")},
			"deny; c 1:* r; c 1:3 r; c 5:0 r", nil},
		// Rules that v1 and runc would not let override an earlier
		// exception for another pattern.
		{"hole in wildcard", []specs.LinuxDeviceCgroup{denyAll, dev(true, "c", anyN, anyN, "rwm"), dev(false, "c", 1, 3, "w")},
			`devices[2]: deny c 1:3 w cannot override "w" of the earlier rule allow c *:* rwm`, ErrInvalid},
		{"hole in minor wildcard", []specs.LinuxDeviceCgroup{denyAll, dev(true, "c", 1, anyN, "r"), dev(false, "c", 1, 3, "rw")},
			`devices[2]: deny c 1:3 rw cannot override "r" of the earlier rule allow c 1:* r`, ErrInvalid},
		{"hole in major wildcard", []specs.LinuxDeviceCgroup{denyAll, dev(true, "b", -1, 3, "m"), dev(false, "b", 8, 3, "m")},
			`devices[2]: deny b 8:3 m cannot override "m" of the earlier rule allow b *:3 m`, ErrInvalid},
		{"hole in deny wildcard", []specs.LinuxDeviceCgroup{allowAll, dev(false, "c", 1, anyN, "rwm"), dev(true, "c", 1, 3, "rwm")},
			`devices[2]: allow c 1:3 rwm cannot override "rwm" of the earlier rule deny c 1:* rwm`, ErrInvalid},
		{"specific under general", []specs.LinuxDeviceCgroup{denyAll, dev(true, "c", 1, 3, "rwm"), dev(false, "c", 1, anyN, "rwm")},
			`devices[2]: deny c 1:* rwm cannot override "rwm" of the earlier rule allow c 1:3 rwm`, ErrInvalid},
		{"crossing wildcards", []specs.LinuxDeviceCgroup{denyAll, dev(true, "c", anyN, 3, "rw"), dev(true, "c", 2, 2, "r"), dev(false, "c", 1, anyN, "r")},
			`devices[3]: deny c 1:* r cannot override "r" of the earlier rule allow c *:3 rw`, ErrInvalid},
		{"first clash in order", []specs.LinuxDeviceCgroup{denyAll, dev(true, "c", 1, 5, "r"), dev(true, "c", 1, 3, "r"), dev(false, "c", 1, anyN, "r")},
			`devices[3]: deny c 1:* r cannot override "r" of the earlier rule allow c 1:3 r`, ErrInvalid},
		// No access or no device in common: fine.
		{"no access in common", []specs.LinuxDeviceCgroup{denyAll, dev(true, "c", anyN, anyN, "m"), dev(true, "c", 1, 3, "r"), dev(false, "c", 1, anyN, "w")},
			"deny; c *:* m; c 1:3 r", nil},
		{"no device in common", []specs.LinuxDeviceCgroup{denyAll, dev(true, "c", 2, 3, "r"), dev(true, "b", 1, 3, "r"), dev(false, "c", 1, anyN, "r")},
			"deny; b 1:3 r; c 2:3 r", nil},
		{"bad type", []specs.LinuxDeviceCgroup{dev(true, "x", anyN, anyN, "r")}, "devices[0]", ErrInvalid},
		{"bad access", []specs.LinuxDeviceCgroup{denyAll, dev(true, "c", 1, 3, "rx")}, "devices[1]", ErrInvalid},
		{"all with major", []specs.LinuxDeviceCgroup{dev(true, "a", 1, anyN, "r")}, "devices[0]", ErrInvalid},
		{"major too big", []specs.LinuxDeviceCgroup{dev(true, "c", 1<<20, 1, "r")}, "devices[0]", ErrInvalid},
		{"nook default", nookDefaultDevices,
			"deny; c 1:3 rwm; c 1:5 rwm; c 1:7 rwm; c 1:8 rwm; c 1:9 rwm; c 5:0 rwm; c 5:2 rwm; c 136:* rwm", nil},
	} {
		p, err := canonDevices(tc.rules)
		switch {
		case tc.err != nil:
			if !errors.Is(err, tc.err) || !strings.Contains(fmt.Sprint(err), tc.want) {
				t.Errorf("%s: got %v, %v; want error %q (%v)", tc.name, p, err, tc.want, tc.err)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case p.String() != tc.want:
			t.Errorf("%s: got %q, want %q", tc.name, p, tc.want)
		}
	}
}

func TestDevicePolicyAllows(t *testing.T) {
	t.Parallel()
	p, err := canonDevices([]specs.LinuxDeviceCgroup{denyAll, dev(true, "c", 1, 3, "rwm"), dev(true, "c", 1, 5, "r"), dev(true, "c", 1, anyN, "w")})
	if err != nil {
		t.Fatal(err)
	}
	const r, w, m = devAccRead, devAccWrite, devAccMknod
	for _, tc := range []struct {
		typ          uint8
		major, minor uint32
		acc          uint8
		want         bool
	}{
		{devChar, 1, 3, r | w, true},
		{devChar, 1, 3, m, true},
		{devChar, 1, 5, r, true},
		{devChar, 1, 5, w, true},      // c 1:* w
		{devChar, 1, 5, r | w, false}, // no one exception grants both (as v1)
		{devChar, 1, 7, r, false},
		{devBlock, 1, 3, r, false},
		{devChar, 2, 3, r, false},
	} {
		if got := p.allows(tc.typ, tc.major, tc.minor, tc.acc); got != tc.want {
			t.Errorf("%d %d:%d %s: %v, want %v", tc.typ, tc.major, tc.minor, accessString(tc.acc), got, tc.want)
		}
	}
	// Default allow: any denied bit denies (v1 semantics; stricter than
	// runc, which needs every requested bit denied).
	p, err = canonDevices([]specs.LinuxDeviceCgroup{allowAll, dev(false, "c", 1, 5, "w")})
	if err != nil {
		t.Fatal(err)
	}
	if p.allows(devChar, 1, 5, r|w) || !p.allows(devChar, 1, 5, r) || !p.allows(devChar, 1, 3, r|w|m) {
		t.Errorf("blacklist decisions wrong for %v", p)
	}
}

// runBPF interprets the instructions deviceProgram emits (and nothing else)
// on a bpf_cgroup_dev_ctx, returning R0.
func runBPF(t *testing.T, code []byte, typ uint8, major, minor uint32, acc uint8) uint64 {
	t.Helper()
	ctx := []uint32{uint32(acc)<<16 | uint32(typ), major, minor}
	var reg [11]uint64
	for pc, steps := 0, 0; ; pc, steps = pc+1, steps+1 {
		if pc < 0 || 8*pc >= len(code) || steps > 10000 {
			t.Fatalf("pc %d out of the program (%d instructions)", pc, len(code)/8)
		}
		ins := code[8*pc:]
		op, dst, src := ins[0], ins[1]&0xf, ins[1]>>4
		if nativeEndian == binary.BigEndian {
			dst, src = src, dst
		}
		off := int16(nativeEndian.Uint16(ins[2:]))
		imm := int32(nativeEndian.Uint32(ins[4:]))
		switch op {
		case 0x61: // ldxw dst, [src+off]
			if src != 1 || off%4 != 0 || off < 0 || off > 8 {
				t.Fatalf("insn %d: load from r%d%+d", pc, src, off)
			}
			reg[dst] = uint64(ctx[off/4])
		case 0xbc: // mov32 dst, src
			reg[dst] = uint64(uint32(reg[src]))
		case 0xb4: // mov32 dst, imm
			reg[dst] = uint64(uint32(imm))
		case 0x74: // rsh32 dst, imm
			reg[dst] = uint64(uint32(reg[dst]) >> uint32(imm))
		case 0x54: // and32 dst, imm
			reg[dst] = uint64(uint32(reg[dst]) & uint32(imm))
		case 0x55: // jne dst, imm
			if reg[dst] != uint64(int64(imm)) {
				pc += int(off)
			}
		case 0x45: // jset dst, imm
			if reg[dst]&uint64(int64(imm)) != 0 {
				pc += int(off)
			}
		case 0x05: // ja
			pc += int(off)
		case 0x95: // exit
			return reg[0]
		default:
			t.Fatalf("insn %d: unexpected opcode %#x", pc, op)
		}
	}
}

// randomRules makes a random rule list over a few devices.
func randomRules(rng *rand.Rand) []specs.LinuxDeviceCgroup {
	nums := []int64{anyN, -1, 1, 5}
	minors := []int64{anyN, 3, 5, 7}
	var rules []specs.LinuxDeviceCgroup
	for range rng.IntN(7) {
		typ := []string{"a", "b", "c", "c", "c", "b"}[rng.IntN(6)]
		d := dev(rng.IntN(2) == 0, typ, nums[rng.IntN(len(nums))], minors[rng.IntN(len(minors))], accessString(uint8(1+rng.IntN(7))))
		if typ == "a" {
			d.Major, d.Minor = nil, nil
		}
		rules = append(rules, d)
	}
	return rules
}

// lastMatch decides one access bit for a device by the rule list itself:
// the last rule that matches the device and has the bit (or is of type "a")
// decides; none: deny.
func lastMatch(rules []specs.LinuxDeviceCgroup, typ uint8, major, minor uint32, bit uint8) bool {
	num := func(p *int64, n uint32) bool { return p == nil || *p == -1 || *p == int64(n) }
	for i := len(rules) - 1; i >= 0; i-- {
		d := rules[i]
		if d.Type == "a" || d.Type == "" {
			return d.Allow
		}
		if (d.Type == "b") == (typ == devBlock) && num(d.Major, major) && num(d.Minor, minor) && parseAccess(d.Access)&bit != 0 {
			return d.Allow
		}
	}
	return false
}

// TestDeviceProgramLogic runs generated programs in an interpreter against
// the reference decision of the policy, and that against the rules decided
// "last match wins" one access bit at a time, for random rule lists.
func TestDeviceProgramLogic(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	checked := 0
	for range 3000 {
		rules := randomRules(rng)
		p, err := canonDevices(rules)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatal(err)
			}
			continue
		}
		checked++
		code := deviceProgram(p)
		for _, typ := range []uint8{devBlock, devChar} {
			for _, major := range []uint32{1, 5, 9} {
				for _, minor := range []uint32{3, 5, 7, 8} {
					for acc := uint8(1); acc <= devAccAll; acc++ {
						want := p.allows(typ, major, minor, acc)
						lmw := true
						for _, bit := range []uint8{devAccMknod, devAccRead, devAccWrite} {
							if acc&bit != 0 {
								lmw = lmw && lastMatch(rules, typ, major, minor, bit)
							}
						}
						single := acc&(acc-1) == 0
						if want != lmw && (single || want) {
							t.Fatalf("rules %s, policy %v, device %d %d:%d %s: policy says %v, last match wins says %v",
								fmtRules(rules), p, typ, major, minor, accessString(acc), want, lmw)
						}
						if got := runBPF(t, code, typ, major, minor, acc) == 1; got != want {
							t.Fatalf("rules %s, policy %v, device %d %d:%d %s: program says %v, want %v\n%v",
								fmtRules(rules), p, typ, major, minor, accessString(acc), got, want, disasm(t, code))
						}
					}
				}
			}
		}
	}
	t.Logf("%d rule lists checked", checked)
}

// deviceProgramAsm is deviceProgram written with cilium/ebpf/asm, to check
// the hand-made encoding against.
func deviceProgramAsm(p devicePolicy) asm.Instructions {
	ret := func(allow bool) []asm.Instruction {
		v := int32(0)
		if allow {
			v = 1
		}
		return []asm.Instruction{asm.Mov.Imm32(asm.R0, v), asm.Return()}
	}
	jump := func(op asm.JumpOp, dst asm.Register, v int64, off int16) asm.Instruction {
		return asm.Instruction{OpCode: op.Op(asm.ImmSource), Dst: dst, Constant: v, Offset: off}
	}
	const next = -1
	insns := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word),
		asm.LoadMem(asm.R4, asm.R1, 4, asm.Word),
		asm.LoadMem(asm.R5, asm.R1, 8, asm.Word),
		asm.Mov.Reg32(asm.R3, asm.R2),
		asm.RSh.Imm32(asm.R3, 16),
		asm.And.Imm32(asm.R2, 0xffff),
	}
	for _, e := range p.except {
		start := len(insns)
		insns = append(insns, jump(asm.JNE, asm.R2, int64(e.typ), next))
		if e.major >= 0 {
			insns = append(insns, jump(asm.JNE, asm.R4, e.major, next))
		}
		if e.minor >= 0 {
			insns = append(insns, jump(asm.JNE, asm.R5, e.minor, next))
		}
		if e.access != devAccAll {
			if p.allow {
				insns = append(insns, jump(asm.JSet, asm.R3, int64(e.access), 1), jump(asm.Ja, asm.R0, 0, next))
			} else {
				insns = append(insns, jump(asm.JSet, asm.R3, int64(^int32(e.access)), next))
			}
		}
		insns = append(insns, ret(!p.allow)...)
		for i := start; i < len(insns); i++ {
			if insns[i].Offset == next && insns[i].OpCode.Class().IsJump() {
				insns[i].Offset = int16(len(insns) - i - 1)
			}
		}
	}
	return append(insns, ret(p.allow)...)
}

// disasm shows code as cilium/ebpf/asm decodes it.
func disasm(t *testing.T, code []byte) asm.Instructions {
	t.Helper()
	var insns asm.Instructions
	r := bytes.NewReader(code)
	for r.Len() > 0 {
		var ins asm.Instruction
		if _, err := ins.Unmarshal(r, nativeEndian); err != nil {
			t.Fatalf("cilium/ebpf/asm cannot decode the program: %v", err)
		}
		insns = append(insns, ins)
	}
	return insns
}

// TestDeviceProgramEncoding checks deviceProgram's bytecode against the same
// program built with cilium/ebpf/asm.
func TestDeviceProgramEncoding(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 2000 {
		rules := randomRules(rng)
		if i == 0 {
			rules = nookDefaultDevices
		}
		p, err := canonDevices(rules)
		if err != nil {
			continue
		}
		var want bytes.Buffer
		if err := deviceProgramAsm(p).Marshal(&want, nativeEndian); err != nil {
			t.Fatal(err)
		}
		if got := deviceProgram(p); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("rules %s: got\n%v\nwant\n%v", fmtRules(rules), disasm(t, got), deviceProgramAsm(p))
		}
		if i == 0 {
			t.Logf("nook's default rules:\n%v", disasm(t, deviceProgram(p)))
		}
	}
}

func fmtRules(rules []specs.LinuxDeviceCgroup) string {
	var s []string
	for _, d := range rules {
		r, _ := deviceRule(d)
		s = append(s, map[bool]string{true: "allow ", false: "deny "}[d.Allow]+r)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func TestDeviceProgramSize(t *testing.T) {
	t.Parallel()
	p, err := canonDevices(nookDefaultDevices)
	if err != nil {
		t.Fatal(err)
	}
	code := deviceProgram(p)
	// 6 to load the context, 5 per exact rule, 4 for c 136:*, 2 to return.
	if n := len(code) / 8; n != 6+7*5+4+2 {
		t.Errorf("%d instructions:\n%v", n, disasm(t, code))
	}
}

// requireDeviceBPF skips the test unless this process can load a
// BPF_PROG_TYPE_CGROUP_DEVICE program.
func requireDeviceBPF(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to load eBPF programs")
	}
	prog, err := loadDeviceProgram(deviceProgram(devicePolicy{}))
	if err != nil {
		t.Skipf("cannot load an eBPF cgroup device program here (kernel without CONFIG_CGROUP_BPF, bpf(2) blocked by seccomp, or missing CAP_BPF/CAP_SYS_ADMIN): %v", err)
	}
	unix.Close(prog)
}

// TestLoadDeviceProgramError checks that a program the verifier rejects
// fails with the verifier's log in the error.
func TestLoadDeviceProgramError(t *testing.T) {
	requireDeviceBPF(t)
	t.Parallel()
	fd, err := loadDeviceProgram([]byte{0x95, 0, 0, 0, 0, 0, 0, 0}) // exit, R0 not set
	if err == nil {
		unix.Close(fd)
		t.Fatal("loaded a program returning an uninitialised R0")
	}
	if !errors.Is(err, ErrNotSupported) || !errors.Is(err, unix.EACCES) || !strings.Contains(err.Error(), "verifier: ") || !strings.Contains(err.Error(), "R0 !read_ok") {
		t.Errorf("error: %v", err)
	} else {
		t.Log(err)
	}
}

// TestDeviceProgramTestRun tries the kernel's BPF_PROG_TEST_RUN on the
// program, which the kernel does not implement for cgroup device programs
// (as of 6.18); the kernel tests below cover it.
func TestDeviceProgramTestRun(t *testing.T) {
	requireDeviceBPF(t)
	t.Parallel()
	p, _ := canonDevices([]specs.LinuxDeviceCgroup{denyAll, dev(true, "c", 1, 3, "rwm")})
	fd, err := loadDeviceProgram(deviceProgram(p))
	if err != nil {
		t.Fatal(err)
	}
	prog, err := ebpf.NewProgramFromFD(fd) // takes fd over
	if err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	defer prog.Close()
	ctx := make([]byte, 12)
	binary.NativeEndian.PutUint32(ctx[0:], devAccRead<<16|devChar)
	binary.NativeEndian.PutUint32(ctx[4:], 1)
	binary.NativeEndian.PutUint32(ctx[8:], 3)
	ret, err := prog.Run(&ebpf.RunOptions{Context: ctx})
	if err != nil {
		t.Skipf("BPF_PROG_TEST_RUN not available for cgroup device programs: %v", err)
	}
	if ret != 1 {
		t.Errorf("c 1:3 r: %d, want 1", ret)
	}
}

// v2TestRoot is a cgroup v2 directory the kernel tests can make cgroups in,
// or "" if there is none.
func v2TestRoot() string {
	switch DetectMode() {
	case Unified:
		return Root
	case Hybrid:
		return Root + "/unified"
	}
	return ""
}

// testCgroup makes a uniquely named v2 cgroup under parent, removed when the
// test ends (after the processes started later, whose cleanups run first).
func testCgroup(t *testing.T, parent string) string {
	t.Helper()
	dir := filepath.Join(parent, fmt.Sprintf("nook-test-%d-%x", os.Getpid(), rand.Uint64()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// A child that just exited may keep it busy for a moment.
		for end := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			err := unix.Rmdir(dir)
			if err == nil || err == unix.ENOENT {
				return
			}
			if err != unix.EBUSY || time.Now().After(end) {
				t.Errorf("rmdir %s: %v", dir, err)
				return
			}
		}
	})
	return dir
}

// probes are what the devcheck helper tries, one per line of its output.
type probe struct {
	what string // "open PATH FLAGS" or "mknod c|b MAJOR MINOR"
	want string // "ok" or an errno name such as "EPERM"
}

// devCheck runs in the helper process: it does every probe in
// NOOK_DEVCHECK (';'-separated) and prints "probe: result" lines.
func devCheck() {
	dir := os.Getenv("NOOK_DEVCHECK_DIR")
	for i, p := range strings.Split(os.Getenv("NOOK_DEVCHECK"), ";") {
		f := strings.Fields(p)
		var err error
		switch f[0] {
		case "open":
			flags := map[string]int{"r": unix.O_RDONLY, "w": unix.O_WRONLY, "rw": unix.O_RDWR}[f[2]]
			var fd int
			if fd, err = unix.Open(f[1], flags|unix.O_CLOEXEC, 0); err == nil {
				unix.Close(fd)
			}
		case "mknod":
			mode := uint32(unix.S_IFCHR)
			if f[1] == "b" {
				mode = unix.S_IFBLK
			}
			maj, _ := strconv.Atoi(f[2])
			mnr, _ := strconv.Atoi(f[3])
			path := filepath.Join(dir, strconv.Itoa(i))
			if err = unix.Mknod(path, mode|0o600, int(unix.Mkdev(uint32(maj), uint32(mnr)))); err == nil {
				os.Remove(path)
			}
		}
		res := "ok"
		if errno, ok := err.(unix.Errno); ok {
			res = unix.ErrnoName(errno)
		} else if err != nil {
			res = err.Error()
		}
		fmt.Printf("%s: %s\n", p, res)
	}
}

// checkDevices runs the probes in a helper process moved into the cgroup
// dir and compares the results.
func checkDevices(t *testing.T, dir string, probes []probe) {
	t.Helper()
	var list []string
	for _, p := range probes {
		list = append(list, p.what)
	}
	cmd := helper("devcheck")
	cmd.Env = append(cmd.Env, "NOOK_DEVCHECK="+strings.Join(list, ";"), "NOOK_DEVCHECK_DIR="+t.TempDir())
	p := spawnInto(t, dir, cmd)
	if err := p.wait(t, 20*time.Second); err != nil {
		t.Fatalf("helper: %v\n%s", err, p.stderr.String())
	}
	got := strings.Split(strings.TrimSpace(p.stdout.String()), "\n")
	if len(got) != len(probes) {
		t.Fatalf("helper printed %q", got)
	}
	for i, pr := range probes {
		if want := pr.what + ": " + pr.want; got[i] != want {
			t.Errorf("got %q, want %q", got[i], want)
		}
	}
}

// spawnInto is spawn for a bare cgroup directory.
func spawnInto(t *testing.T, dir string, cmd *exec.Cmd) *proc {
	t.Helper()
	return spawnWith(t, cmd, func(pid int) error {
		return os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0)
	})
}

// progIDs lists the device programs attached to the cgroup dir itself.
func progIDs(t *testing.T, dir string) []uint32 { return testutil.DevicePrograms(t, dir) }

// TestAttachDevices attaches programs to fresh cgroups in the host's v2 tree
// (/sys/fs/cgroup/unified on a hybrid host, which accepts them without any
// controller) and checks what a process in them may do.
func TestAttachDevices(t *testing.T) {
	requireRoot(t)
	requireDeviceBPF(t)
	root := v2TestRoot()
	if root == "" {
		t.Skip("no cgroup v2 tree")
	}
	t.Parallel()

	t.Run("allowlist", func(t *testing.T) {
		t.Parallel()
		dir := testCgroup(t, root)
		if err := AttachDevices(dir, []specs.LinuxDeviceCgroup{denyAll, dev(true, "c", 1, 3, "rwm"), dev(true, "c", 1, 5, "r")}); err != nil {
			t.Fatal(err)
		}
		checkDevices(t, dir, []probe{
			{"open /dev/null rw", "ok"},
			{"open /dev/null r", "ok"},
			{"open /dev/zero r", "ok"},
			{"open /dev/zero w", "EPERM"},
			{"open /dev/zero rw", "EPERM"},
			{"open /dev/full r", "EPERM"},
			{"mknod c 1 5", "EPERM"},
			{"mknod c 1 7", "EPERM"},
			{"mknod b 7 0", "EPERM"},
			{"mknod c 1 3", "ok"},
		})
	})

	t.Run("denylist", func(t *testing.T) {
		t.Parallel()
		dir := testCgroup(t, root)
		if err := AttachDevices(dir, []specs.LinuxDeviceCgroup{allowAll, dev(false, "c", 1, 5, "w"), dev(false, "c", 1, 7, "")}); err != nil {
			t.Fatal(err)
		}
		checkDevices(t, dir, []probe{
			{"open /dev/null rw", "ok"},
			{"open /dev/zero r", "ok"},
			{"open /dev/zero w", "EPERM"},
			{"open /dev/zero rw", "EPERM"}, // runc's program would allow this
			{"open /dev/full r", "EPERM"},
			{"mknod c 1 7", "EPERM"},
			{"mknod c 1 5", "ok"},
		})
	})

	t.Run("nested", func(t *testing.T) {
		// The parent's program still applies under the child's.
		t.Parallel()
		parent := testCgroup(t, root)
		if err := AttachDevices(parent, []specs.LinuxDeviceCgroup{allowAll, dev(false, "c", 1, 5, "rwm")}); err != nil {
			t.Fatal(err)
		}
		child := testCgroup(t, parent)
		if err := AttachDevices(child, []specs.LinuxDeviceCgroup{denyAll, dev(true, "c", 1, anyN, "rw")}); err != nil {
			t.Fatal(err)
		}
		checkDevices(t, child, []probe{
			{"open /dev/null rw", "ok"},
			{"open /dev/zero r", "EPERM"}, // parent
			{"open /dev/full r", "ok"},
			{"mknod c 1 3", "EPERM"}, // child
		})
	})

	t.Run("allow all attaches nothing", func(t *testing.T) {
		t.Parallel()
		dir := testCgroup(t, root)
		if err := AttachDevices(dir, []specs.LinuxDeviceCgroup{denyAll, dev(true, "c", 1, 3, "r"), allowAll}); err != nil {
			t.Fatal(err)
		}
		if ids := progIDs(t, dir); len(ids) != 0 {
			t.Errorf("programs attached: %v", ids)
		}
	})

	t.Run("rmdir frees the program", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(root, fmt.Sprintf("nook-test-%d-%x", os.Getpid(), rand.Uint64()))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		defer unix.Rmdir(dir)
		if err := AttachDevices(dir, []specs.LinuxDeviceCgroup{denyAll}); err != nil {
			t.Fatal(err)
		}
		ids := progIDs(t, dir)
		if len(ids) != 1 {
			t.Fatalf("programs attached: %v", ids)
		}
		if err := unix.Rmdir(dir); err != nil {
			t.Fatal(err)
		}
		// The kernel releases a removed cgroup's programs asynchronously.
		eventually(t, 10*time.Second, "the program to be freed", func() bool {
			p, err := ebpf.NewProgramFromID(ebpf.ProgramID(ids[0]))
			if err == nil {
				p.Close()
			}
			return errors.Is(err, os.ErrNotExist)
		})
	})

	t.Run("errors", func(t *testing.T) {
		t.Parallel()
		err := AttachDevices(filepath.Join(root, "nook-no-such-dir"), []specs.LinuxDeviceCgroup{denyAll})
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("missing dir: %v", err)
		}
		err = AttachDevices(t.TempDir(), []specs.LinuxDeviceCgroup{denyAll})
		if errors.Is(err, ErrNotSupported) || !errors.Is(err, unix.EBADF) {
			t.Errorf("not a cgroup: %v", err)
		} else {
			t.Log(err)
		}
		err = AttachDevices(root, []specs.LinuxDeviceCgroup{denyAll, dev(true, "c", anyN, anyN, "r"), dev(false, "c", 1, 3, "r")})
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("overriding a wildcard: %v", err)
		} else {
			t.Log(err)
		}
	})
}

// BenchmarkDeviceProgram times what a sandbox with nook's default device
// rules pays on cgroup v2: compile, load (verifier and JIT), attach.
func BenchmarkDeviceProgram(b *testing.B) {
	p, err := canonDevices(nookDefaultDevices)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("compile", func(b *testing.B) {
		for b.Loop() {
			p, _ := canonDevices(nookDefaultDevices)
			deviceProgram(p)
		}
	})
	b.Run("load", func(b *testing.B) {
		requireDeviceBPF(b)
		code := deviceProgram(p)
		for b.Loop() {
			prog, err := loadDeviceProgram(code)
			if err != nil {
				b.Fatal(err)
			}
			unix.Close(prog)
		}
	})
	b.Run("compile+load+attach", func(b *testing.B) {
		requireRoot(b)
		requireDeviceBPF(b)
		root := v2TestRoot()
		if root == "" {
			b.Skip("no cgroup v2 tree")
		}
		dir := filepath.Join(root, fmt.Sprintf("nook-bench-%d-%x", os.Getpid(), rand.Uint64()))
		for b.Loop() {
			b.StopTimer()
			if err := unix.Mkdir(dir, 0o755); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			err := AttachDevices(dir, nookDefaultDevices)
			b.StopTimer()
			if err2 := unix.Rmdir(dir); err == nil {
				err = err2
			}
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	})
	// What the first sandbox of a process pays (nook starts one per
	// process): the kernel's first BPF_PROG_LOAD in a process is slower,
	// and cold code. Each iteration is a fresh helper process that times
	// its first AttachDevices.
	b.Run("first-in-process", func(b *testing.B) {
		requireRoot(b)
		requireDeviceBPF(b)
		root := v2TestRoot()
		if root == "" {
			b.Skip("no cgroup v2 tree")
		}
		var total time.Duration
		for b.Loop() {
			dir := filepath.Join(root, fmt.Sprintf("nook-bench-%d-%x", os.Getpid(), rand.Uint64()))
			if err := unix.Mkdir(dir, 0o755); err != nil {
				b.Fatal(err)
			}
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), helperEnv+"=devfirst", "NOOK_DEVCHECK_DIR="+dir)
			cmd.Stdin = strings.NewReader("go\n")
			out, err := cmd.Output()
			unix.Rmdir(dir)
			if err != nil {
				b.Fatalf("%v: %s", err, out)
			}
			d, err := time.ParseDuration(strings.TrimSpace(string(out)))
			if err != nil {
				b.Fatalf("helper said %q", out)
			}
			total += d
		}
		b.ReportMetric(float64(total.Microseconds())/float64(b.N), "µs/first-attach")
	})
}

// devFirst runs in the helper process: it times the process's first
// AttachDevices.
func devFirst() {
	start := time.Now()
	if err := AttachDevices(os.Getenv("NOOK_DEVCHECK_DIR"), nookDefaultDevices); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println(time.Since(start))
}

// DevicesAllow answers for nodes a sandbox can reach: whether the rules
// would deny any of them reading and writing; AnyMinor asks for every
// minor of a major at once.
func TestDevicesAllow(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	allow := func(typ string, major int64, minor *int64, acc string) specs.LinuxDeviceCgroup {
		return specs.LinuxDeviceCgroup{Allow: true, Type: typ, Major: i64(major), Minor: minor, Access: acc}
	}
	denyAll := specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"}
	allowAll := specs.LinuxDeviceCgroup{Allow: true, Access: "rwm"}
	null := Device{Type: 'c', Major: 1, Minor: 3}
	pts := Device{Type: 'c', Major: 136, Minor: AnyMinor}
	for _, c := range []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		devs  []Device
		want  bool
	}{
		{"no rules deny all", nil, []Device{null}, false},
		{"allow all", []specs.LinuxDeviceCgroup{allowAll}, []Device{null, pts}, true},
		{"allowed", []specs.LinuxDeviceCgroup{denyAll, allow("c", 1, i64(3), "rwm")}, []Device{null}, true},
		{"read only", []specs.LinuxDeviceCgroup{denyAll, allow("c", 1, i64(3), "r")}, []Device{null}, false},
		{"another node", []specs.LinuxDeviceCgroup{denyAll, allow("c", 1, i64(5), "rwm")}, []Device{null}, false},
		{"every minor", []specs.LinuxDeviceCgroup{denyAll, allow("c", 136, nil, "rw")}, []Device{pts}, true},
		{"one minor is not every minor", []specs.LinuxDeviceCgroup{denyAll, allow("c", 136, i64(0), "rwm")}, []Device{pts}, false},
		{"a block node is not a char node", []specs.LinuxDeviceCgroup{denyAll, allow("b", 1, i64(3), "rwm")}, []Device{null}, false},
		{"allow all but one minor", []specs.LinuxDeviceCgroup{allowAll, {Allow: false, Type: "c", Major: i64(136), Minor: i64(7), Access: "w"}}, []Device{pts}, false},
	} {
		got, err := DevicesAllow(c.rules, c.devs)
		if err != nil || got != c.want {
			t.Errorf("%s: DevicesAllow = %v, %v; want %v", c.name, got, err, c.want)
		}
	}
	if _, err := DevicesAllow([]specs.LinuxDeviceCgroup{{Allow: true, Type: "x"}}, nil); err == nil {
		t.Errorf("a rule Create refuses: no error")
	}
	if _, err := DevicesAllow(nil, []Device{{Type: 'p'}}); err == nil {
		t.Errorf("a device of type p: no error")
	}
}

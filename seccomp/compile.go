package seccomp

import (
	"cmp"
	"fmt"
	"runtime"
	"slices"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// SECCOMP_RET_* values (include/uapi/linux/seccomp.h).
const (
	retKillProcess = 0x80000000
	retKillThread  = 0x00000000
	retTrap        = 0x00030000
	retErrno       = 0x00050000
	retTrace       = 0x7ff00000
	retLog         = 0x7ffc0000
	retAllow       = 0x7fff0000
)

const (
	errnoEPERM  = 1
	errnoENOSYS = 38
	maxErrno    = 4095 // the kernel clamps larger values to this
)

// Fixed actions that are not part of an OCI profile.
const (
	// badArchAction answers a syscall from an ABI the filter has no
	// rules for: the profile cannot be applied, so the process dies.
	badArchAction = retKillProcess
	// x32Action answers every x32 syscall: the profile's rules are
	// written for x86_64/i386 numbers, and acting as a kernel without
	// x32 support is both safe and what callers can handle.
	x32Action = retErrno | errnoENOSYS
)

// seccomp_data layout (include/uapi/linux/seccomp.h).
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// cond is one argument comparison.
type cond struct {
	index      uint
	op         specs.LinuxSeccompOperator
	value, two uint64
}

// rule is an action and the conditions (all must hold) that select it.
type rule struct {
	action uint32
	conds  []cond
}

// namedRule is a rule for one syscall name, in profile order.
type namedRule struct {
	name string
	rule
}

// normalized is a validated profile.
type normalized struct {
	defAction uint32
	arches    map[specs.Arch]bool
	rules     []namedRule
}

func actionValue(what string, a specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	withData := func(base uint32, max uint) (uint32, error) {
		if errnoRet == nil {
			// runc's choice: EPERM when no value is given.
			return base | errnoEPERM, nil
		}
		if *errnoRet > max {
			return 0, fmt.Errorf("%s: errnoRet %d out of range (0-%d)", what, *errnoRet, max)
		}
		return base | uint32(*errnoRet), nil
	}
	noData := func(v uint32) (uint32, error) {
		if errnoRet != nil {
			return 0, fmt.Errorf("%s: errnoRet is only valid with %s or %s, not %s", what, specs.ActErrno, specs.ActTrace, a)
		}
		return v, nil
	}
	switch a {
	case specs.ActAllow:
		return noData(retAllow)
	case specs.ActErrno:
		return withData(retErrno, maxErrno)
	case specs.ActTrace:
		return withData(retTrace, 0xffff)
	case specs.ActKill, specs.ActKillThread:
		return noData(retKillThread)
	case specs.ActKillProcess:
		return noData(retKillProcess)
	case specs.ActTrap:
		return noData(retTrap)
	case specs.ActLog:
		return noData(retLog)
	case specs.ActNotify:
		return 0, fmt.Errorf("%s: %s is not supported by nook (no seccomp user-notification listener)", what, a)
	case "":
		return 0, fmt.Errorf("%s: action is missing", what)
	}
	return 0, fmt.Errorf("%s: unknown action %q", what, a)
}

var validOps = []specs.LinuxSeccompOperator{
	specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual,
	specs.OpEqualTo, specs.OpGreaterEqual, specs.OpGreaterThan,
	specs.OpMaskedEqual,
}

// validName accepts what a kernel syscall name can look like.
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// normalize validates p and turns it into rules.
//
// Argument conditions: conditions on different arguments are ANDed. If
// one entry has several conditions on the same argument index, each
// condition becomes a rule of its own (so they are ORed) — runc's
// long-standing interpretation, which profiles in the wild rely on.
func normalize(p *specs.LinuxSeccomp) (*normalized, error) {
	if p == nil {
		return nil, fmt.Errorf("seccomp: nil profile")
	}
	n := &normalized{arches: map[specs.Arch]bool{}}
	var err error
	if n.defAction, err = actionValue("defaultAction", p.DefaultAction, p.DefaultErrnoRet); err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	for i, a := range p.Architectures {
		if !slices.Contains(knownArches, a) {
			return nil, fmt.Errorf("seccomp: architectures[%d]: unknown architecture %q", i, a)
		}
		n.arches[a] = true
	}
	if _, err := filterFlags(p.Flags); err != nil {
		return nil, err
	}
	for i, sc := range p.Syscalls {
		what := "syscalls[" + strconv.Itoa(i) + "]"
		if len(sc.Names) == 0 {
			return nil, fmt.Errorf("seccomp: %s: names is empty", what)
		}
		for j, name := range sc.Names {
			if !validName(name) {
				return nil, fmt.Errorf("seccomp: %s.names[%d]: invalid syscall name %q", what, j, name)
			}
		}
		act, err := actionValue(what, sc.Action, sc.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("seccomp: %w", err)
		}
		var conds []cond
		var seen [6]int
		sameIndex := false
		for j, a := range sc.Args {
			if a.Index > 5 {
				return nil, fmt.Errorf("seccomp: %s.args[%d]: index %d out of range (0-5)", what, j, a.Index)
			}
			if !slices.Contains(validOps, a.Op) {
				if a.Op == "" {
					return nil, fmt.Errorf("seccomp: %s.args[%d]: op is missing", what, j)
				}
				return nil, fmt.Errorf("seccomp: %s.args[%d]: unknown op %q", what, j, a.Op)
			}
			if a.ValueTwo != 0 && a.Op != specs.OpMaskedEqual {
				return nil, fmt.Errorf("seccomp: %s.args[%d]: valueTwo is only used with %s", what, j, specs.OpMaskedEqual)
			}
			seen[a.Index]++
			if seen[a.Index] > 1 {
				sameIndex = true
			}
			conds = append(conds, cond{index: a.Index, op: a.Op, value: a.Value, two: a.ValueTwo})
		}
		var rules []rule
		if sameIndex {
			for _, c := range conds {
				rules = append(rules, rule{act, []cond{c}})
			}
		} else {
			rules = []rule{{act, conds}}
		}
		for _, name := range sc.Names {
			for _, r := range rules {
				n.rules = append(n.rules, namedRule{name, r})
			}
		}
	}
	return n, nil
}

// Validate checks a profile the way [Compile] does, without generating
// code.
func Validate(p *specs.LinuxSeccomp) error {
	n, err := normalize(p)
	if err != nil {
		return err
	}
	f, err := familyFor(runtime.GOARCH)
	if err != nil {
		return err
	}
	for _, a := range n.archesFor(f) {
		if _, err := n.resolve(a); err != nil {
			return err
		}
	}
	return nil
}

// archesFor lists the ABIs to generate sections for: the native one
// always (as libseccomp does), and each compat ABI the profile lists.
func (n *normalized) archesFor(f family) []*archInfo {
	out := []*archInfo{f.native}
	for _, c := range f.compat {
		if n.arches[c.name] {
			out = append(out, c)
		}
	}
	return out
}

// handler is what the filter does for one syscall number.
type handler struct {
	conds    []rule // conditional rules, tried in order
	fallback uint32 // action when none matches
}

func (h *handler) simple() bool { return len(h.conds) == 0 }

// resolve turns the profile's rules into per-number handlers for one ABI.
//
// Precedence for one syscall:
//  1. A rule whose action equals the default action and that has no
//     conditions is dropped (runc does the same).
//  2. Conditional rules are tried in profile order; the first whose
//     conditions all hold decides.
//  3. Otherwise the unconditional rule decides, or the default action if
//     there is none. Two unconditional rules with different actions are
//     an error.
//
// Step 2 before 3 is a deliberate difference from libseccomp, which lets
// an unconditional rule silently shadow conditional rules for the same
// syscall; nook honours the more specific rule, which is what a profile
// that bothers to write both means.
//
// Names unknown to this ABI are skipped (runc does the same): a profile
// may list syscalls of other architectures or of newer kernels.
func (n *normalized) resolve(a *archInfo) ([]numbered, error) {
	type hit struct {
		nr uint32
		r  *namedRule
	}
	hits := make([]hit, 0, len(n.rules))
	var socketcallNr, ipcNr uint32
	var hasSocketcall, hasIPC bool
	if a.multiplexed {
		socketcallNr, hasSocketcall = a.table.lookup("socketcall")
		ipcNr, hasIPC = a.table.lookup("ipc")
	}
	for i := range n.rules {
		r := &n.rules[i]
		if nr, ok := a.table.lookup(r.name); ok {
			hits = append(hits, hit{nr, r})
		}
		if !a.multiplexed || len(r.conds) > 0 || r.action == n.defAction {
			continue
		}
		// An unconditional rule for a socket or SysV IPC call also
		// covers the same call made through the multiplexer, as
		// libseccomp does. (Argument conditions cannot be carried over:
		// the real arguments are in memory.)
		if op, ok := find(socketcallOps, r.name); ok && hasSocketcall {
			hits = append(hits, hit{socketcallNr, &namedRule{r.name, rule{r.action,
				[]cond{{index: 0, op: specs.OpEqualTo, value: op}}}}})
		}
		if op, ok := find(ipcOps, r.name); ok && hasIPC {
			hits = append(hits, hit{ipcNr, &namedRule{r.name, rule{r.action,
				[]cond{{index: 0, op: specs.OpMaskedEqual, value: 0xffff, two: op}}}}})
		}
	}
	// Group by number, keeping profile order within a number.
	slices.SortStableFunc(hits, func(x, y hit) int { return cmp.Compare(x.nr, y.nr) })
	out := make([]numbered, 0, len(hits))
	for len(hits) > 0 {
		nr := hits[0].nr
		k := 1
		for k < len(hits) && hits[k].nr == nr {
			k++
		}
		group := hits[:k]
		hits = hits[k:]
		h := handler{fallback: n.defAction}
		var uncond *namedRule
		for _, ht := range group {
			r := ht.r
			if len(r.conds) > 0 {
				h.conds = append(h.conds, r.rule)
				continue
			}
			if r.action == n.defAction {
				continue
			}
			// the first unconditional rule wins, as in libseccomp (which
			// runc and crun use): podman's default profile allows
			// setns and friends, then lists them again with
			// SCMP_ACT_ERRNO for callers without CAP_SYS_ADMIN
			if uncond == nil {
				uncond = r
			}
		}
		if uncond != nil {
			h.fallback = uncond.action
		}
		// Trailing conditional rules that lead to the fallback action
		// change nothing.
		for len(h.conds) > 0 && h.conds[len(h.conds)-1].action == h.fallback {
			h.conds = h.conds[:len(h.conds)-1]
		}
		if h.simple() && h.fallback == n.defAction {
			continue
		}
		out = append(out, numbered{nr, h})
	}
	return out, nil
}

// numbered is the handler of one syscall number.
type numbered struct {
	nr uint32
	h  handler
}

func actionString(v uint32) string {
	switch v & 0xffff0000 {
	case retAllow:
		return "SCMP_ACT_ALLOW"
	case retErrno:
		return fmt.Sprintf("SCMP_ACT_ERRNO(%d)", v&0xffff)
	case retTrace:
		return fmt.Sprintf("SCMP_ACT_TRACE(%d)", v&0xffff)
	case retKillProcess:
		return "SCMP_ACT_KILL_PROCESS"
	case retKillThread:
		return "SCMP_ACT_KILL_THREAD"
	case retTrap:
		return "SCMP_ACT_TRAP"
	case retLog:
		return "SCMP_ACT_LOG"
	}
	return fmt.Sprintf("%#x", v)
}

// Compile compiles p into a classic-BPF program for the architecture nook
// runs on (runtime.GOARCH). See [CompileArch].
func Compile(p *specs.LinuxSeccomp) (Program, error) {
	return CompileArch(p, runtime.GOARCH)
}

// CompileArch compiles p for a kernel of the given GOARCH ("amd64",
// "386", "arm64" or "arm").
//
// The program checks seccomp_data.arch first. The native ABI always gets
// a section; compat ABIs (i386 on amd64, arm on arm64) get one when the
// profile lists them, and otherwise their syscalls kill the process, as
// do syscalls of any other ABI. On amd64, x32 syscalls (numbers with bit
// 30 set) always fail with ENOSYS, whether or not SCMP_ARCH_X32 is
// listed: nook has no x32 rules, and a kernel without x32 answers the
// same way. Architectures of other families in the profile are accepted
// and ignored, since this kernel can never present them.
//
// Within a section, the syscall number is found by a binary search over
// ranges of numbers that share an action, so the common case costs about
// log2(number of ranges) comparisons.
func CompileArch(p *specs.LinuxSeccomp, goarch string) (Program, error) {
	f, err := familyFor(goarch)
	if err != nil {
		return nil, err
	}
	n, err := normalize(p)
	if err != nil {
		return nil, err
	}
	arches := n.archesFor(f)
	g := &gen{def: n.defAction}
	g.a.nodes = make([]node, 0, 512)
	g.a.labels = make([]int32, 0, 256)
	g.a.ld(offArch)
	for _, a := range arches {
		hs, err := n.resolve(a)
		if err != nil {
			return nil, err
		}
		nextArch := g.a.newLabel()
		g.a.jmp(opJeqK, a.audit, next, nextArch)
		g.a.ld(offNr)
		if f.x32 && a == f.native {
			body := g.a.newLabel()
			g.a.jmp(opJgeK, x32SyscallBit, next, body)
			g.a.ret(x32Action)
			g.a.bind(body)
		}
		g.arch = a
		g.dispatch(hs)
		g.a.bind(nextArch)
	}
	g.a.ret(badArchAction)
	return g.a.assemble()
}

type gen struct {
	a    asm
	def  uint32
	arch *archInfo
	rets []sharedRet // shared returns of the current section
}

// interval is a range of syscall numbers starting at start (up to the
// next interval's start) handled the same way.
type interval struct {
	start uint32
	h     *handler
}

func (g *gen) dispatch(hs []numbered) {
	def := &handler{fallback: g.def}
	ivs := make([]interval, 1, 2*len(hs)+1)
	ivs[0] = interval{0, def}
	add := func(start uint32, h *handler) {
		last := &ivs[len(ivs)-1]
		switch {
		case last.start == start:
			last.h = h
			if n := len(ivs); n >= 2 && h.simple() && ivs[n-2].h.simple() && ivs[n-2].h.fallback == h.fallback {
				ivs = ivs[:n-1]
			}
		case h.simple() && last.h.simple() && h.fallback == last.h.fallback:
			// Same simple action as the range before: extend it.
		default:
			ivs = append(ivs, interval{start, h})
		}
	}
	for i := range hs { // sorted by number
		add(hs[i].nr, &hs[i].h)
		if hs[i].nr != ^uint32(0) {
			add(hs[i].nr+1, def)
		}
	}
	g.rets = g.rets[:0]
	if len(ivs) == 1 && ivs[0].h.simple() {
		g.a.ret(ivs[0].h.fallback)
		return
	}
	g.tree(ivs)
	for _, r := range g.rets {
		g.a.bind(r.l)
		g.a.ret(r.act)
	}
}

// tree emits a binary search over ivs (not a single simple range), with
// the accumulator holding the syscall number. Ranges with a plain action
// jump straight to the section's shared return for it.
func (g *gen) tree(ivs []interval) {
	if len(ivs) == 1 {
		g.handler(ivs[0].h)
		return
	}
	mid := len(ivs) / 2
	lf, emitL := g.target(ivs[:mid])
	lt, emitR := g.target(ivs[mid:])
	g.a.jmp(opJgeK, ivs[mid].start, lt, lf)
	if emitL {
		g.a.bind(lf)
		g.tree(ivs[:mid])
	}
	if emitR {
		g.a.bind(lt)
		g.tree(ivs[mid:])
	}
}

// target returns the label to jump to for ivs, and whether code for it
// still has to be emitted (false for a shared return).
func (g *gen) target(ivs []interval) (label, bool) {
	if len(ivs) == 1 && ivs[0].h.simple() {
		return g.retLabel(ivs[0].h.fallback), false
	}
	return g.a.newLabel(), true
}

// retLabel returns the label of the section's shared "ret act".
func (g *gen) retLabel(act uint32) label {
	for _, r := range g.rets {
		if r.act == act {
			return r.l
		}
	}
	l := g.a.newLabel()
	g.rets = append(g.rets, sharedRet{act, l})
	return l
}

type sharedRet struct {
	act uint32
	l   label
}

func (g *gen) handler(h *handler) {
	for i := 0; i < len(h.conds); {
		r := h.conds[i]
		// Consecutive rules with the same action that each test one bit
		// of the same argument word ("arg & bit == bit", how "any of
		// these flags" is written in a profile) become one jset.
		if off, mask, ok := g.bitTest(r); ok {
			j := i + 1
			for ; j < len(h.conds) && h.conds[j].action == r.action; j++ {
				off2, m2, ok2 := g.bitTest(h.conds[j])
				if !ok2 || off2 != off {
					break
				}
				mask |= m2
			}
			g.a.ld(off)
			g.a.jmp(opJsetK, mask, g.retLabel(r.action), next)
			i = j
			continue
		}
		fail := g.a.newLabel()
		for _, c := range r.conds {
			g.cond(c, fail)
		}
		g.a.ret(r.action)
		g.a.bind(fail)
		i++
	}
	g.a.ret(h.fallback)
}

// bitTest recognises a rule whose only condition is "arg & bit == bit"
// for a single bit, returning the offset of the argument word holding the
// bit and the bit within that word.
func (g *gen) bitTest(r rule) (uint32, uint32, bool) {
	if len(r.conds) != 1 || r.conds[0].op != specs.OpMaskedEqual {
		return 0, 0, false
	}
	c := r.conds[0]
	m, d := c.value, c.two&c.value
	if !g.arch.is64 {
		m, d = m&0xffffffff, d&0xffffffff
	}
	if m == 0 || m&(m-1) != 0 || d != m {
		return 0, 0, false
	}
	off := uint32(offArgs + 8*c.index)
	if m > 0xffffffff {
		return off + 4, uint32(m >> 32), true
	}
	return off, uint32(m), true
}

// cond emits code that falls through when c holds and jumps to fail
// otherwise.
func (g *gen) cond(c cond, fail label) {
	a := &g.a
	lo := uint32(offArgs + 8*c.index) // little-endian: low word first
	hi := lo + 4
	if !g.arch.is64 {
		v := uint32(c.value)
		a.ld(lo)
		switch c.op {
		case specs.OpEqualTo:
			a.jmp(opJeqK, v, next, fail)
		case specs.OpNotEqual:
			a.jmp(opJeqK, v, fail, next)
		case specs.OpGreaterThan:
			a.jmp(opJgtK, v, next, fail)
		case specs.OpGreaterEqual:
			a.jmp(opJgeK, v, next, fail)
		case specs.OpLessThan:
			a.jmp(opJgeK, v, fail, next)
		case specs.OpLessEqual:
			a.jmp(opJgtK, v, fail, next)
		case specs.OpMaskedEqual:
			m := v
			if m != 0xffffffff {
				a.and(m)
			}
			a.jmp(opJeqK, uint32(c.two)&m, next, fail)
		}
		return
	}
	vh, vl := uint32(c.value>>32), uint32(c.value)
	pass := a.newLabel()
	switch c.op {
	case specs.OpEqualTo:
		a.ld(hi)
		a.jmp(opJeqK, vh, next, fail)
		a.ld(lo)
		a.jmp(opJeqK, vl, next, fail)
	case specs.OpNotEqual:
		a.ld(hi)
		a.jmp(opJeqK, vh, next, pass)
		a.ld(lo)
		a.jmp(opJeqK, vl, fail, next)
	case specs.OpGreaterThan, specs.OpGreaterEqual:
		a.ld(hi)
		if vh != 0xffffffff {
			a.jmp(opJgtK, vh, pass, next)
		}
		if vh != 0 { // hi <= 0 already means hi == 0
			a.jmp(opJeqK, vh, next, fail)
		}
		a.ld(lo)
		if c.op == specs.OpGreaterThan {
			a.jmp(opJgtK, vl, next, fail)
		} else {
			a.jmp(opJgeK, vl, next, fail)
		}
	case specs.OpLessThan, specs.OpLessEqual:
		a.ld(hi)
		if vh != 0xffffffff {
			a.jmp(opJgtK, vh, fail, next)
		}
		if vh != 0 { // hi <= 0 already means hi == 0
			a.jmp(opJeqK, vh, next, pass)
		}
		a.ld(lo)
		if c.op == specs.OpLessThan {
			a.jmp(opJgeK, vl, fail, next)
		} else {
			a.jmp(opJgtK, vl, fail, next)
		}
	case specs.OpMaskedEqual:
		m := c.value
		d := c.two & m
		for _, w := range []struct {
			off  uint32
			m, d uint32
		}{{hi, uint32(m >> 32), uint32(d >> 32)}, {lo, uint32(m), uint32(d)}} {
			if w.m == 0 {
				continue // (x & 0) == 0 always holds
			}
			a.ld(w.off)
			if w.m != 0xffffffff {
				a.and(w.m)
			}
			a.jmp(opJeqK, w.d, next, fail)
		}
	}
	a.bind(pass)
}

// FilterFlags returns the SECCOMP_FILTER_FLAG_* bits that the profile's
// "flags" ask for, for the flags argument of seccomp(2). TSYNC is
// accepted and dropped (the child is single-threaded);
// WAIT_KILLABLE_RECV only matters with a user-notification listener,
// which nook does not use, and is dropped too.
func FilterFlags(p *specs.LinuxSeccomp) (uint32, error) {
	if p == nil {
		return 0, nil
	}
	return filterFlags(p.Flags)
}

func filterFlags(flags []specs.LinuxSeccompFlag) (uint32, error) {
	var v uint32
	for i, f := range flags {
		switch f {
		case "SECCOMP_FILTER_FLAG_TSYNC", specs.LinuxSeccompFlagWaitKillableRecv:
		case specs.LinuxSeccompFlagLog:
			v |= 1 << 1
		case specs.LinuxSeccompFlagSpecAllow:
			v |= 1 << 2
		default:
			return 0, fmt.Errorf("seccomp: flags[%d]: unknown flag %q", i, f)
		}
	}
	return v, nil
}

package caps

import (
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"sync"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Sets are capability bitmasks (bit N = capability number N), ready for
// capset(2)/prctl(2).
type Sets struct {
	Bounding, Effective, Permitted, Inheritable, Ambient uint64
}

// defaultCaps is the set Docker's and runc's default spec grant. Kept in
// capability-number order.
var defaultCaps = []capability.Cap{
	capability.CAP_CHOWN,
	capability.CAP_DAC_OVERRIDE,
	capability.CAP_FOWNER,
	capability.CAP_FSETID,
	capability.CAP_KILL,
	capability.CAP_SETGID,
	capability.CAP_SETUID,
	capability.CAP_SETPCAP,
	capability.CAP_NET_BIND_SERVICE,
	capability.CAP_NET_RAW,
	capability.CAP_SYS_CHROOT,
	capability.CAP_MKNOD,
	capability.CAP_AUDIT_WRITE,
	capability.CAP_SETFCAP,
}

// byName maps the lower-case name without prefix ("chown") to the
// capability, for every capability the capability package knows.
var byName = sync.OnceValue(func() map[string]capability.Cap {
	m := make(map[string]capability.Cap)
	for _, c := range capability.ListKnown() {
		m[c.String()] = c
	}
	return m
})

// lastCap is the highest capability number the running kernel knows.
var lastCap = sync.OnceValue(func() int {
	c, err := capability.LastCap()
	if err != nil {
		// /proc not mounted or not Linux: fall back to what the
		// capability package knows, which is what a current kernel has.
		known := capability.ListKnown()
		return int(slices.Max(known))
	}
	return int(c)
})

// canonical returns "CAP_" + upper-case name.
func canonical(c capability.Cap) string {
	return "CAP_" + strings.ToUpper(c.String())
}

// lookup resolves a user-supplied capability name.
func lookup(name string) (capability.Cap, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	n = strings.TrimPrefix(n, "cap_")
	if c, ok := byName()[n]; ok && n != "" {
		return c, nil
	}
	return 0, fmt.Errorf("unknown capability %q", name)
}

// Normalize returns the canonical "CAP_XXX" form of a capability name
// given in any case, with or without the "CAP_" prefix. It does not accept
// "ALL".
func Normalize(name string) (string, error) {
	c, err := lookup(name)
	if err != nil {
		return "", err
	}
	return canonical(c), nil
}

// Number returns the capability number for a name (see [Normalize]).
func Number(name string) (int, error) {
	c, err := lookup(name)
	if err != nil {
		return 0, err
	}
	return int(c), nil
}

// Mask returns the bitmask for a list of capability names. Unknown names
// are an error; "ALL" is not accepted (use [All] first).
func Mask(names []string) (uint64, error) {
	var m uint64
	for _, n := range names {
		c, err := lookup(n)
		if err != nil {
			return 0, err
		}
		m |= 1 << uint(c)
	}
	return m, nil
}

// Names returns the canonical names of the bits set in mask, in number
// order. Bits that no known capability uses are returned as "CAP_<n>".
func Names(mask uint64) []string {
	var out []string
	for mask != 0 {
		n := bits.TrailingZeros64(mask)
		mask &^= 1 << uint(n)
		c := capability.Cap(n)
		if _, ok := byName()[c.String()]; ok {
			out = append(out, canonical(c))
		} else {
			out = append(out, fmt.Sprintf("CAP_%d", n))
		}
	}
	return out
}

// Default returns nook's default capability set (the one Docker's and
// runc's default spec use), as canonical names in number order.
func Default() []string {
	out := make([]string, 0, len(defaultCaps))
	for _, c := range defaultCaps {
		out = append(out, canonical(c))
	}
	return out
}

// DefaultSets returns the default sets for the sandboxed child: the
// [Default] capabilities in bounding, effective and permitted, and empty
// inheritable and ambient sets (see the package documentation for why).
// Capabilities the running kernel does not know are left out.
func DefaultSets() Sets {
	m, _ := Mask(Default())
	m &= kernelMask()
	return Sets{Bounding: m, Effective: m, Permitted: m}
}

// All returns every capability that the running kernel knows (numbers 0
// to /proc/sys/kernel/cap_last_cap) and that has a name, as canonical names
// in number order.
func All() []string {
	last := lastCap()
	var out []string
	for _, c := range capability.ListKnown() {
		if int(c) <= last {
			out = append(out, canonical(c))
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		na, _ := Number(a)
		nb, _ := Number(b)
		return na - nb
	})
	return out
}

// kernelMask has a bit for each capability number the kernel knows.
func kernelMask() uint64 {
	last := lastCap()
	if last >= 63 {
		return ^uint64(0)
	}
	return (uint64(1) << uint(last+1)) - 1
}

// Skipped is a capability named in a spec that cannot be granted: a name
// no capability has, or one the running kernel does not know.
type Skipped struct {
	// Set is the spec's set it was named in ("bounding").
	Set string
	// Name is the name as the spec wrote it.
	Name string
	// Why it cannot be granted.
	Why string
}

func (k Skipped) String() string {
	return fmt.Sprintf("capabilities.%s: %q: %s", k.Set, k.Name, k.Why)
}

// FromSpec converts an OCI capabilities block into masks. Names are
// accepted in any case and with or without the "CAP_" prefix. A name that
// cannot be granted here (unknown, or above the running kernel's
// cap_last_cap) is left out of the masks and returned in skipped: the
// runtime spec asks a runtime to log such a value as a warning and not
// fail, so the caller warns. A nil c gives empty sets.
func FromSpec(c *specs.LinuxCapabilities) (s Sets, skipped []Skipped) {
	if c == nil {
		return s, nil
	}
	last := lastCap()
	for _, f := range []struct {
		name  string
		names []string
		dst   *uint64
	}{
		{"bounding", c.Bounding, &s.Bounding},
		{"effective", c.Effective, &s.Effective},
		{"permitted", c.Permitted, &s.Permitted},
		{"inheritable", c.Inheritable, &s.Inheritable},
		{"ambient", c.Ambient, &s.Ambient},
	} {
		for _, n := range f.names {
			cp, err := lookup(n)
			switch {
			case err != nil:
				skipped = append(skipped, Skipped{f.name, n, "unknown capability"})
			case int(cp) > last:
				skipped = append(skipped, Skipped{f.name, n, fmt.Sprintf("not known to this kernel (cap_last_cap %d)", last)})
			default:
				*f.dst |= 1 << uint(cp)
			}
		}
	}
	return s, skipped
}

// Adjust applies --cap-add/--cap-drop to base, with Docker's semantics:
//
//   - add contains "ALL": every capability the kernel knows, minus those
//     named in drop (a "ALL" in drop is then ignored);
//   - otherwise drop contains "ALL": exactly the capabilities in add;
//   - otherwise: base minus drop, plus add (a capability named in both
//     add and drop ends up present: the explicit add wins).
//
// All names are validated (unknown names are an error) and the result is
// deduplicated, canonical and in capability-number order.
func Adjust(base, add, drop []string) ([]string, error) {
	isAll := func(s string) bool { return strings.EqualFold(strings.TrimSpace(s), "ALL") }
	parse := func(what string, names []string) (m uint64, all bool, err error) {
		for _, n := range names {
			if isAll(n) {
				all = true
				continue
			}
			c, err := lookup(n)
			if err != nil {
				return 0, false, fmt.Errorf("%s: %w", what, err)
			}
			m |= 1 << uint(c)
		}
		return m, all, nil
	}
	baseM, baseAll, err := parse("base", base)
	if err != nil {
		return nil, err
	}
	allM, err := Mask(All())
	if err != nil {
		return nil, err
	}
	if baseAll {
		baseM = allM
	}
	addM, addAll, err := parse("cap-add", add)
	if err != nil {
		return nil, err
	}
	dropM, dropAll, err := parse("cap-drop", drop)
	if err != nil {
		return nil, err
	}
	var res uint64
	switch {
	case addAll:
		res = allM &^ dropM
	case dropAll:
		res = addM
	default:
		res = (baseM &^ dropM) | addM
	}
	return Names(res), nil
}

// Validate checks the rules the kernel enforces when the child applies
// the sets, so that a bad combination is reported by name before fork:
//
//   - every bit is a capability the running kernel knows;
//   - effective ⊆ permitted (capset(2) refuses otherwise);
//   - inheritable ⊆ bounding (capset(2) refuses to add to inheritable
//     what is not in the bounding set once the bounding set is dropped,
//     which the child does first);
//   - ambient ⊆ permitted ∩ inheritable (PR_CAP_AMBIENT_RAISE refuses
//     otherwise).
//
// It does not insist on empty inheritable/ambient sets: nook's defaults
// keep them empty (CVE-2022-29162), but a user may ask for them.
func (s Sets) Validate() error {
	var errs []error
	km := kernelMask()
	for _, f := range []struct {
		name string
		m    uint64
	}{
		{"bounding", s.Bounding},
		{"effective", s.Effective},
		{"permitted", s.Permitted},
		{"inheritable", s.Inheritable},
		{"ambient", s.Ambient},
	} {
		if x := f.m &^ km; x != 0 {
			errs = append(errs, fmt.Errorf("%s set has capabilities this kernel does not know: %s", f.name, strings.Join(Names(x), ", ")))
		}
	}
	if x := s.Effective &^ s.Permitted; x != 0 {
		errs = append(errs, fmt.Errorf("effective capabilities not in the permitted set: %s", strings.Join(Names(x), ", ")))
	}
	if x := s.Inheritable &^ s.Bounding; x != 0 {
		errs = append(errs, fmt.Errorf("inheritable capabilities not in the bounding set: %s", strings.Join(Names(x), ", ")))
	}
	if x := s.Ambient &^ (s.Permitted & s.Inheritable); x != 0 {
		errs = append(errs, fmt.Errorf("ambient capabilities not in both the permitted and inheritable sets: %s", strings.Join(Names(x), ", ")))
	}
	return errors.Join(errs...)
}

// Last returns the highest capability number the running kernel knows
// (/proc/sys/kernel/cap_last_cap).
func Last() int { return lastCap() }

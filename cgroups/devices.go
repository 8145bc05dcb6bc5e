package cgroups

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Device rules: semantics
//
// An OCI device rule list is applied in order to a device policy that starts
// as "deny everything", as runc does on both cgroup versions (and as the
// cgroup v1 devices controller does after nook's initial "a" deny). This is
// runc's devices emulator, which mirrors the v1 controller:
//
//   - a rule of type "a" (or "") resets the policy: to "allow everything"
//     (Allow) or "deny everything" (deny), dropping all earlier rules. Its
//     access string is ignored, as on v1.
//   - any other rule with the opposite verdict of the current default adds
//     an exception for its (type, major, minor), nil or -1 meaning any
//     number, merging its access with an earlier exception for exactly the
//     same pattern.
//   - a rule with the same verdict as the default takes its access away from
//     the exception for exactly the same pattern (if any).
//
// The result ([devicePolicy]) is a default verdict plus exceptions that all
// have the opposite verdict, so their order does not matter. A request (a
// device and a set of access bits: opening O_RDWR asks for r and w at once)
// is decided like the v1 controller does:
//
//   - default deny: allowed if one exception matches the device and grants
//     every requested access bit;
//   - default allow: denied if one exception matches the device and denies
//     any of the requested access bits.
//
// Where a rule of the third kind meets an exception for another pattern with
// devices and access in common (deny c 1:3 after allow c *:*, the "hole in a
// wildcard" runc rejects, but also deny c 1:* after allow c 1:3, which runc
// accepts), v1 and runc keep the earlier exception for those devices,
// contrary to the order of the rules; nook rejects such lists with
// ErrInvalid, on every host. Every list nook accepts is therefore decided
// "last matching rule wins" for each device and single access bit, exactly
// as runc and v1 decide it; a request for several bits at once must be
// granted by one exception (so allow c 1:* r, allow c 1:3 w does not allow
// opening c 1:3 O_RDWR, as on v1).
//
// runc's eBPF program requires all requested bits for a deny exception too,
// so with "allow all, deny c 1:5 w" it lets an O_RDWR open of /dev/zero
// through; nook denies it, as v1 does.
//
// The canonicalisation is runc's devices emulator (opencontainers/cgroups,
// package devices), reimplemented here: the emulator is unexported, reachable
// only through the fs/fs2 managers via hooks that package devices installs
// from init, and importing it links in the library's systemd driver
// (opencontainers/cgroups/systemd) and cilium/ebpf (`go list -deps
// github.com/opencontainers/cgroups/devices`). Its v2 path would also skip
// load errors inside a user namespace, which nook reports instead.

// Access bits, as in struct bpf_cgroup_dev_ctx (BPF_DEVCG_ACC_*).
const (
	devAccMknod = 1
	devAccRead  = 2
	devAccWrite = 4
	devAccAll   = devAccMknod | devAccRead | devAccWrite
)

// Device types, as in struct bpf_cgroup_dev_ctx (BPF_DEVCG_DEV_*).
const (
	devBlock = 1
	devChar  = 2
)

// deviceException is one exception of a devicePolicy.
type deviceException struct {
	typ    uint8 // devBlock or devChar
	major  int64 // -1: any
	minor  int64 // -1: any
	access uint8 // devAcc* bits, never 0
}

func (e deviceException) String() string {
	t := "c"
	if e.typ == devBlock {
		t = "b"
	}
	num := func(n int64) string {
		if n < 0 {
			return "*"
		}
		return strconv.FormatInt(n, 10)
	}
	return t + " " + num(e.major) + ":" + num(e.minor) + " " + accessString(e.access)
}

func accessString(a uint8) string {
	var b strings.Builder
	if a&devAccRead != 0 {
		b.WriteByte('r')
	}
	if a&devAccWrite != 0 {
		b.WriteByte('w')
	}
	if a&devAccMknod != 0 {
		b.WriteByte('m')
	}
	return b.String()
}

// devicePolicy is the canonical form of a device rule list: a default
// verdict and exceptions with the opposite verdict, sorted.
type devicePolicy struct {
	allow  bool // default verdict
	except []deviceException
}

// allowsAll reports whether the policy restricts nothing.
func (p devicePolicy) allowsAll() bool { return p.allow && len(p.except) == 0 }

// allows is the reference decision for a request of access bits acc to
// device (typ, major, minor); the eBPF program computes the same.
func (p devicePolicy) allows(typ uint8, major, minor uint32, acc uint8) bool {
	for _, e := range p.except {
		if e.typ != typ || (e.major >= 0 && e.major != int64(major)) || (e.minor >= 0 && e.minor != int64(minor)) {
			continue
		}
		if p.allow {
			if acc&e.access != 0 {
				return false
			}
		} else if acc&^e.access == 0 {
			return true
		}
	}
	return p.allow
}

type deviceKey struct {
	typ          uint8
	major, minor int64
}

// canonDevices applies rules (validated with deviceRule) in order to a
// deny-all policy. See the comment at the top of this file.
func canonDevices(rules []specs.LinuxDeviceCgroup) (devicePolicy, error) {
	var p devicePolicy
	exc := make(map[deviceKey]uint8)
	for i, d := range rules {
		rs, err := deviceRule(d)
		if err != nil {
			return devicePolicy{}, fmt.Errorf("devices[%d]: %w", i, err)
		}
		if rs == "a" {
			p.allow = d.Allow
			clear(exc)
			continue
		}
		k := deviceKey{typ: devChar, major: -1, minor: -1}
		if d.Type == "b" {
			k.typ = devBlock
		}
		if d.Major != nil {
			k.major = *d.Major
		}
		if d.Minor != nil {
			k.minor = *d.Minor
		}
		acc := parseAccess(d.Access)
		if d.Allow != p.allow {
			exc[k] |= acc
			continue
		}
		// Same verdict as the default: take access away from the
		// exception for exactly this pattern. Exceptions for other
		// patterns that share devices and access with this one would
		// keep them (v1 semantics), against the order of the rules:
		// an error.
		var clash *deviceException
		for g, a := range exc {
			e := deviceException{g.typ, g.major, g.minor, a}
			if g != k && a&acc != 0 && g.typ == k.typ && numsMeet(g.major, k.major) && numsMeet(g.minor, k.minor) &&
				(clash == nil || exceptionCmp(e, *clash) < 0) {
				clash = &e
			}
		}
		if clash != nil {
			verb := map[bool]string{true: "allow", false: "deny"}
			return devicePolicy{}, fmt.Errorf("devices[%d]: %w", i, invalid(
				"%s %s cannot override %q of the earlier rule %s %s (a rule only overrides earlier rules for exactly the same type, major and minor; cgroup v1 and runc would keep the earlier rule for the devices both cover)",
				verb[d.Allow], rs, accessString(clash.access&acc), verb[!d.Allow], clash))
		}
		if rest := exc[k] &^ acc; rest != 0 {
			exc[k] = rest
		} else {
			delete(exc, k)
		}
	}
	p.except = make([]deviceException, 0, len(exc))
	for k, a := range exc {
		p.except = append(p.except, deviceException{k.typ, k.major, k.minor, a})
	}
	slices.SortFunc(p.except, exceptionCmp)
	return p, nil
}

func exceptionCmp(a, b deviceException) int {
	return cmp.Or(cmp.Compare(a.typ, b.typ), cmp.Compare(a.major, b.major), cmp.Compare(a.minor, b.minor))
}

// numsMeet reports whether two major (or minor) numbers, -1 meaning any,
// have a device in common.
func numsMeet(a, b int64) bool { return a < 0 || b < 0 || a == b }

// parseAccess turns a validated OCI access string into devAcc* bits; "" is
// "rwm".
func parseAccess(s string) uint8 {
	if s == "" {
		return devAccAll
	}
	var a uint8
	for _, c := range s {
		switch c {
		case 'r':
			a |= devAccRead
		case 'w':
			a |= devAccWrite
		case 'm':
			a |= devAccMknod
		}
	}
	return a
}

// Device is a device node, as the device rules name it: its type ('c' or
// 'b') and numbers; Minor may be AnyMinor, for every node of the major.
type Device struct {
	Type         byte
	Major, Minor int64
}

// AnyMinor, as a Device's Minor, stands for every minor number.
const AnyMinor = -1

// DevicesAllow reports whether the device rules, applied as Create
// applies them, let a process open each of devs for reading and writing.
// A caller that knows the only nodes a sandbox can reach uses it to tell
// whether the rules would deny it anything (if not, they guard nothing
// there). Rules that Create would refuse are an error.
func DevicesAllow(rules []specs.LinuxDeviceCgroup, devs []Device) (bool, error) {
	for _, d := range rules {
		if _, err := deviceRule(d); err != nil {
			return false, err
		}
	}
	p, err := canonDevices(rules)
	if err != nil {
		return false, err
	}
	for _, d := range devs {
		typ := uint8(devChar)
		switch d.Type {
		case 'c':
		case 'b':
			typ = devBlock
		default:
			return false, invalid("device type %q: want c or b", d.Type)
		}
		if d.Major < 0 || d.Major > 0xfff || d.Minor < AnyMinor || d.Minor > 0xfffff {
			return false, invalid("device %c %d:%d: numbers out of range", d.Type, d.Major, d.Minor)
		}
		if !p.allowsEvery(typ, d.Major, d.Minor, devAccRead|devAccWrite) {
			return false, nil
		}
	}
	return true, nil
}

// allowsEvery is allows for every minor number at once when minor is
// AnyMinor: a deny-all policy needs an exception for all of the major's
// minors, an allow-all one no exception that meets any of them.
func (p devicePolicy) allowsEvery(typ uint8, major, minor int64, acc uint8) bool {
	if minor >= 0 {
		return p.allows(typ, uint32(major), uint32(minor), acc)
	}
	for _, e := range p.except {
		if e.typ != typ || !numsMeet(e.major, major) {
			continue
		}
		if p.allow {
			if acc&e.access != 0 {
				return false
			}
		} else if e.minor < 0 && acc&^e.access == 0 {
			return true
		}
	}
	return p.allow
}

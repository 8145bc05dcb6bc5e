package sandbox

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nookrun/nook/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ParseBind reads SRC:DST[:ro|rw], as `nook run --bind` takes it. Like
// every parser here, its errors quote the text, and name no flag.
func ParseBind(s string) (Bind, error) {
	f := strings.Split(s, ":")
	if len(f) < 2 || len(f) > 3 || f[0] == "" || f[1] == "" {
		return Bind{}, fmt.Errorf("%q: want SRC:DST[:ro]", s)
	}
	b := Bind{Source: f[0], Dest: f[1]}
	if len(f) == 3 {
		switch f[2] {
		case "ro":
			b.ReadOnly = true
		case "rw":
		default:
			return Bind{}, fmt.Errorf("%q: unknown option %q (want ro or rw)", s, f[2])
		}
	}
	return b, nil
}

// ParseTmpfs reads DST[:size=N], as `nook run --tmpfs` takes it.
func ParseTmpfs(s string) (Tmpfs, error) {
	dst, opt, hasOpt := strings.Cut(s, ":")
	if dst == "" {
		return Tmpfs{}, fmt.Errorf("%q: want DST[:size=N]", s)
	}
	t := Tmpfs{Dest: dst}
	if hasOpt {
		v, ok := strings.CutPrefix(opt, "size=")
		if !ok {
			return Tmpfs{}, fmt.Errorf("%q: unknown option %q (want size=N)", s, opt)
		}
		n, err := ParseSize(v)
		if err != nil {
			return Tmpfs{}, fmt.Errorf("%q: %w", s, err)
		}
		t.Size = n
	}
	return t, nil
}

// ParseSize reads a byte count with an optional k, m, g or t suffix
// (powers of 1024).
func ParseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "b")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		case 't':
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:n-1]
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("size %q: want a non-negative number with an optional k, m, g or t suffix", s)
	}
	if v > (1<<62)/mult {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return v * mult, nil
}

// ParseUser reads UID[:GID], as `nook run --user` takes it. Without GID, GID is UID.
func ParseUser(s string) (uid, gid uint32, err error) {
	u, g, hasG := strings.Cut(s, ":")
	un, err := strconv.ParseUint(u, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("%q: want UID[:GID], numbers", s)
	}
	gn := un
	if hasG {
		gn, err = strconv.ParseUint(g, 10, 32)
		if err != nil {
			return 0, 0, fmt.Errorf("%q: want UID[:GID], numbers", s)
		}
	}
	return uint32(un), uint32(gn), nil
}

// ParseRlimit reads NAME=SOFT[:HARD], as `nook run --rlimit` takes it. NAME is an
// RLIMIT_* name, with or without the prefix, in any case; values are
// numbers (sizes take k, m, g for the byte limits) or "unlimited".
// Without HARD, HARD is SOFT.
func ParseRlimit(s string) (specs.POSIXRlimit, error) {
	name, val, ok := strings.Cut(s, "=")
	if !ok || name == "" || val == "" {
		return specs.POSIXRlimit{}, fmt.Errorf("%q: want NAME=SOFT[:HARD]", s)
	}
	typ := strings.ToUpper(name)
	if !strings.HasPrefix(typ, "RLIMIT_") {
		typ = "RLIMIT_" + typ
	}
	if !slices.Contains(container.RlimitNames(), typ) {
		names := container.RlimitNames()
		slices.Sort(names)
		return specs.POSIXRlimit{}, fmt.Errorf("%q: unknown limit %q (want one of %s)", s, name, strings.Join(names, ", "))
	}
	soft, hard, hasHard := strings.Cut(val, ":")
	sv, err := parseLimitValue(soft)
	if err != nil {
		return specs.POSIXRlimit{}, fmt.Errorf("%q: %w", s, err)
	}
	hv := sv
	if hasHard {
		if hv, err = parseLimitValue(hard); err != nil {
			return specs.POSIXRlimit{}, fmt.Errorf("%q: %w", s, err)
		}
	}
	if sv > hv {
		return specs.POSIXRlimit{}, fmt.Errorf("%q: soft limit above hard limit", s)
	}
	return specs.POSIXRlimit{Type: typ, Soft: sv, Hard: hv}, nil
}

func parseLimitValue(v string) (uint64, error) {
	if v == "unlimited" || v == "infinity" || v == "-1" {
		return ^uint64(0), nil
	}
	n, err := ParseSize(v)
	if err != nil {
		return 0, err
	}
	return uint64(n), nil
}

// ParseDuration reads a duration: Go's form (1.5s, 500ms, 2m) or a bare
// number of seconds.
func ParseDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 0 {
			return 0, fmt.Errorf("duration %q is negative", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: want seconds or a Go duration (1.5s, 500ms)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %q is negative", s)
	}
	return d, nil
}

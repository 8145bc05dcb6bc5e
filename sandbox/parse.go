package sandbox

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseBind reads SRC:DST[:ro|rw], as --bind takes it.
func ParseBind(s string) (Bind, error) {
	f := strings.Split(s, ":")
	if len(f) < 2 || len(f) > 3 || f[0] == "" || f[1] == "" {
		return Bind{}, fmt.Errorf("--bind %q: want SRC:DST[:ro]", s)
	}
	b := Bind{Source: f[0], Dest: f[1]}
	if len(f) == 3 {
		switch f[2] {
		case "ro":
			b.ReadOnly = true
		case "rw":
		default:
			return Bind{}, fmt.Errorf("--bind %q: unknown option %q (want ro or rw)", s, f[2])
		}
	}
	return b, nil
}

// ParseTmpfs reads DST[:size=N], as --tmpfs takes it.
func ParseTmpfs(s string) (Tmpfs, error) {
	dst, opt, hasOpt := strings.Cut(s, ":")
	if dst == "" {
		return Tmpfs{}, fmt.Errorf("--tmpfs %q: want DST[:size=N]", s)
	}
	t := Tmpfs{Dest: dst}
	if hasOpt {
		v, ok := strings.CutPrefix(opt, "size=")
		if !ok {
			return Tmpfs{}, fmt.Errorf("--tmpfs %q: unknown option %q (want size=N)", s, opt)
		}
		n, err := ParseSize(v)
		if err != nil {
			return Tmpfs{}, fmt.Errorf("--tmpfs %q: %w", s, err)
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

// ParseUser reads UID[:GID], as --user takes it. Without GID, GID is UID.
func ParseUser(s string) (uid, gid uint32, err error) {
	u, g, hasG := strings.Cut(s, ":")
	un, err := strconv.ParseUint(u, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("--user %q: want UID[:GID], numbers", s)
	}
	gn := un
	if hasG {
		gn, err = strconv.ParseUint(g, 10, 32)
		if err != nil {
			return 0, 0, fmt.Errorf("--user %q: want UID[:GID], numbers", s)
		}
	}
	return uint32(un), uint32(gn), nil
}

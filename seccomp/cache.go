package seccomp

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Cache keeps the programs it compiled, by the profile's content and the
// architecture, for a caller that compiles the same profile again and
// again: `nook batch` builds every sandbox's spec anew, with the same
// default profile, and compiling it cost each sandbox about as much as
// building the rest of its spec. The key is a SHA-256 of every field of
// the profile, read by reflection, so that a field the runtime spec adds
// later is part of the key without anyone having to add it; a profile
// with a value the key cannot hold is compiled and not kept. Its zero
// value is ready to use; a nil *Cache compiles every time. It is safe for
// concurrent use, and owned by whoever makes it (there is no shared one).
type Cache struct {
	mu    sync.Mutex
	progs map[cacheKey]Program
}

type cacheKey struct {
	sum    [sha256.Size]byte
	goarch string
}

// maxCached bounds a Cache: past it, the cache starts again empty. A judge
// uses a handful of profiles; more means profiles made per run, which a
// cache would only hoard.
const maxCached = 64

// Compile is [Compile] through the cache: the program for runtime.GOARCH.
// The program returned is shared: the caller must not change it.
func (c *Cache) Compile(p *specs.LinuxSeccomp) (Program, error) {
	return c.CompileArch(p, runtime.GOARCH)
}

// CompileArch is [CompileArch] through the cache. Errors are not kept.
func (c *Cache) CompileArch(p *specs.LinuxSeccomp, goarch string) (Program, error) {
	if c == nil || p == nil {
		return CompileArch(p, goarch)
	}
	sum, err := profileSum(p)
	if err != nil {
		return CompileArch(p, goarch)
	}
	k := cacheKey{sum, goarch}
	c.mu.Lock()
	prog, ok := c.progs[k]
	c.mu.Unlock()
	if ok {
		return prog, nil
	}
	prog, err = CompileArch(p, goarch)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.progs == nil || len(c.progs) >= maxCached {
		c.progs = make(map[cacheKey]Program)
	}
	c.progs[k] = prog
	c.mu.Unlock()
	return prog, nil
}

// profileSum hashes every field of p: each value with its kind, its
// length where it has one, and whether a pointer is nil, so that no two
// different profiles write the same bytes.
func profileSum(p *specs.LinuxSeccomp) ([sha256.Size]byte, error) {
	buf, err := appendValue(make([]byte, 0, 4096), reflect.ValueOf(p).Elem())
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	return sha256.Sum256(buf), nil
}

var errUnhashable = errors.New("seccomp: a profile value the cache cannot key")

// appendValue appends v's kind, then its value (a string's or a slice's
// length first, a pointer's nil or not), to b.
func appendValue(b []byte, v reflect.Value) ([]byte, error) {
	b = append(b, byte(v.Kind()))
	switch v.Kind() {
	case reflect.String:
		b = binary.LittleEndian.AppendUint64(b, uint64(v.Len()))
		b = append(b, v.String()...)
	case reflect.Bool:
		if v.Bool() {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		b = binary.LittleEndian.AppendUint64(b, uint64(v.Int()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		b = binary.LittleEndian.AppendUint64(b, v.Uint())
	case reflect.Pointer:
		if v.IsNil() {
			return append(b, 0), nil
		}
		return appendValue(append(b, 1), v.Elem())
	case reflect.Slice, reflect.Array:
		b = binary.LittleEndian.AppendUint64(b, uint64(v.Len()))
		for i := range v.Len() {
			var err error
			if b, err = appendValue(b, v.Index(i)); err != nil {
				return nil, err
			}
		}
	case reflect.Struct:
		b = binary.LittleEndian.AppendUint64(b, uint64(v.NumField()))
		for i := range v.NumField() {
			var err error
			if b, err = appendValue(b, v.Field(i)); err != nil {
				return nil, err
			}
		}
	default:
		// maps (no order), interfaces, floats...: none in the runtime
		// spec's seccomp profile today
		return nil, fmt.Errorf("%w: %s", errUnhashable, v.Type())
	}
	return b, nil
}

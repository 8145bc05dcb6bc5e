package seccomp

import (
	"reflect"
	"slices"
	"testing"

	"github.com/nookrun/nook/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A cached program is the one Compile makes, for the profile and the
// architecture asked for, and the second compile of the same profile,
// built anew, is the kept one.
func TestCacheCompilesAsCompile(t *testing.T) {
	var c Cache
	for _, arch := range []string{"amd64", "arm64"} {
		want, err := CompileArch(Default(), arch)
		if err != nil {
			t.Fatal(err)
		}
		first, err := c.CompileArch(Default(), arch)
		if err != nil {
			t.Fatal(err)
		}
		second, err := c.CompileArch(Default(), arch)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(first, want) || !slices.Equal(second, want) {
			t.Errorf("%s: the cache's programs differ from Compile's", arch)
		}
		if &first[0] != &second[0] {
			t.Errorf("%s: the same profile was compiled twice", arch)
		}
	}
	// a different profile is a different program
	other := Default()
	other.Syscalls = other.Syscalls[1:]
	p, err := c.Compile(other)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := Compile(other); !slices.Equal(p, want) {
		t.Error("a changed profile got another profile's program")
	}
	var nilCache *Cache
	if p, err := nilCache.Compile(Default()); err != nil || len(p) == 0 {
		t.Errorf("a nil cache: %v", err)
	}
	if _, err := c.Compile(&specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_NOPE"}); err == nil {
		t.Error("a bad profile compiled through the cache")
	}
}

// Every field of a profile, however deep, is part of the key: a profile
// with every field set changes its key when any one of them changes, so
// a field the runtime spec adds later cannot make two profiles share a
// program.
func TestCacheKeyCoversEveryField(t *testing.T) {
	var p specs.LinuxSeccomp
	testutil.Fill(&p)
	base, err := profileSum(&p)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		switch v.Kind() {
		case reflect.Pointer:
			walk(v.Elem(), path)
		case reflect.Struct:
			for i := range v.NumField() {
				walk(v.Field(i), path+"."+v.Type().Field(i).Name)
			}
		case reflect.Slice:
			if v.Len() == 0 {
				t.Fatalf("%s: Fill left it empty", path)
			}
			walk(v.Index(0), path+"[0]")
		default:
			old := reflect.New(v.Type()).Elem()
			old.Set(v)
			switch v.Kind() {
			case reflect.String:
				v.SetString(v.String() + "x")
			case reflect.Bool:
				v.SetBool(!v.Bool())
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
				v.SetInt(v.Int() + 1)
			default:
				v.SetUint(v.Uint() + 1)
			}
			sum, err := profileSum(&p)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if sum == base {
				t.Errorf("%s: changing it does not change the key", path)
			}
			v.Set(old)
			n++
		}
	}
	walk(reflect.ValueOf(&p), "LinuxSeccomp")
	if n < 10 {
		t.Errorf("only %d fields were changed", n)
	}
	// a nil pointer and a pointer to zero differ, and so do a split of
	// names between two entries and the same names in one
	zero := uint(0)
	a := &specs.LinuxSeccomp{Syscalls: []specs.LinuxSyscall{{Names: []string{"ab"}}}}
	b := &specs.LinuxSeccomp{Syscalls: []specs.LinuxSyscall{{Names: []string{"a", "b"}}}}
	c := &specs.LinuxSeccomp{Syscalls: []specs.LinuxSyscall{{Names: []string{"ab"}, ErrnoRet: &zero}}}
	sa, _ := profileSum(a)
	sb, _ := profileSum(b)
	sc, _ := profileSum(c)
	if sa == sb || sa == sc {
		t.Error("different profiles share a key")
	}
}

func BenchmarkCacheCompileDefault(b *testing.B) {
	var c Cache
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Compile(Default()); err != nil {
			b.Fatal(err)
		}
	}
}

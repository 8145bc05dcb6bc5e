package container

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/nookrun/nook/seccomp"
	"github.com/nookrun/nook/state"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// execStore is a state store with one sandbox's spec in it, as a
// detached `nook run` leaves it: the default seccomp profile and a
// process.
func execStore(t testing.TB, withSeccomp bool) (*state.Store, string) {
	s, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	id := "box"
	sp := &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Args: []string{"sleep", "300"}, Cwd: "/", Env: []string{"PATH=/usr/bin:/bin", "HOME=/root"},
			NoNewPrivileges: true,
			Capabilities:    &specs.LinuxCapabilities{Bounding: []string{"CAP_CHOWN", "CAP_KILL"}, Effective: []string{"CAP_CHOWN"}},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
		},
		Linux: &specs.Linux{},
	}
	if withSeccomp {
		sp.Linux.Seccomp = seccomp.Default()
	}
	b, err := json.Marshal(sp)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(s.Path(id), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.SpecFile(id), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return s, id
}

// The first exec keeps the process and the compiled filter beside the
// state; later ones get the same from there, and a cache that is damaged
// or half there is read past, back to the spec.
func TestExecPartsCache(t *testing.T) {
	for _, withSeccomp := range []bool{true, false} {
		s, id := execStore(t, withSeccomp)
		dir := s.Path(id)
		parts, filter, flags, err := execParts(s, id)
		if err != nil {
			t.Fatal(err)
		}
		if (filter != nil) != withSeccomp {
			t.Fatalf("seccomp %v: filter of %d bytes", withSeccomp, len(filter))
		}
		if _, err := os.Stat(filepath.Join(dir, execCacheFile)); err != nil {
			t.Fatalf("no cache after the first exec: %v", err)
		}
		check := func(what string) {
			t.Helper()
			p, f, fl, err := execParts(s, id)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if !reflect.DeepEqual(p, parts) || !bytes.Equal(f, filter) || fl != flags {
				t.Errorf("%s: got %+v, filter %d bytes flags %d; want %+v, %d bytes, %d", what, p, len(f), fl, parts, len(filter), flags)
			}
		}
		check("from the cache")
		os.WriteFile(filepath.Join(dir, execCacheFile), []byte("{damaged"), 0o600)
		check("damaged cache")
		if withSeccomp {
			os.Remove(filepath.Join(dir, seccompCache))
			check("filter cache missing")
		}
	}
}

// What the cache saves: decoding the spec against decoding the cache.
func BenchmarkExecParts(b *testing.B) {
	s, id := execStore(b, true)
	if _, _, _, err := execParts(s, id); err != nil {
		b.Fatal(err)
	}
	b.Run("spec", func(b *testing.B) {
		for b.Loop() {
			es, err := loadExecSpec(s, id)
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := es.filter(s.Path(id)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cache", func(b *testing.B) {
		for b.Loop() {
			if _, _, _, err := execParts(s, id); err != nil {
				b.Fatal(err)
			}
		}
	})
}

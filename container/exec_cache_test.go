package container

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/nookrun/nook/internal/testutil"
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
// state; later ones get the same from there. A cache that is damaged, or
// was made from another spec (or by another format, or for another
// architecture: its key), is never used: exec reads the spec and makes
// it again.
func TestExecPartsCache(t *testing.T) {
	for _, withSeccomp := range []bool{true, false} {
		s, id := execStore(t, withSeccomp)
		cache := filepath.Join(s.Path(id), execCacheFile)
		parts, err := execParts(s, id)
		if err != nil {
			t.Fatal(err)
		}
		if (parts.Filter != nil) != withSeccomp || len(parts.Filter)%8 != 0 {
			t.Fatalf("seccomp %v: filter of %d bytes", withSeccomp, len(parts.Filter))
		}
		if _, err := os.Stat(cache); err != nil {
			t.Fatalf("no cache after the first exec: %v", err)
		}
		check := func(what string) {
			t.Helper()
			p, err := execParts(s, id)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if !reflect.DeepEqual(p, parts) {
				t.Errorf("%s: got %+v, want %+v", what, p, parts)
			}
		}
		check("from the cache")
		os.WriteFile(cache, []byte("{damaged"), 0o600)
		check("damaged cache")
		os.Remove(cache)
		check("no cache")

		// a cache is used only for its key: one that says other than
		// the spec is, of the same key, is what exec takes
		other := *parts
		other.Filter = bytes.Repeat([]byte{6, 0, 0, 0, 0, 0, 0, 0}, 3) // ret KILL_THREAD, thrice
		other.Process = &specs.Process{Args: []string{"other"}, Cwd: "/other"}
		write := func(c *execCache) {
			b, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(cache, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		write(&other)
		if p, err := execParts(s, id); err != nil || !reflect.DeepEqual(p, &other) {
			t.Fatalf("a cache of this spec's key is not what exec takes: %+v, %v", p, err)
		}
		for _, key := range []string{
			"",
			strings.Replace(parts.Key, execCacheFormat, "nook.exec/1", 1),
			strings.Replace(parts.Key, runtime.GOARCH, "riscv64", 1),
			execCacheKey([]byte("{}")),
		} {
			other.Key = key
			write(&other)
			check("cache of key " + key)
		}
		// a filter cut short
		other.Key = parts.Key
		other.Filter = other.Filter[:7]
		write(&other)
		check("a filter cut short")
	}
}

// The exec cache is read as json.Unmarshal reads it: every field of a
// specs.Process (testutil.Fill sets them all, so that one a new
// runtime-spec adds fails here rather than being dropped from what exec
// runs), and what json.Marshal leaves out or writes as null.
func TestDecodeExecCacheAsJSON(t *testing.T) {
	var full execCache
	testutil.Fill(&full)
	b, err := json.Marshal(&full)
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range []string{
		string(b),
		`{}`,
		`{"key":"k","process":null,"filter":null}`,
		`{"process":{"user":{"uid":4294967295,"additionalGids":[]},"args":[],"capabilities":{},"rlimits":[{}],"oomScoreAdj":-1000,"scheduler":{"flags":[]}},"filter":""}`,
		`{"future":[{"a":null}],"process":{"future":{"b":[1,2]},"cwd":"/"}}`,
	} {
		var want execCache
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatalf("json.Unmarshal %s: %v", doc, err)
		}
		got, err := decodeExecCache([]byte(doc))
		if err != nil {
			t.Errorf("decodeExecCache %s: %v", doc, err)
			continue
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("decodeExecCache %s:\n got %+v\nwant %+v", doc, *got, want)
		}
	}
	for _, doc := range []string{
		``, `{"key":"k"`, `{}{}`, `{"filter":"not base64!"}`, `{"filterFlags":-1}`,
		`{"process":{"user":{"uid":4294967296}}}`, `{"process":{"args":"sh"}}`,
		`{"process":{"noNewPrivileges":1}}`, `{"process":{"rlimits":[{"hard":-1}]}}`,
	} {
		var want execCache
		if json.Unmarshal([]byte(doc), &want) == nil {
			t.Fatalf("json.Unmarshal takes %s", doc)
		}
		if got, err := decodeExecCache([]byte(doc)); err == nil {
			t.Errorf("decodeExecCache takes %s: %+v", doc, got)
		}
	}
}

// What the cache saves: decoding the spec and compiling its filter
// against reading the cache.
func BenchmarkExecParts(b *testing.B) {
	s, id := execStore(b, true)
	if _, err := execParts(s, id); err != nil {
		b.Fatal(err)
	}
	cache := filepath.Join(s.Path(id), execCacheFile)
	b.Run("spec", func(b *testing.B) {
		for b.Loop() {
			os.Remove(cache)
			if _, err := execParts(s, id); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cache", func(b *testing.B) {
		for b.Loop() {
			if _, err := execParts(s, id); err != nil {
				b.Fatal(err)
			}
		}
	})
}

package netns

import (
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/nookrun/nook/internal/testutil"
	"golang.org/x/sys/unix"
)

func TestAddListDelete(t *testing.T) {
	testutil.RequireRoot(t)
	name := "nkt" + testutil.Mark(t)
	if err := Add(name); err != nil {
		t.Fatal(err)
	}
	defer Delete(name)
	if err := Add(name); !errors.Is(err, ErrExist) {
		t.Errorf("Add twice: %v, want ErrExist", err)
	}
	names, err := List()
	if err != nil || !slices.Contains(names, name) {
		t.Errorf("List: %v, %v", names, err)
	}
	f, err := Open(name)
	if err != nil {
		t.Fatal(err)
	}
	host, err := Open("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	var a, b unix.Stat_t
	unix.Fstat(int(f.Fd()), &a)
	unix.Fstat(int(host.Fd()), &b)
	if a.Ino == b.Ino {
		t.Error("the named namespace is the host's")
	}
	f.Close()
	host.Close()
	if err := Delete(name); err != nil {
		t.Fatal(err)
	}
	if err := Delete(name); !errors.Is(err, ErrNotExist) {
		t.Errorf("Delete twice: %v, want ErrNotExist", err)
	}
	if _, err := Open(name); !errors.Is(err, ErrNotExist) {
		t.Errorf("Open after Delete: %v", err)
	}
}

func TestNewIsThrownAway(t *testing.T) {
	testutil.RequireRoot(t)
	before, _ := os.Readlink("/proc/thread-self/ns/net")
	for range 20 {
		f, err := New()
		if err != nil {
			t.Fatal(err)
		}
		var inside string
		if err := In(f, func() error {
			inside, err = os.Readlink("/proc/thread-self/ns/net")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if inside == before {
			t.Error("In ran in the host's namespace")
		}
		f.Close()
		// no goroutine of ours ever lands on a thread left elsewhere
		if now, _ := os.Readlink("/proc/thread-self/ns/net"); now != before {
			t.Fatalf("this goroutine's thread is in %s, not %s", now, before)
		}
	}
}

func TestValidName(t *testing.T) {
	for name, ok := range map[string]bool{"red": true, "": false, ".": false, "..": false, "a/b": false} {
		if err := ValidName(name); (err == nil) != ok {
			t.Errorf("ValidName(%q) = %v", name, err)
		}
	}
}

package container

import (
	"os"
	"testing"

	"github.com/nookrun/nook/internal/spawn"
	"github.com/nookrun/nook/state"
)

// nook's entry point (internal/spawn/entry.c) looks sandboxes up where
// the state package keeps them: the same default root, the same
// directory of names.
func TestEntryLooksWhereTheStateIs(t *testing.T) {
	if spawn.QuickExecFile() == "" {
		t.Skip("no entry point on this platform")
	}
	if got := spawn.EntryNamesDir(); got != state.NamesDir {
		t.Errorf("the entry looks names up in %q, the state keeps them in %q", got, state.NamesDir)
	}
	if os.Geteuid() == 0 {
		if got := spawn.EntryDefaultRoot(); got != state.DefaultDir() {
			t.Errorf("the entry's default root is %q, root's is %q", got, state.DefaultDir())
		}
	}
}

//go:build linux && amd64

package sandbox_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/nookrun/nook/internal/testutil"
	"github.com/nookrun/nook/sandbox"
	"github.com/nookrun/nook/verdict"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A prepared sandbox that never runs leaves nothing when closed; one that
// runs is judged.
func TestPrepareJudgeClose(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckNoLeaks(t)
	root := testutil.BusyboxRootfs(t)
	cfg := func(script string) *sandbox.Config {
		return &sandbox.Config{Args: []string{"/bin/sh", "-c", script}, Rootfs: root, Memory: 64 << 20}
	}
	unused, err := cfg("echo never").Prepare(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	unused.Close()

	p, err := cfg("exit 4").Prepare(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if v := p.Judge(context.Background()); v.Status != verdict.RE || v.ExitCode != 4 || v.Limits.MemoryBytes != 64<<20 {
		t.Errorf("verdict %+v, want RE 4 with the memory limit", v)
	}
}

// The output limit through the library: a stdout file written past it is
// cut back, and the verdict is OL although the command exits 0.
func TestJudgeOutputLimit(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckNoLeaks(t)
	root := testutil.BusyboxRootfs(t)
	out, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	c := &sandbox.Config{
		Args:    []string{"/bin/sh", "-c", `trap "" XFSZ; head -c 3000 /dev/zero; exit 0`},
		Rootfs:  root,
		Stdout:  out,
		Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_FSIZE", Soft: 2000, Hard: 2000}},
	}
	v := sandbox.Judge(context.Background(), c)
	if v.Status != verdict.OL || v.ExitCode != 0 || v.Limits.FileSize != 2000 {
		t.Errorf("verdict %+v, want OL with exit 0", v)
	}
	if st, _ := out.Stat(); st.Size() != 2000 {
		t.Errorf("stdout holds %d bytes, want 2000", st.Size())
	}
}

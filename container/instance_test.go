//go:build linux && amd64

package container_test

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nookrun/nook/container"
	"github.com/nookrun/nook/internal/testutil"
	"github.com/nookrun/nook/sandbox"
	"github.com/nookrun/nook/state"
)

// The Go API of sandboxes known by their state: one run by this process
// with Options.Record is found by Load, entered with Exec, stopped and
// removed, as nook run --name, exec, stop and rm do it.
func TestRecordLoadExecStop(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckNoLeaks(t)
	store, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := &sandbox.Config{Args: []string{"sleep", "300"}, Hostname: "gobox", Env: []string{testutil.MarkEnv(t)}}
	spec, err := cfg.Spec()
	if err != nil {
		t.Fatal(err)
	}
	opts := cfg.Options()
	opts.Record = &container.Record{Store: store, Name: "go"}
	c, err := container.New("", spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}

	in, err := container.LoadIn(store, "go")
	if err != nil {
		t.Fatal(err)
	}
	if in.Status() != state.Running || in.State.Init.Pid != c.Pid() {
		t.Fatalf("loaded: %s, init %d (started %d)", in.Status(), in.State.Init.Pid, c.Pid())
	}
	r, w, _ := os.Pipe()
	x, err := in.Exec(&container.ExecOptions{Args: []string{"hostname"}, Stdout: w})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(r)
	res, err := x.Wait(context.Background())
	x.Close()
	if err != nil || res.ExitCode != 0 || strings.TrimSpace(string(out)) != "gobox" {
		t.Errorf("exec hostname: %q, %+v, %v", out, res, err)
	}
	if err := in.Remove(false); err == nil {
		t.Error("Remove of a running sandbox without force")
	}

	done := make(chan *container.Result, 1)
	go func() {
		res, _ := c.Wait(context.Background())
		c.Close() // records the end
		done <- res
	}()
	if err := in.Stop(context.Background(), time.Second); err != nil {
		t.Fatal(err)
	}
	res = <-done
	if res == nil || res.Signal != 15 {
		t.Errorf("stopped: %+v", res)
	}
	if err := in.Refresh(); err != nil {
		t.Fatal(err)
	}
	if in.Status() != state.Stopped || in.State.Exit == nil || in.State.Exit.Signal != 15 {
		t.Errorf("after stop: %s %+v", in.Status(), in.State.Exit)
	}
	if err := in.Remove(false); err != nil {
		t.Fatal(err)
	}
	if _, err := container.LoadIn(store, "go"); err == nil {
		t.Error("loaded after Remove")
	}
}

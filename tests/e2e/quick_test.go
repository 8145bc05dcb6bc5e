package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nookrun/nook/internal/spawn"
	"github.com/nookrun/nook/internal/testutil"
	"github.com/nookrun/nook/namespaces"
)

// execThreads starts `nook args...`, which must run a command that prints
// "ready" and then sleeps, and returns the running nook and its number of
// threads: 1 where the exec was started before Go's runtime (a Go program
// runs several).
func execThreads(t *testing.T, args ...string) (*testutil.Running, int) {
	t.Helper()
	r := testutil.Start(t, testutil.Command(t, args...), "ready")
	b, err := os.ReadFile("/proc/" + strconv.Itoa(r.Pid()) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(statusLines(string(b), "Threads")["Threads"])
	return r, n
}

// A plain nook exec (no option but --root) replays the plan that the exec
// before it kept beside the sandbox's state, before Go's runtime starts
// (internal/spawn/entry.c): the nook that waits for the command is one
// thread. It does what Go's exec does: the sandbox's namespaces, cgroups
// and host name, the command's exit status, the signals passed on. Where
// anything the plan was kept under has changed (the state, the file's
// mode, the options), Go does the exec, and keeps the plan again.
func TestExecBeforeGo(t *testing.T) {
	e2e(t)
	root := lifeRoot(t)
	rootfs := testutil.BusyboxRootfs(t)
	nook(t, "--root", root, "run", "-d", "--name", "q", "--rootfs", rootfs, "--hostname", "qhost", "--memory", "64m", "--", "sleep", "300")
	st := inspect(t, root, "q")
	kept := filepath.Join(root, st.ID, spawn.QuickExecFile())
	wait := "echo ready; exec sleep 300"

	// the first exec is Go's, and keeps its plan for root's eyes only
	r, n := execThreads(t, "--root", root, "exec", "q", "sh", "-c", wait)
	if n < 2 {
		t.Errorf("the first exec ran in %d thread: not Go's?", n)
	}
	r.Signal(syscall.SIGTERM)
	if _, _, code := r.Wait(5 * time.Second); code != 128+int(syscall.SIGTERM) {
		t.Errorf("Go's exec, TERM passed on: exit status %d, want %d", code, 128+int(syscall.SIGTERM))
	}
	fi, err := os.Stat(kept)
	if err != nil {
		t.Fatalf("no plan kept: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("the kept plan has mode %v", fi.Mode())
	}

	// the next starts before Go, and passes TERM on all the same
	r, n = execThreads(t, "--root", root, "exec", "q", "--", "sh", "-c", wait)
	if n != 1 {
		t.Errorf("a plain exec with a kept plan ran in %d threads, want 1", n)
	}
	r.Signal(syscall.SIGTERM)
	if _, _, code := r.Wait(5 * time.Second); code != 128+int(syscall.SIGTERM) {
		t.Errorf("exec before Go, TERM passed on: exit status %d, want %d", code, 128+int(syscall.SIGTERM))
	}

	// in the sandbox as Go's exec is: its namespaces, host name and
	// cgroups; the command's exit status
	var script strings.Builder
	for _, typ := range namespaces.All() {
		script.WriteString("readlink /proc/self/ns/" + namespaces.ProcName(typ) + "; ")
	}
	script.WriteString("hostname")
	out := nook(t, "--root", root, "exec", "q", "sh", "-c", script.String())
	lines := testutil.Lines(out)
	if len(lines) < len(namespaces.All())+1 {
		t.Fatalf("exec:\n%s", out)
	}
	for i, typ := range namespaces.All() {
		if want := nsLink(t, st.Init.Pid, typ); lines[i] != want {
			t.Errorf("exec before Go: /proc/self/ns/%s = %s, init's is %s", namespaces.ProcName(typ), lines[i], want)
		}
	}
	if h := lines[len(namespaces.All())]; h != "qhost" {
		t.Errorf("exec before Go: host name %q", h)
	}
	out = nook(t, "--root", root, "exec", "q", "sh", "-c", "cat /proc/self/cgroup; echo --; cat /proc/1/cgroup")
	if mine, theirs, _ := strings.Cut(out, "--\n"); mine == "" || mine != theirs {
		t.Errorf("exec before Go: its cgroups are not the sandbox's:\n%s", out)
	}
	nookFails(t, 3, "--root", root, "exec", "q", "sh", "-c", "exit 3")
	// a command that is not there: the child fails before it, and Go
	// does the exec again, and says why
	if _, errOut := nookFails(t, 127, "--root", root, "exec", "q", "/no/such/thing"); !strings.Contains(errOut, "/no/such/thing") {
		t.Errorf("exec of a missing command: %q", errOut)
	}

	// an option: Go's exec
	r, n = execThreads(t, "--root", root, "exec", "-e", "X=1", "q", "sh", "-c", wait)
	if n < 2 {
		t.Errorf("exec -e ran in %d thread: not Go's?", n)
	}
	r.Signal(syscall.SIGTERM)
	r.Wait(5 * time.Second)

	// a kept plan that others may read is not trusted; Go keeps it again
	if err := os.Chmod(kept, 0o644); err != nil {
		t.Fatal(err)
	}
	out = nook(t, "--root", root, "exec", "q", "hostname")
	if strings.TrimSpace(out) != "qhost" {
		t.Errorf("exec past a plan of mode 0644: %q", out)
	}
	if fi, err := os.Stat(kept); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the plan was not kept again: %v %v", fi.Mode(), err)
	}

	// a state written since (as pause, resume and the monitor write it:
	// a new file renamed over the old) is Go's to read
	stateFile := filepath.Join(root, st.ID, "state.json")
	b, err := os.ReadFile(stateFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stateFile+".new", b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(stateFile+".new", stateFile); err != nil {
		t.Fatal(err)
	}
	r, n = execThreads(t, "--root", root, "exec", "q", "sh", "-c", wait)
	if n < 2 {
		t.Errorf("the first exec after the state was written ran in %d thread: not Go's?", n)
	}
	r.Signal(syscall.SIGTERM)
	r.Wait(5 * time.Second)
	r, n = execThreads(t, "--root", root, "exec", "q", "sh", "-c", wait)
	if n != 1 {
		t.Errorf("the second exec after the state was written ran in %d threads, want 1", n)
	}
	r.Signal(syscall.SIGTERM)
	r.Wait(5 * time.Second)

	// a stopped sandbox takes no exec, whatever was kept
	nook(t, "--root", root, "stop", "-t", "1", "q")
	if _, errOut := nookFails(t, 125, "--root", root, "exec", "q", "true"); !strings.Contains(errOut, "stopped") {
		t.Errorf("exec into a stopped sandbox: %q", errOut)
	}
	nook(t, "--root", root, "rm", "q")
}

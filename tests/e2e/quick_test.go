package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nookrun/nook/cgroups"
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

// quickBundle writes an OCI bundle on a busybox root whose process runs
// script, in new pid, mount, uts, ipc, network and cgroup namespaces, with
// the device rules of runc's default spec where devices is set.
func quickBundle(t *testing.T, script string, devices bool) string {
	t.Helper()
	bundle := t.TempDir()
	linux := map[string]any{"namespaces": []map[string]string{
		{"type": "pid"}, {"type": "mount"}, {"type": "uts"}, {"type": "ipc"}, {"type": "network"}, {"type": "cgroup"},
	}}
	if devices {
		linux["resources"] = map[string]any{"devices": []map[string]any{
			{"allow": false, "access": "rwm"},
			{"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
		}}
	}
	cfg := map[string]any{
		"ociVersion": "1.0.2",
		"process":    map[string]any{"args": []string{"sh", "-c", script}, "cwd": "/", "env": []string{"PATH=/bin"}},
		"root":       map[string]any{"path": testutil.BusyboxRootfs(t)},
		"hostname":   "qrun",
		"mounts": []map[string]any{
			{"destination": "/proc", "type": "proc", "source": "proc"},
			{"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": []string{"nosuid", "mode=755"}},
		},
		"linux": linux,
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return bundle
}

// A plain `nook run --bundle DIR ID` (no option but --root) replays the
// plan that the run before it of the same bundle and ID kept in the state
// root, before Go's runtime starts (entry.c): the nook that waits for the
// command is one thread. The sandbox is the one Go makes (host name,
// namespaces of its own, the device cgroup on cgroup v1), the command's
// status and the signals passed on are the same, and the cgroup is gone
// when nook returns. A changed config.json, an option, or a command that
// fails to start is Go's run again.
func TestRunBundleBeforeGo(t *testing.T) {
	e2e(t)
	root := lifeRoot(t)
	id := "qrun-" + testutil.Mark(t)
	wait := "trap 'exit 7' TERM; echo ready; sleep 300 & wait"
	bundle := quickBundle(t, wait, false)
	kept := spawn.QuickRunFile(root, bundle)
	run := func(args ...string) (*testutil.Running, int) {
		return execThreads(t, append([]string{"--root", root, "run"}, args...)...)
	}

	// the first run is Go's, and keeps its plan for root's eyes only
	r, n := run("--bundle", bundle, id)
	if n < 2 {
		t.Errorf("the first run ran in %d thread: not Go's?", n)
	}
	r.Signal(syscall.SIGTERM)
	if _, _, code := r.Wait(5 * time.Second); code != 7 {
		t.Errorf("Go's run, TERM passed on: exit status %d, want 7", code)
	}
	fi, err := os.Stat(kept)
	if err != nil {
		t.Fatalf("no plan kept: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("the kept plan has mode %v", fi.Mode())
	}

	// the next starts before Go (--bundle in any of its forms), and passes
	// TERM on all the same
	for _, args := range [][]string{{"--bundle", bundle, id}, {"-b", bundle, id}, {"--bundle=" + bundle, id}} {
		r, n = run(args...)
		if n != 1 {
			t.Errorf("run %v with a kept plan ran in %d threads, want 1", args, n)
		}
		r.Signal(syscall.SIGTERM)
		if _, _, code := r.Wait(5 * time.Second); code != 7 {
			t.Errorf("run before Go, TERM passed on: exit status %d, want 7", code)
		}
	}

	// an option is Go's run
	r, n = run("--debug", "--bundle", bundle, id)
	if n < 2 {
		t.Errorf("run --debug ran in %d thread: not Go's?", n)
	}
	r.Signal(syscall.SIGTERM)
	r.Wait(5 * time.Second)

	// the sandbox is Go's: its own namespaces, the spec's host name, the
	// command's exit status; its device cgroup (v1), or its cgroup and
	// device program (v2), made before and removed after
	types := []namespaces.Type{namespaces.PID, namespaces.Mount, namespaces.UTS, namespaces.IPC, namespaces.Network, namespaces.Cgroup}
	var script strings.Builder
	for _, typ := range types {
		script.WriteString("readlink /proc/self/ns/" + namespaces.ProcName(typ) + "; ")
	}
	script.WriteString("hostname; echo $$; cat /dev/null && echo null; trap 'exit 3' TERM; echo ready; sleep 300 & wait")
	devBundle := quickBundle(t, script.String(), true)
	devID := id + "-dev"
	outs := make([]string, 2)
	for i := range outs {
		r, n := run("--bundle", devBundle, devID)
		if (n > 1) != (i == 0) {
			t.Errorf("run %d with device rules: %d threads", i, n)
		}
		cg := "/sys/fs/cgroup/devices/nook-" + devID
		if cgroups.DetectMode() == cgroups.Unified {
			cg = "/sys/fs/cgroup/nook/" + devID
			if n := len(testutil.DevicePrograms(t, cg)); n != 1 {
				t.Errorf("run %d: %d device programs on %s, want 1", i, n, cg)
			}
		}
		if b, err := os.ReadFile(cg + "/cgroup.procs"); err != nil || len(testutil.Lines(string(b))) == 0 {
			t.Errorf("run %d: the sandbox is not in its cgroup %s: %q %v", i, cg, b, err)
		}
		r.Signal(syscall.SIGTERM)
		var code int
		outs[i], _, code = r.Wait(5 * time.Second)
		if code != 3 {
			t.Errorf("run %d: exit status %d, want 3", i, code)
		}
		if _, err := os.Stat(cg); err == nil {
			t.Errorf("run %d: cgroup %s left", i, cg)
		}
		lines := testutil.Lines(outs[i])
		if len(lines) != len(types)+4 {
			t.Fatalf("run %d:\n%s", i, outs[i])
		}
		for j, typ := range types {
			if lines[j] == nsLink(t, os.Getpid(), typ) {
				t.Errorf("run %d: /proc/self/ns/%s is the host's", i, namespaces.ProcName(typ))
			}
		}
		if got := strings.Join(lines[len(types):], " "); got != "qrun 1 null ready" {
			t.Errorf("run %d: host name, pid, /dev/null: %q", i, got)
		}
	}

	// a command that is not there: the child fails before it, and Go
	// does the run again, and says why; the plan is dropped
	missing := quickBundle(t, "true", false)
	cfg := filepath.Join(missing, "config.json")
	nook(t, "--root", root, "run", "--bundle", missing, id)
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// a config.json written since (the same size, so only its times tell)
	// is Go's to read
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(b), `"sh"`, `"/x"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut := nookFails(t, 127, "--root", root, "run", "--bundle", missing, id); !strings.Contains(errOut, "/x") {
		t.Errorf("run of a missing command: %q", errOut)
	}
	if _, err := os.Stat(spawn.QuickRunFile(root, missing)); err == nil {
		t.Errorf("the plan of a run that failed was kept")
	}
	if left, _ := filepath.Glob("/sys/fs/cgroup/*/nook-" + id); len(left) > 0 {
		t.Errorf("cgroups left: %v", left)
	}
}

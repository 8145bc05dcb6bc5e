// Package oci tests nook as an OCI runtime: runc's command line as
// containerd's shim, conmon and the conformance suite call it, and those
// engines themselves driving nook, each started by the test with state of
// its own.
package oci

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nookrun/nook/internal/spawn"
	"github.com/nookrun/nook/internal/testutil"
	"github.com/nookrun/nook/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

func oci(t *testing.T) {
	t.Helper()
	testutil.RequireRoot(t)
	t.Parallel()
	testutil.CheckNoLeaks(t)
}

// bundle writes an OCI bundle: a busybox root and nook spec's example,
// changed by edit.
func bundle(t *testing.T, edit func(s *specs.Spec)) string {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	if err := os.Symlink(testutil.BusyboxRootfs(t), filepath.Join(dir, "rootfs")); err != nil {
		t.Fatal(err)
	}
	s := spec.Example(false)
	s.Process.Terminal = false
	if edit != nil {
		edit(s)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// stateRoot is a --root of the test's own; at the end nothing may be
// left in it.
func stateRoot(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "state")
	t.Cleanup(func() {
		ents, _ := os.ReadDir(root)
		for _, e := range ents {
			// .quick: runs kept for nook's entry to replay, not containers
			if e.Name() != ".names" && e.Name() != spawn.QuickRunDir() {
				t.Errorf("state left in %s: %s", root, e.Name())
				testutil.Run(t, "--root", root, "delete", "--force", e.Name())
			}
		}
	})
	return root
}

func nook(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := testutil.Run(t, args...)
	if code != 0 {
		t.Fatalf("nook %s: exit status %d\nstdout:\n%s\nstderr:\n%s", testutil.Quote(args), code, out, errOut)
	}
	return out
}

func nookFails(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := testutil.Run(t, args...)
	if code == 0 {
		t.Fatalf("nook %s: exit status 0, want a failure\nstdout:\n%s", testutil.Quote(args), out)
	}
	if strings.Contains(errOut, "goroutine ") {
		t.Errorf("nook panicked:\n%s", errOut)
	}
	return errOut
}

type ociState struct {
	OCIVersion string `json:"ociVersion"`
	ID         string `json:"id"`
	Pid        int    `json:"pid"`
	Status     string `json:"status"`
	Bundle     string `json:"bundle"`
	Rootfs     string `json:"rootfs"`
	Created    string `json:"created"`
}

func stateOf(t *testing.T, root, id string) ociState {
	t.Helper()
	var st ociState
	out := nook(t, "--root", root, "state", id)
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("state %s: %v\n%s", id, err, out)
	}
	return st
}

// waitStatus waits until the container's status is want.
func waitStatus(t *testing.T, root, id, want string) ociState {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := stateOf(t, root, id)
		if st.Status == want {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is %s, want %s", id, st.Status, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// create, start, state, kill, delete, as runc's callers use them: init
// waits before exec until start, in its cgroup, with its PID in the pid
// file; its output is create's stdout; delete leaves nothing.
func TestLifecycle(t *testing.T) {
	oci(t)
	root := stateRoot(t)
	out := filepath.Join(t.TempDir(), "out")
	b := bundle(t, func(s *specs.Spec) {
		s.Process.Args = []string{"sh", "-c", "echo started as $$ on $(hostname); exec sleep 300"}
		s.Hostname = "ocihost"
	})
	id := "life-" + testutil.Mark(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	cmd := testutil.Command(t, "--root", root, "create", "--bundle", b, "--pid-file", pidFile, id)
	// files, not pipes: init keeps create's stdio, and Run would wait
	// for a pipe's end until the container ends
	cmd.Stdout = f
	errFile := filepath.Join(t.TempDir(), "err")
	ef, err := os.Create(errFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = ef
	err = cmd.Run()
	ef.Close()
	if err != nil {
		b, _ := os.ReadFile(errFile)
		t.Fatalf("create: %v\n%s", err, b)
	}
	f.Close()
	t.Cleanup(func() { testutil.Run(t, "--root", root, "delete", "--force", id) })

	st := stateOf(t, root, id)
	pidText, _ := os.ReadFile(pidFile)
	if st.Status != "created" || st.ID != id || st.Bundle != b || st.Rootfs != filepath.Join(b, "rootfs") || strconv.Itoa(st.Pid) != string(pidText) {
		t.Fatalf("after create: %+v, pid file %q", st, pidText)
	}
	// init waits before exec: nothing ran yet, and it is in its cgroup
	if b, _ := os.ReadFile(out); len(b) != 0 {
		t.Errorf("output before start: %q", b)
	}
	cg, _ := os.ReadFile("/proc/" + strconv.Itoa(st.Pid) + "/cgroup")
	if !strings.Contains(string(cg), id) {
		t.Errorf("init is not in its cgroup:\n%s", cg)
	}
	nookFails(t, "--root", root, "create", "--bundle", b, id) // a duplicate id
	nook(t, "--root", root, "start", id)
	if errOut := nookFails(t, "--root", root, "start", id); !strings.Contains(errOut, "running") {
		t.Errorf("second start: %s", errOut)
	}
	st = waitStatus(t, root, id, "running")
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(out)
		if strings.Contains(string(b), "started as 1 on ocihost") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("output: %q", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(nook(t, "--root", root, "list", "--format", "json")), &list); err != nil || len(list) != 1 {
		t.Errorf("list --format json: %v %v", err, list)
	}
	var pids []int
	if err := json.Unmarshal([]byte(nook(t, "--root", root, "ps", "--format", "json", id)), &pids); err != nil || len(pids) != 1 || pids[0] != st.Pid {
		t.Errorf("ps --format json: %v %v, want [%d]", err, pids, st.Pid)
	}
	if errOut := nookFails(t, "--root", root, "delete", id); !strings.Contains(errOut, "running") {
		t.Errorf("delete of a running container: %s", errOut)
	}
	nook(t, "--root", root, "kill", id, "KILL")
	waitStatus(t, root, id, "stopped")
	nook(t, "--root", root, "delete", id)
	if errOut := nookFails(t, "--root", root, "state", id); !strings.Contains(errOut, "does not exist") {
		t.Errorf("state after delete: %s", errOut)
	}
}

// A created container that is never started goes with delete --force:
// init, cgroup and state.
func TestDeleteCreated(t *testing.T) {
	oci(t)
	root := stateRoot(t)
	b := bundle(t, func(s *specs.Spec) { s.Process.Args = []string{"sleep", "300"} })
	id := "created-" + testutil.Mark(t)
	nook(t, "--root", root, "create", "--bundle", b, id)
	st := stateOf(t, root, id)
	if st.Status != "created" {
		t.Fatalf("%+v", st)
	}
	if errOut := nookFails(t, "--root", root, "delete", id); !strings.Contains(errOut, "created") {
		t.Errorf("delete without --force: %s", errOut)
	}
	nook(t, "--root", root, "delete", "--force", id)
	if _, err := os.Stat("/proc/" + strconv.Itoa(st.Pid)); err == nil {
		// a zombie until its parent (pid 1 here) reaps it
		if s, _ := os.ReadFile("/proc/" + strconv.Itoa(st.Pid) + "/stat"); !strings.Contains(string(s), ") Z") {
			t.Errorf("init %d still runs after delete --force", st.Pid)
		}
	}
	// deleting what is gone is done, with --force, as runc's
	nook(t, "--root", root, "delete", "--force", id)
}

// exec --detach leaves the command to nook's caller, its PID in the pid
// file; exec --process takes the whole process from a file.
func TestExecDetach(t *testing.T) {
	oci(t)
	root := stateRoot(t)
	b := bundle(t, func(s *specs.Spec) { s.Process.Args = []string{"sleep", "300"} })
	id := "exec-" + testutil.Mark(t)
	nook(t, "--root", root, "create", "--bundle", b, id)
	t.Cleanup(func() { testutil.Run(t, "--root", root, "delete", "--force", id) })
	nook(t, "--root", root, "start", id)
	dir := t.TempDir()
	proc := specs.Process{Args: []string{"sh", "-c", "echo from process file > /dev/shm/x; exec sleep 300"}, Cwd: "/", Env: []string{"PATH=/bin"}}
	pb, _ := json.Marshal(proc)
	pf := filepath.Join(dir, "process.json")
	os.WriteFile(pf, pb, 0o644)
	pidFile := filepath.Join(dir, "exec.pid")
	nook(t, "--root", root, "exec", "--process", pf, "--detach", "--pid-file", pidFile, id)
	pidText, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(string(pidText))
	var pids []int
	deadline := time.Now().Add(5 * time.Second)
	for {
		json.Unmarshal([]byte(nook(t, "--root", root, "ps", "--format", "json", id)), &pids)
		if len(pids) == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(pids) != 2 || (pids[0] != pid && pids[1] != pid) {
		t.Errorf("ps after exec --detach: %v, want the exec'd %d among 2", pids, pid)
	}
	if got := nook(t, "--root", root, "exec", id, "cat", "/dev/shm/x"); got != "from process file\n" {
		t.Errorf("exec cat: %q", got)
	}
	nook(t, "--root", root, "kill", "--all", id, "9")
	waitStatus(t, root, id, "stopped")
	nook(t, "--root", root, "delete", id)
}

// Bad input gets runc's kind of error, and leaves nothing.
func TestBadInput(t *testing.T) {
	oci(t)
	root := stateRoot(t)
	logFile := filepath.Join(t.TempDir(), "log.json")
	if errOut := nookFails(t, "--root", root, "--log", logFile, "--log-format=json", "start", "nosuch"); !strings.Contains(errOut, "does not exist") {
		t.Errorf("start of an unknown id: %s", errOut)
	}
	b, _ := os.ReadFile(logFile)
	var line struct{ Level, Msg string }
	if err := json.Unmarshal(b, &line); err != nil || line.Level != "error" || !strings.Contains(line.Msg, "does not exist") {
		t.Errorf("--log-format json: %v %q", err, b)
	}
	for name, edit := range map[string]func(dir string){
		"malformed": func(dir string) { os.WriteFile(filepath.Join(dir, "config.json"), []byte("{"), 0o644) },
		"version": func(dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
			os.WriteFile(filepath.Join(dir, "config.json"), []byte(strings.Replace(string(b), specs.Version, "2.0.0", 1)), 0o644)
		},
		"no rootfs": func(dir string) { os.Remove(filepath.Join(dir, "rootfs")) },
		"no command": func(dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
			os.WriteFile(filepath.Join(dir, "config.json"), []byte(strings.Replace(string(b), `"sleep"`, `"/nosuch"`, 1)), 0o644)
		},
	} {
		dir := bundle(t, func(s *specs.Spec) { s.Process.Args = []string{"sleep", "1"} })
		edit(dir)
		id := "bad-" + strings.ReplaceAll(name, " ", "-")
		errOut := nookFails(t, "--root", root, "create", "--bundle", dir, id)
		t.Logf("%s: %s", name, strings.TrimSpace(errOut))
		if _, err := os.Stat(filepath.Join(root, id)); err == nil {
			t.Errorf("%s: state left", name)
		}
	}
}

// features prints runc's JSON; checkpoint and restore say they are not
// supported.
func TestFeaturesAndUnsupported(t *testing.T) {
	oci(t)
	var f struct {
		OCIVersionMax string `json:"ociVersionMax"`
		Linux         struct {
			Namespaces []string `json:"namespaces"`
		} `json:"linux"`
	}
	if err := json.Unmarshal([]byte(nook(t, "features")), &f); err != nil || f.OCIVersionMax == "" || !strings.Contains(strings.Join(f.Linux.Namespaces, " "), "pid") {
		t.Errorf("features: %v %+v", err, f)
	}
	for _, c := range []string{"checkpoint", "restore"} {
		if errOut := nookFails(t, c, "x"); !strings.Contains(errOut, "not supported") {
			t.Errorf("%s: %s", c, errOut)
		}
	}
}

// Hooks run on the host at their phases with the container's state on
// stdin (createContainer and startContainer, which run in the container:
// container_hooks_test.go).
func TestHooks(t *testing.T) {
	oci(t)
	root := stateRoot(t)
	dir := t.TempDir()
	hook := func(name string) specs.Hook {
		return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "cat > " + filepath.Join(dir, name)}}
	}
	b := bundle(t, func(s *specs.Spec) {
		s.Process.Args = []string{"sleep", "300"}
		s.Hooks = &specs.Hooks{
			CreateRuntime: []specs.Hook{hook("createRuntime")},
			Poststart:     []specs.Hook{hook("poststart")},
			Poststop:      []specs.Hook{hook("poststop")},
		}
	})
	id := "hooks-" + testutil.Mark(t)
	nook(t, "--root", root, "create", "--bundle", b, id)
	t.Cleanup(func() { testutil.Run(t, "--root", root, "delete", "--force", id) })
	pid := stateOf(t, root, id).Pid
	nook(t, "--root", root, "start", id)
	nook(t, "--root", root, "delete", "--force", id)
	for name, want := range map[string]string{"createRuntime": "created", "poststart": "running", "poststop": "stopped"} {
		var st specs.State
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err == nil {
			err = json.Unmarshal(b, &st)
		}
		if err != nil || string(st.Status) != want || st.ID != id || (want != "stopped" && st.Pid != pid) {
			t.Errorf("%s hook: %v, state %s", name, err, b)
		}
	}
}

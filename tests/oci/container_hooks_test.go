package oci

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nookrun/nook/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// createContainer hooks run during create in the container's namespaces
// (its mount namespace, host name) before the pivot, so their path and
// what they write are the host's; startContainer hooks run at start,
// inside the container (its root), before the command. Both get the OCI
// state on stdin, as runc gives it: creating and created, with the pid
// the container sees.
func TestContainerHooks(t *testing.T) {
	oci(t)
	root := stateRoot(t)
	dir := t.TempDir()
	b := bundle(t, func(s *specs.Spec) {
		s.Process.Args = []string{"sleep", "300"}
		s.Hostname = "hooked"
		s.Hooks = &specs.Hooks{
			CreateContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c",
				"cat > " + dir + "/cc.json; readlink /proc/self/ns/mnt > " + dir + "/cc.mnt; hostname > " + dir + "/cc.host"}}},
			StartContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "cat > /dev/shm/sc.json; echo $HOOKVAR > /dev/shm/sc.env"},
				Env: []string{"HOOKVAR=from-spec"}}},
		}
	})
	id := "chooks-" + testutil.Mark(t)
	nook(t, "--root", root, "create", "--bundle", b, id)
	t.Cleanup(func() { testutil.Run(t, "--root", root, "delete", "--force", id) })
	pid := stateOf(t, root, id).Pid
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	var st specs.State
	if err := json.Unmarshal([]byte(read(dir+"/cc.json")), &st); err != nil || st.ID != id || st.Status != "creating" || st.Pid <= 0 || st.Bundle != b {
		t.Errorf("createContainer's state: %v %+v", err, st)
	}
	mnt, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/mnt")
	if got := read(dir + "/cc.mnt"); got != mnt {
		t.Errorf("createContainer ran in mount namespace %s, the container's is %s", got, mnt)
	}
	if got := read(dir + "/cc.host"); got != "hooked" {
		t.Errorf("createContainer's host name %q", got)
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid) + "/root/dev/shm/sc.json"); err == nil {
		t.Errorf("startContainer ran before start")
	}
	nook(t, "--root", root, "start", id)
	waitStatus(t, root, id, "running")
	inside := "/proc/" + strconv.Itoa(pid) + "/root/dev/shm/"
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(inside + "sc.env"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("startContainer did not run")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := json.Unmarshal([]byte(read(inside+"sc.json")), &st); err != nil || st.ID != id || st.Status != "created" || st.Pid <= 0 {
		t.Errorf("startContainer's state: %v %+v", err, st)
	}
	if got := read(inside + "sc.env"); got != "from-spec" {
		t.Errorf("startContainer's environment: %q", got)
	}
	nook(t, "--root", root, "delete", "--force", id)
}

// A createContainer hook that fails fails create, naming the hook, and
// leaves nothing; one that outlives its timeout is killed and fails it
// too. A startContainer hook that fails ends the container before its
// command, and start fails, as runc's does.
func TestContainerHooksFail(t *testing.T) {
	oci(t)
	root := stateRoot(t)
	one := 1
	for _, tc := range []struct {
		name string
		hook specs.Hook
		want string
	}{
		{"exit", specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "exit 3"}}, "exit status 3"},
		{"timeout", specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "sleep 30"}, Timeout: &one}, "timed out"},
		{"missing", specs.Hook{Path: "/no/such/hook"}, "exit status 127"},
	} {
		b := bundle(t, func(s *specs.Spec) {
			s.Process.Args = []string{"sleep", "300"}
			s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{tc.hook}}
		})
		id := "chf-" + tc.name + "-" + testutil.Mark(t)
		errOut := nookFails(t, "--root", root, "create", "--bundle", b, id)
		if !strings.Contains(errOut, "createContainer hook") || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: %s", tc.name, errOut)
		}
		if l := leftCgroups(id, ""); len(l) > 0 {
			t.Errorf("%s: cgroups left: %v", tc.name, l)
		}
	}

	b := bundle(t, func(s *specs.Spec) {
		s.Process.Args = []string{"sh", "-c", "touch /dev/shm/ran; exec sleep 300"}
		s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "exit 4"}}}}
	})
	id := "chf-start-" + testutil.Mark(t)
	create(t, root, b, id)
	t.Cleanup(func() { testutil.Run(t, "--root", root, "delete", "--force", id) })
	// start fails, naming the hook, whoever reaps init and however soon
	_, errOut, code := testutil.Run(t, "--root", root, "start", id)
	if code == 0 || !strings.Contains(errOut, "startContainer hook") || !strings.Contains(errOut, "exit status 4") {
		t.Errorf("start with a failing startContainer hook: exit %d, %q", code, errOut)
	}
	waitStatus(t, root, id, "stopped")
	nook(t, "--root", root, "delete", id)
}

// start says how the start went, from init itself (a FIFO whose write
// end init holds close-on-exec), not from watching init: an exec that
// fails fails start with the exec's error, and a command that ends at
// once, reaped by init's parent (the host's PID 1 here) before start
// could look at it, is a start that succeeded, with nothing on stderr.
func TestStartReportsExec(t *testing.T) {
	oci(t)
	root := stateRoot(t)
	for _, tc := range []struct {
		name string
		args []string
		fail string // what start's error says; "" for none
	}{
		// under a mount, which create leaves for the exec to find
		{"missing", []string{"/mnt/no-such-command"}, `exec "/mnt/no-such-command"`},
		{"not-executable", []string{"/etc/passwd"}, `exec "/etc/passwd"`},
		{"true", []string{"true"}, ""},
		{"exit-3", []string{"sh", "-c", "exit 3"}, ""},
	} {
		b := bundle(t, func(s *specs.Spec) {
			s.Process.Args = tc.args
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "tmpfs", Source: "tmpfs"})
		})
		id := "sr-" + tc.name + "-" + testutil.Mark(t)
		create(t, root, b, id)
		_, errOut, code := testutil.Run(t, "--root", root, "start", id)
		switch {
		case tc.fail == "" && (code != 0 || errOut != ""):
			t.Errorf("%s: start: exit %d, stderr %q; want a quiet success", tc.name, code, errOut)
		case tc.fail != "" && (code == 0 || !strings.Contains(errOut, tc.fail)):
			t.Errorf("%s: start: exit %d, stderr %q; want a failure saying %s", tc.name, code, errOut, tc.fail)
		}
		waitStatus(t, root, id, "stopped")
		nook(t, "--root", root, "delete", id)
	}
}

// A container made by a nook older than the start FIFO has none in its
// state directory: start still lets it run, without seeing how the exec
// went.
func TestStartWithoutStartFIFO(t *testing.T) {
	oci(t)
	root := stateRoot(t)
	out := filepath.Join(t.TempDir(), "ran")
	b := bundle(t, func(s *specs.Spec) {
		s.Process.Args = []string{"sh", "-c", "echo ran > /ran"}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/ran", Type: "bind", Source: out, Options: []string{"bind"}})
	})
	if err := os.WriteFile(out, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	id := "old-" + testutil.Mark(t)
	create(t, root, b, id)
	if err := os.Remove(filepath.Join(root, id, "start.fifo")); err != nil {
		t.Fatalf("the state directory has no start FIFO to remove: %v", err)
	}
	nook(t, "--root", root, "start", id)
	waitStatus(t, root, id, "stopped")
	nook(t, "--root", root, "delete", id)
	if b, _ := os.ReadFile(out); strings.TrimSpace(string(b)) != "ran" {
		t.Errorf("the command wrote %q, want ran", b)
	}
}

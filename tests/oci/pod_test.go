package oci

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nookrun/nook/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A pod as Kubernetes makes one, without Kubernetes: a first container
// holds the namespaces, a second joins its pid, ipc, uts and network
// namespaces by path (/proc/PID/ns/TYPE, as containerd's CRI gives them).
// The second is inside the first's pid namespace, its own process
// included (PID 1 there is the first's). When its init ends, what was
// exec'd into it outlives init in the shared pid namespace: kill of the
// stopped container fails with runc's "container not running", kill --all
// still reaches what is left in its cgroup (containerd's shim calls both),
// and delete removes everything.
func TestPodNamespaces(t *testing.T) {
	oci(t)
	root := stateRoot(t)
	mark := testutil.Mark(t)
	pause := "pause-" + mark
	create(t, root, bundle(t, func(s *specs.Spec) {
		s.Process.Args = []string{"sleep", "300"}
		s.Hostname = "pod"
	}), pause)
	t.Cleanup(func() { testutil.Run(t, "--root", root, "delete", "--force", pause) })
	nook(t, "--root", root, "start", pause)
	pausePid := stateOf(t, root, pause).Pid

	app := "app-" + mark
	joined := []specs.LinuxNamespaceType{specs.PIDNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.NetworkNamespace}
	create(t, root, bundle(t, func(s *specs.Spec) {
		s.Process.Args = []string{"sleep", "300"}
		s.Hostname = "" // the pod's
		var ns []specs.LinuxNamespace
		for _, n := range s.Linux.Namespaces {
			if n.Type == specs.MountNamespace {
				ns = append(ns, n)
			}
		}
		for _, typ := range joined {
			ns = append(ns, specs.LinuxNamespace{Type: typ, Path: fmt.Sprintf("/proc/%d/ns/%s", pausePid, nsFile(typ))})
		}
		s.Linux.Namespaces = ns
	}), app)
	t.Cleanup(func() { testutil.Run(t, "--root", root, "delete", "--force", app) })
	appPid := stateOf(t, root, app).Pid
	for _, typ := range joined {
		want, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pausePid, nsFile(typ)))
		got, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", appPid, nsFile(typ)))
		if want == "" || got != want {
			t.Errorf("%s namespace: the app's %q after create, the pause's %q", typ, got, want)
		}
	}
	nook(t, "--root", root, "start", app)
	waitStatus(t, root, app, "running")
	if got := nook(t, "--root", root, "exec", app, "sh", "-c", "cat /proc/1/cmdline; echo; hostname"); got != "sleep\x00300\x00\npod\n" {
		t.Errorf("in the app, PID 1 and the host name: %q, want the pause's", got)
	}

	// the same join from nook run --bundle, whose child shares nook's
	// memory and has a janitor beside it (which stays in nook's own pid
	// namespace, so that it outlives the pod's)
	if got := nook(t, "--root", root, "run", "--bundle", bundle(t, func(s *specs.Spec) {
		s.Process.Args = []string{"cat", "/proc/1/cmdline"}
		s.Hostname = ""
		s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.MountNamespace},
			{Type: specs.PIDNamespace, Path: fmt.Sprintf("/proc/%d/ns/pid", pausePid)}}
	}), "run-"+mark); got != "sleep\x00300\x00" {
		t.Errorf("nook run in the pod's pid namespace: PID 1 is %q, want the pause's", got)
	}

	// exec'd into the app, in the pod's pid namespace
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	detached(t, "--root", root, "exec", "--detach", "--pid-file", pidFile, app, "sleep", "300")
	b, _ := os.ReadFile(pidFile)
	execPid, _ := strconv.Atoi(string(b))
	nook(t, "--root", root, "kill", app, "KILL")
	waitStatus(t, root, app, "stopped")
	if errOut := nookFails(t, "--root", root, "kill", app, "TERM"); !strings.Contains(errOut, "container not running") {
		t.Errorf("kill of a stopped container: %s", errOut)
	}
	var pids []int
	if err := json.Unmarshal([]byte(nook(t, "--root", root, "ps", "--format", "json", app)), &pids); err != nil || len(pids) != 1 || pids[0] != execPid {
		t.Errorf("ps of the stopped app: %v %v, want the exec'd %d that outlived init", err, pids, execPid)
	}
	nook(t, "--root", root, "kill", "--all", app, "KILL")
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", execPid))
		if err != nil || strings.Contains(string(s), ") Z") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kill --all of the stopped app left %d running", execPid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	nook(t, "--root", root, "delete", app)
	nook(t, "--root", root, "delete", "--force", pause)
}

// create runs nook create with stdio on files: init keeps create's, and
// a pipe would stay open until the container ends.
func create(t *testing.T, root, bundle, id string) {
	t.Helper()
	detached(t, "--root", root, "create", "--bundle", bundle, id)
}

// detached runs a nook command that leaves a process behind (create, exec
// --detach) with stdio on a file, and fails the test if it fails.
func detached(t *testing.T, args ...string) {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := testutil.Command(t, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err != nil {
		b, _ := os.ReadFile(f.Name())
		t.Fatalf("nook %s: %v\n%s", testutil.Quote(args), err, b)
	}
}

// nsFile is the name of a namespace type's file in /proc/PID/ns.
func nsFile(typ specs.LinuxNamespaceType) string {
	switch typ {
	case specs.NetworkNamespace:
		return "net"
	case specs.MountNamespace:
		return "mnt"
	}
	return string(typ)
}

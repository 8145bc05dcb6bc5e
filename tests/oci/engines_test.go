package oci

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nookrun/nook/internal/testutil"
)

// need skips the test unless every tool is installed
// (scripts/install-deps.sh installs them).
func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s (scripts/install-deps.sh installs it)", tool)
		}
	}
}

// run runs a command of the test's own and returns its output; it fails
// the test on a non-zero exit.
func run(t *testing.T, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	out, err := runErr(timeout, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func runErr(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var b bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	return b.String(), err
}

// busyboxArchive builds an OCI image archive of a busybox root with
// umoci, offline, and returns its path.
func busyboxArchive(t *testing.T) string {
	t.Helper()
	need(t, "umoci")
	dir := t.TempDir()
	layout := filepath.Join(dir, "img")
	rootfs := testutil.BusyboxRootfs(t)
	run(t, time.Minute, "umoci", "init", "--layout", layout)
	run(t, time.Minute, "umoci", "new", "--image", layout+":busybox")
	run(t, time.Minute, "umoci", "insert", "--image", layout+":busybox", rootfs, "/")
	run(t, time.Minute, "umoci", "config", "--image", layout+":busybox", "--config.cmd", "/bin/sh", "--os", "linux", "--architecture", "amd64")
	archive := filepath.Join(dir, "busybox.tar")
	run(t, time.Minute, "tar", "-C", layout, "-cf", archive, ".")
	return archive
}

// containerd starts a containerd of the test's own (root, state, socket,
// and a private mount namespace so that its mounts die with it) and
// returns its socket. It is stopped, and what it left removed, when the
// test ends.
func containerd(t *testing.T, extra string) string {
	t.Helper()
	need(t, "containerd", "ctr")
	// short paths: containerd's sockets must fit in sun_path
	dir, err := os.MkdirTemp("", "ctd")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "c.sock")
	cfg := fmt.Sprintf(`version = 2
root = %q
state = %q
[grpc]
  address = %q
[ttrpc]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = %q
%s`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, filepath.Join(dir, "opt"), extra)
	cfgFile := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "containerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "containerd", "--config", cfgFile)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		killShims(t, sock)
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("containerd's log:\n%s", testutil.Trunc(string(b), 6000))
		}
		// the empty parent cgroups containerd's namespaces leave
		for _, ns := range []string{"default", "k8s.io", "nooktest"} {
			dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + ns)
			for _, d := range dirs {
				os.Remove(d)
			}
			os.Remove("/sys/fs/cgroup/unified/" + ns)
		}
		os.RemoveAll(dir)
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := runErr(5*time.Second, "ctr", "-a", sock, "version"); err == nil {
			return sock
		}
		if time.Now().After(deadline) {
			t.Fatalf("containerd did not answer on %s", sock)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// killShims kills what outlived containerd: its shims (which serve
// their containers on their own, by design) and their containers, which a
// failing test may leave. One left after a passing test is a leak.
func killShims(t *testing.T, sock string) {
	t.Helper()
	children := map[int][]int{}
	var shims []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if stat, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil {
			// the fields after the command's closing parenthesis: state, ppid
			if f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:])); len(f) > 1 {
				ppid, _ := strconv.Atoi(f[1])
				children[ppid] = append(children[ppid], pid)
			}
		}
		args, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if bytes.Contains(args, []byte("containerd-shim")) && bytes.Contains(args, []byte("\x00"+sock+"\x00")) {
			shims = append(shims, pid)
		}
	}
	var kill func(pid int)
	kill = func(pid int) {
		for _, c := range children[pid] {
			kill(c)
		}
		syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, pid := range shims {
		if !t.Failed() {
			t.Errorf("leak: containerd's shim %d (and its containers) outlived containerd", pid)
		}
		kill(pid)
	}
}

// ctr run with nook as the runc binary prints the image's output; task
// exec, kill and delete work and leave nothing (no state in nook's root,
// no cgroup).
func TestContainerd(t *testing.T) {
	oci(t)
	// a namespace of the test's own: containerd names a container's
	// cgroupsPath /NAMESPACE/ID, the same on the host for every
	// containerd, and another checkout's test may run this one now
	ns := "nooktest-" + testutil.Mark(t)
	t.Cleanup(func() { // after containerd's (registered later, run earlier)
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + ns)
		for _, d := range append(dirs, "/sys/fs/cgroup/unified/"+ns) {
			os.Remove(d) // only an empty one goes
		}
	})
	sock := containerd(t, "")
	archive := busyboxArchive(t)
	nookBin := testutil.Nook(t)
	work := t.TempDir()
	runcRoot := filepath.Join(work, "runc")
	fifos := filepath.Join(work, "fifo")
	ctr := func(args ...string) string {
		t.Helper()
		return run(t, time.Minute, "ctr", append([]string{"-a", sock, "-n", ns}, args...)...)
	}
	ctr("images", "import", "--base-name", "docker.io/library/busybox", archive)
	img := "docker.io/library/busybox:busybox"

	out := ctr("run", "--rm", "--fifo-dir", fifos, "--runc-root", runcRoot, "--runc-binary", nookBin, img, "once", "sh", "-c", "echo hello from ctr; id -u")
	if out != "hello from ctr\n0\n" {
		t.Errorf("ctr run: %q", out)
	}

	ctr("run", "-d", "--fifo-dir", fifos, "--runc-root", runcRoot, "--runc-binary", nookBin, img, "long", "sleep", "300")
	t.Cleanup(func() {
		runErr(time.Minute, "ctr", "-a", sock, "-n", ns, "task", "kill", "-s", "KILL", "long")
		runErr(time.Minute, "ctr", "-a", sock, "-n", ns, "task", "rm", "-f", "long")
		runErr(time.Minute, "ctr", "-a", sock, "-n", ns, "c", "rm", "long")
	})
	if out := ctr("task", "exec", "--fifo-dir", fifos, "--exec-id", "e1", "long", "sh", "-c", "echo exec; ps -o pid,comm"); !strings.Contains(out, "exec\n") || !strings.Contains(out, "sleep") {
		t.Errorf("task exec: %q", out)
	}
	if out, err := runErr(time.Minute, "ctr", "-a", sock, "-n", ns, "task", "exec", "--fifo-dir", fifos, "--exec-id", "e2", "long", "sh", "-c", "exit 3"); err == nil {
		t.Errorf("task exec of exit 3 succeeded: %q", out)
	}
	if out := ctr("task", "ls"); !strings.Contains(out, "RUNNING") {
		t.Errorf("task ls: %q", out)
	}
	ctr("task", "kill", "-s", "KILL", "long")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(ctr("task", "ls"), "STOPPED") {
		if time.Now().After(deadline) {
			t.Fatalf("task did not stop: %s", ctr("task", "ls"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	ctr("task", "rm", "long")
	ctr("c", "rm", "long")
	ents, _ := os.ReadDir(filepath.Join(runcRoot, ns))
	for _, e := range ents {
		if e.Name() != ".names" {
			t.Errorf("nook's state left in %s: %s", runcRoot, e.Name())
		}
	}
}

// podman (Debian's) with nook as its runtime, through conmon: run --rm,
// run -d, exec and stop, with a private store and configuration.
func TestPodman(t *testing.T) {
	oci(t)
	need(t, "podman", "conmon")
	archive := busyboxArchive(t)
	dir, err := os.MkdirTemp("", "pm")
	if err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = %q
runtime = "nook"
runtime_supports_json = ["nook"]
tmp_dir = %q
[engine.runtimes]
nook = [%q]
`, filepath.Join(dir, "events.log"), filepath.Join(dir, "tmp"), testutil.Nook(t))
	storage := fmt.Sprintf(`[storage]
driver = "overlay"
runroot = %q
graphroot = %q
`, filepath.Join(dir, "run"), filepath.Join(dir, "graph"))
	os.WriteFile(filepath.Join(dir, "containers.conf"), []byte(conf), 0o644)
	os.WriteFile(filepath.Join(dir, "storage.conf"), []byte(storage), 0o644)
	podman := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "podman", append([]string{"--tmpdir", filepath.Join(dir, "tmp")}, args...)...)
		cmd.Env = append(os.Environ(), "CONTAINERS_CONF="+filepath.Join(dir, "containers.conf"),
			"CONTAINERS_STORAGE_CONF="+filepath.Join(dir, "storage.conf"))
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := podman(args...)
		if err != nil {
			t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	t.Cleanup(func() {
		podman("rm", "-af", "-t", "0")
		podman("system", "reset", "-f")
		// what the store still has mounted (its overlay directory)
		for _, m := range testutil.MountPoints() {
			if strings.HasPrefix(m, dir+"/") {
				syscall.Unmount(m, syscall.MNT_DETACH)
			}
		}
		os.RemoveAll(dir)
		for _, d := range []string{"libpod_parent"} {
			dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + d)
			for _, d := range dirs {
				os.Remove(d)
			}
		}
	})
	must("load", "-i", archive)
	img := "localhost/busybox:latest"
	if out := must("run", "--rm", "--network", "none", img, "sh", "-c", "echo hello from podman; id -u"); out != "hello from podman\n0\n" {
		t.Errorf("podman run: %q", out)
	}
	must("run", "-d", "--name", "pm", "--network", "none", img, "sleep", "300")
	if out := must("exec", "pm", "sh", "-c", "echo exec in podman"); out != "exec in podman\n" {
		t.Errorf("podman exec: %q", out)
	}
	if out, err := podman("exec", "pm", "sh", "-c", "exit 3"); err == nil {
		t.Errorf("podman exec of exit 3 succeeded: %q", out)
	}
	must("stop", "-t", "1", "pm")
	if out := must("ps", "-a", "--format", "{{.Status}}"); !strings.Contains(out, "Exited") {
		t.Errorf("after stop: %q", out)
	}
	must("rm", "pm")
}

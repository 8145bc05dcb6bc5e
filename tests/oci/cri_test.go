package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nookrun/nook/internal/testutil"
)

// crictlPath finds crictl: on PATH, or where scripts/install-deps.sh
// builds it from the Go module proxy (sigs.k8s.io/cri-tools is no Debian
// package). It skips the test when there is none.
func crictlPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("crictl"); err == nil {
		return p
	}
	if cache, err := os.UserCacheDir(); err == nil {
		p := filepath.Join(cache, "nook-tools", "crictl")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("no crictl (scripts/install-deps.sh builds it into ~/.cache/nook-tools)")
	return ""
}

// pauseArchive builds an OCI image archive whose only file is a static
// pause program compiled from testdata/pause.c, offline: the pod sandbox
// image that containerd's CRI plugin starts first in every pod.
func pauseArchive(t *testing.T) string {
	t.Helper()
	need(t, "umoci", "gcc")
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, time.Minute, "gcc", "-static", "-Os", "-o", filepath.Join(root, "pause"), "testdata/pause.c")
	layout := filepath.Join(dir, "img")
	run(t, time.Minute, "umoci", "init", "--layout", layout)
	run(t, time.Minute, "umoci", "new", "--image", layout+":nook")
	run(t, time.Minute, "umoci", "insert", "--image", layout+":nook", root, "/")
	run(t, time.Minute, "umoci", "config", "--image", layout+":nook", "--config.entrypoint", "/pause", "--os", "linux", "--architecture", "amd64")
	archive := filepath.Join(dir, "pause.tar")
	run(t, time.Minute, "tar", "-C", layout, "-cf", archive, ".")
	return archive
}

// criEnv is a containerd of the test's own whose CRI plugin has nook as
// its only runtime handler, with the pause and busybox images imported,
// and crictl set up to talk to it.
type criEnv struct {
	t        *testing.T
	crictl   string
	cfg      string // crictl's config
	work     string
	nookRoot string // nook's --root, as the shim passes it
}

// startCRI starts it; cniBin and cniConf are the CRI plugin's CNI
// directories (empty ones: no CNI).
func startCRI(t *testing.T, cniBin, cniConf string) *criEnv {
	t.Helper()
	e := &criEnv{t: t, crictl: crictlPath(t), work: t.TempDir()}
	nookBin := testutil.Nook(t)
	pause := pauseArchive(t)
	busybox := busyboxArchive(t)
	e.nookRoot = filepath.Join(e.work, "nook")
	pauseImage := "registry.k8s.io/pause:nook"
	sock := containerd(t, fmt.Sprintf(`[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  # CRI asks for oom_score_adj -998 for the sandbox, which needs
  # CAP_SYS_RESOURCE: this host's bounding set has none
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  tolerate_missing_hugetlb_controller = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %q
    conf_dir = %q
  [plugins."io.containerd.grpc.v1.cri".containerd]
    # the only runtime here: no runc is configured, so a pod that is
    # not nook's could not start
    default_runtime_name = "nook"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nook]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nook.options]
      BinaryName = %q
      Root = %q
      SystemdCgroup = false
`, pauseImage, cniBin, cniConf, nookBin, e.nookRoot))
	ctr := func(args ...string) string {
		t.Helper()
		return run(t, time.Minute, "ctr", append([]string{"-a", sock, "-n", "k8s.io"}, args...)...)
	}
	ctr("images", "import", "--base-name", "registry.k8s.io/pause", pause)
	ctr("images", "import", "--base-name", "docker.io/library/busybox", busybox)
	e.cfg = filepath.Join(e.work, "crictl.yaml")
	if err := os.WriteFile(e.cfg, []byte(fmt.Sprintf("runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 60\n", sock, sock)), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.try("rmp", "--force", "--all") })
	return e
}

// try runs crictl.
func (e *criEnv) try(args ...string) (string, error) {
	return runErr(2*time.Minute, e.crictl, append([]string{"--config", e.cfg}, args...)...)
}

// must runs crictl and fails the test if it fails.
func (e *criEnv) must(args ...string) string {
	e.t.Helper()
	out, err := e.try(args...)
	if err != nil {
		e.t.Fatalf("crictl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

// pid returns the pid crictl's inspect or inspectp reports.
func (e *criEnv) pid(what, id string) int {
	e.t.Helper()
	var info struct {
		Info struct {
			Pid int `json:"pid"`
		} `json:"info"`
	}
	if err := json.Unmarshal([]byte(e.must(what, id)), &info); err != nil || info.Info.Pid == 0 {
		e.t.Fatalf("%s %s: pid %d, %v", what, id, info.Info.Pid, err)
	}
	return info.Info.Pid
}

// noneLeft checks that nook's root has no state left.
func (e *criEnv) noneLeft() {
	e.t.Helper()
	ents, _ := os.ReadDir(filepath.Join(e.nookRoot, "k8s.io"))
	for _, ent := range ents {
		if ent.Name() != ".names" {
			e.t.Errorf("nook's state left in %s: %s", e.nookRoot, ent.Name())
		}
	}
}

// sameNS checks that two processes share a namespace.
func sameNS(t *testing.T, ns string, a, b int) {
	t.Helper()
	want, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", a, ns))
	got, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", b, ns))
	if want == "" || got != want {
		t.Errorf("%s namespace: the container's %q, the pause process's %q", ns, got, want)
	}
}

// The Kubernetes path: crictl drives containerd's CRI plugin, which runs
// a pod with nook as its runtime handler (runtime_type
// io.containerd.runc.v2, BinaryName nook), as a kubelet with a
// RuntimeClass "nook" would. The pod's sandbox is a pause image built
// offline; a busybox container joins the pause process's ipc and pid
// namespaces by path; exec (streamed over loopback, and ExecSync as
// probes use it), stop, rm, stopp and rmp work, and nothing is left: no
// state in nook's root, no cgroup, mount or process. The pod uses the
// host's network, so no CNI plugin makes an interface.
func TestCRI(t *testing.T) {
	oci(t)
	e := startCRI(t, filepath.Join(t.TempDir(), "cni-bin"), filepath.Join(t.TempDir(), "cni"))
	work := e.work
	cri, crictlErr := e.must, e.try
	// the kubelet's part: the pod's parent cgroups are its to remove
	mark := testutil.Mark(t)
	podCgroup := "/kubepods/besteffort/pod" + mark
	t.Cleanup(func() {
		for _, dir := range []string{podCgroup, "/kubepods/besteffort", "/kubepods"} {
			for _, d := range append(cgroupDirs(dir), "/sys/fs/cgroup/unified"+dir) {
				os.Remove(d)
			}
		}
	})

	logs := filepath.Join(work, "logs")
	pod := writeJSON(t, work, "pod.json", map[string]any{
		"metadata":      map[string]any{"name": "nook-pod", "namespace": "default", "uid": "uid-" + mark, "attempt": 1},
		"log_directory": logs,
		"linux": map[string]any{
			"cgroup_parent":    podCgroup,
			"security_context": map[string]any{"namespace_options": map[string]any{"network": 2}}, // NODE
		},
	})
	ctrCfg := writeJSON(t, work, "ctr.json", map[string]any{
		"metadata": map[string]any{"name": "busy"},
		"image":    map[string]any{"image": "docker.io/library/busybox:busybox"},
		"command":  []string{"sh", "-c", "echo hello from a pod; exec sleep 300"},
		"log_path": "busy.log",
		"linux":    map[string]any{},
	})

	podID := cri("runp", "--runtime", "nook", pod)
	var podInfo struct {
		Status struct {
			State string `json:"state"`
		} `json:"status"`
		Info struct {
			Pid         int    `json:"pid"`
			RuntimeType string `json:"runtimeType"`
			RuntimeOpts struct {
				BinaryName string `json:"binary_name"`
			} `json:"runtimeOptions"`
		} `json:"info"`
	}
	if err := json.Unmarshal([]byte(cri("inspectp", podID)), &podInfo); err != nil {
		t.Fatalf("inspectp: %v", err)
	}
	if podInfo.Status.State != "SANDBOX_READY" || podInfo.Info.Pid == 0 {
		t.Fatalf("pod after runp: %+v", podInfo)
	}
	// the pause process is nook's: its state is in nook's root
	if _, err := os.Stat(filepath.Join(e.nookRoot, "k8s.io", podID)); err != nil {
		t.Errorf("the pod's sandbox is not nook's: %v", err)
	}

	ctrID := cri("create", "--no-pull", podID, ctrCfg, pod)
	cri("start", ctrID)
	var ctrInfo struct {
		Status struct {
			State string `json:"state"`
		} `json:"status"`
		Info struct {
			Pid int `json:"pid"`
		} `json:"info"`
	}
	if err := json.Unmarshal([]byte(cri("inspect", ctrID)), &ctrInfo); err != nil {
		t.Fatalf("inspect: %v", err)
	}
	if ctrInfo.Status.State != "CONTAINER_RUNNING" {
		t.Fatalf("container after start: %+v", ctrInfo)
	}
	// in the cgroup the CRI asked for (cgroupsPath: the pod's parent and
	// the container's id), whose statistics the shim reads; the pause too
	for _, c := range []struct {
		pid int
		id  string
	}{{podInfo.Info.Pid, podID}, {ctrInfo.Info.Pid, ctrID}} {
		cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", c.pid))
		want := podCgroup + "/" + c.id
		paths := cgroupPaths(string(cg))
		check := []string{"memory", "pids"}
		if _, v1 := paths["memory"]; !v1 {
			check = []string{""} // cgroup v2
		}
		for _, ctrl := range check {
			if paths[ctrl] != want {
				t.Errorf("%s's cgroup (%q hierarchy) is %q, want %s:\n%s", c.id, ctrl, paths[ctrl], want, cg)
			}
		}
	}
	// the pause process's ipc and pid namespaces, joined by path
	for _, ns := range []string{"ipc", "pid"} {
		sameNS(t, ns, podInfo.Info.Pid, ctrInfo.Info.Pid)
	}

	// PID 1 is the pod's pause (its cmdline ends in a NUL); /dev/null
	// works, though containerd's spec denies every device
	if out := cri("exec", ctrID, "sh", "-c", "echo >/dev/null && echo exec in a pod; cat /proc/1/cmdline"); out != "exec in a pod\n/pause\x00" {
		t.Errorf("exec: %q", out)
	}
	if out := cri("exec", "--sync", ctrID, "echo", "exec sync"); out != "exec sync" {
		t.Errorf("exec --sync: %q", out)
	}
	if out, err := crictlErr("exec", "--sync", ctrID, "sh", "-c", "exit 3"); err == nil {
		t.Errorf("exec of exit 3 succeeded: %q", out)
	}
	if out := cri("logs", ctrID); !strings.Contains(out, "hello from a pod") {
		t.Errorf("logs: %q", out)
	}

	cri("stop", "--timeout", "1", ctrID)
	if out := cri("ps", "-a", "-q", "--state", "exited"); out != ctrID {
		t.Errorf("after stop, exited containers: %q", out)
	}
	cri("rm", ctrID)
	cri("stopp", podID)
	cri("rmp", podID)
	if out := cri("pods", "-q"); out != "" {
		t.Errorf("pods after rmp: %q", out)
	}
	e.noneLeft()
	for _, id := range []string{podID, ctrID} {
		for _, d := range append(cgroupDirs(podCgroup+"/"+id), "/sys/fs/cgroup/unified"+podCgroup+"/"+id) {
			if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("cgroup left: %s", d)
			}
		}
	}
}

// A pod with a network of its own: containerd makes the pod's network
// namespace, a CNI plugin configures it, the pause process is started in
// it and the container joins it by path (a bind mount under containerd's
// state directory), as every pod that is not in the host's network. The
// CNI plugin is the test's own, testdata/cni-dummy: it gives the
// namespace an eth0 with a documentation address (192.0.2.2), one end of
// a veth pair whose other end stays in the namespace, so no interface
// appears on the host and no packet goes anywhere.
func TestCRIPodNetwork(t *testing.T) {
	oci(t)
	need(t, "nsenter", "ip")
	bin, conf := t.TempDir(), t.TempDir()
	// CRI loads the loopback plugin for lo besides the configured one
	for name, src := range map[string]string{"loopback": "/usr/lib/cni/loopback", "nook-dummy": "testdata/cni-dummy"} {
		if _, err := os.Stat(src); err != nil {
			t.Skipf("no %s (containernetworking-plugins)", src)
		}
		if err := testutil.CopyFile(src, filepath.Join(bin, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// before containerd starts: a file moved in later is not always seen
	writeJSON(t, conf, "10-nook.conflist", map[string]any{
		"cniVersion": "0.4.0", "name": "nook-dummy", "plugins": []any{map[string]any{"type": "nook-dummy"}},
	})
	e := startCRI(t, bin, conf)
	mark := testutil.Mark(t)
	pod := writeJSON(t, e.work, "pod.json", map[string]any{
		"metadata":      map[string]any{"name": "nook-net", "namespace": "default", "uid": "uid-" + mark, "attempt": 1},
		"hostname":      "nookpod",
		"log_directory": filepath.Join(e.work, "logs"),
	})
	ctrCfg := writeJSON(t, e.work, "ctr.json", map[string]any{
		"metadata": map[string]any{"name": "busy"},
		"image":    map[string]any{"image": "docker.io/library/busybox:busybox"},
		"command":  []string{"sleep", "300"},
		"log_path": "busy.log",
	})
	podID := e.must("runp", "--runtime", "nook", pod)
	ctrID := e.must("create", "--no-pull", podID, ctrCfg, pod)
	e.must("start", ctrID)
	podPid, ctrPid := e.pid("inspectp", podID), e.pid("inspect", ctrID)
	for _, ns := range []string{"net", "uts", "ipc", "pid"} {
		sameNS(t, ns, podPid, ctrPid)
	}
	if host, _ := os.Readlink("/proc/self/ns/net"); host != "" {
		if pod, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", podPid)); pod == host {
			t.Errorf("the pod is in the host's network namespace")
		}
	}
	out := e.must("exec", "--sync", ctrID, "sh", "-c", "hostname; ip -o -4 addr show eth0")
	if !strings.HasPrefix(out, "nookpod\n") || !strings.Contains(out, "192.0.2.2/24") {
		t.Errorf("in the pod's container, the host name and eth0: %q", out)
	}
	e.must("stop", "--timeout", "1", ctrID)
	e.must("rm", ctrID)
	e.must("stopp", podID)
	e.must("rmp", podID)
	e.noneLeft()
}

// cgroupDirs lists cgroup path's directory in each v1 hierarchy that has
// it.
func cgroupDirs(path string) []string {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + path)
	var out []string
	for _, d := range dirs {
		if !strings.HasPrefix(d, "/sys/fs/cgroup/unified/") {
			out = append(out, d)
		}
	}
	return out
}

// writeJSON writes v as dir/name and returns the path.
func writeJSON(t *testing.T, dir, name string, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// cgroupPaths maps each controller in /proc/PID/cgroup to its cgroup
// ("" is cgroup v2's).
func cgroupPaths(cg string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(cg), "\n") {
		if f := strings.SplitN(l, ":", 3); len(f) == 3 {
			for _, c := range strings.Split(f[1], ",") {
				m[c] = f[2]
			}
		}
	}
	return m
}

package oci

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nookrun/nook/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cgroupDir is where process pid is in the v1 hierarchy of controller
// (a directory under /sys/fs/cgroup/controller), or its v2 cgroup.
func cgroupDir(t *testing.T, pid int, controller string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == controller {
				return filepath.Join("/sys/fs/cgroup", controller, parts[2])
			}
		}
		if parts[1] == "" && isUnified() {
			return filepath.Join("/sys/fs/cgroup", parts[2])
		}
	}
	t.Fatalf("pid %d: no %s cgroup in\n%s", pid, controller, b)
	return ""
}

func isUnified() bool {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	return err == nil
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// running creates and starts a container running sleep.
func running(t *testing.T, root string, edit func(s *specs.Spec)) (id string, pid int) {
	t.Helper()
	b := bundle(t, func(s *specs.Spec) {
		s.Process.Args = []string{"sleep", "300"}
		if edit != nil {
			edit(s)
		}
	})
	id = "c-" + testutil.Mark(t)
	nook(t, "--root", root, "create", "--bundle", b, id)
	t.Cleanup(func() { testutil.Run(t, "--root", root, "delete", "--force", id) })
	nook(t, "--root", root, "start", id)
	return id, waitStatus(t, root, id, "running").Pid
}

// pause freezes the container (its freezer says so) and state says
// paused; a paused container takes no exec and no second pause; resume
// thaws it; kill KILL of a paused container ends it; a kill after that
// is an error.
func TestPauseResume(t *testing.T) {
	oci(t)
	root := stateRoot(t)
	id, pid := running(t, root, nil)
	frozen := func() bool {
		if isUnified() {
			return readTrim(t, filepath.Join(cgroupDir(t, pid, ""), "cgroup.freeze")) == "1"
		}
		return readTrim(t, filepath.Join(cgroupDir(t, pid, "freezer"), "freezer.state")) != "THAWED"
	}
	nook(t, "--root", root, "pause", id)
	if st := stateOf(t, root, id); st.Status != "paused" || !frozen() {
		t.Fatalf("after pause: %s, frozen %v", st.Status, frozen())
	}
	if errOut := nookFails(t, "--root", root, "pause", id); !strings.Contains(errOut, "paused") {
		t.Errorf("second pause: %s", errOut)
	}
	if errOut := nookFails(t, "--root", root, "exec", id, "true"); !strings.Contains(errOut, "paused") {
		t.Errorf("exec into a paused container: %s", errOut)
	}
	nook(t, "--root", root, "resume", id)
	if st := stateOf(t, root, id); st.Status != "running" || frozen() {
		t.Fatalf("after resume: %s, frozen %v", st.Status, frozen())
	}
	if errOut := nookFails(t, "--root", root, "resume", id); !strings.Contains(errOut, "running") {
		t.Errorf("resume of a running container: %s", errOut)
	}
	nook(t, "--root", root, "pause", id)
	nook(t, "--root", root, "kill", id, "KILL")
	waitStatus(t, root, id, "stopped")
	// the runtime spec wants an error
	nookFails(t, "--root", root, "kill", id, "KILL")
	nook(t, "--root", root, "delete", id)
	if errOut := nookFails(t, "--root", root, "pause", id); !strings.Contains(errOut, "does not exist") {
		t.Errorf("pause of a deleted container: %s", errOut)
	}
}

// update changes limits in place, from runc's flags and from
// --resources on stdin; flags for limits nook has not are refused by
// name. events --stats reports the usage and the new limits in runc's
// JSON.
func TestUpdateEvents(t *testing.T) {
	oci(t)
	root := stateRoot(t)
	id, pid := running(t, root, func(s *specs.Spec) {
		limit, pids := int64(64<<20), int64(50)
		s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}, Pids: &specs.LinuxPids{Limit: &pids}}
	})
	nook(t, "--root", root, "update", "--memory", "128m", "--pids-limit", "20", id)
	if isUnified() {
		dir := cgroupDir(t, pid, "")
		if m, p := readTrim(t, dir+"/memory.max"), readTrim(t, dir+"/pids.max"); m != "134217728" || p != "20" {
			t.Errorf("after update: memory.max %s, pids.max %s", m, p)
		}
	} else {
		if m := readTrim(t, cgroupDir(t, pid, "memory")+"/memory.limit_in_bytes"); m != "134217728" {
			t.Errorf("after update: memory.limit_in_bytes %s", m)
		}
		if p := readTrim(t, cgroupDir(t, pid, "pids")+"/pids.max"); p != "20" {
			t.Errorf("after update: pids.max %s", p)
		}
	}
	cmd := testutil.Command(t, "--root", root, "update", "--resources", "-", id)
	cmd.Stdin = strings.NewReader(`{"pids":{"limit":30},"cpu":{"shares":512}}`)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("update --resources -: %v\n%s", err, out)
	}
	if !isUnified() {
		if s := readTrim(t, cgroupDir(t, pid, "cpu")+"/cpu.shares"); s != "512" {
			t.Errorf("cpu.shares %s", s)
		}
	}
	if errOut := nookFails(t, "--root", root, "update", "--blkio-weight", "10", id); !strings.Contains(errOut, "--blkio-weight") {
		t.Errorf("update --blkio-weight: %s", errOut)
	}
	if errOut := nookFails(t, "--root", root, "update", "--memory", "lots", id); !strings.Contains(errOut, "--memory") {
		t.Errorf("update --memory lots: %s", errOut)
	}

	var ev struct {
		Type string `json:"type"`
		ID   string `json:"id"`
		Data struct {
			CPU struct {
				Usage struct{ Total uint64 } `json:"usage"`
			} `json:"cpu"`
			Memory struct {
				Usage struct{ Limit, Usage uint64 } `json:"usage"`
			} `json:"memory"`
			Pids struct{ Current, Limit uint64 } `json:"pids"`
		} `json:"data"`
	}
	out := nook(t, "--root", root, "events", "--stats", id)
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		t.Fatalf("events --stats: %v\n%s", err, out)
	}
	if ev.Type != "stats" || ev.ID != id || ev.Data.Memory.Usage.Limit != 128<<20 || ev.Data.Memory.Usage.Usage == 0 ||
		ev.Data.Pids.Limit != 30 || ev.Data.Pids.Current == 0 || ev.Data.CPU.Usage.Total == 0 {
		t.Errorf("events --stats: %+v\n%s", ev, out)
	}

	// events follows until the container stops
	ec := testutil.Command(t, "--root", root, "events", "--interval", "100ms", id)
	stdout, err := ec.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := ec.Start(); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(stdout)
	for i := 0; i < 2; i++ {
		if err := dec.Decode(&ev); err != nil || ev.Type != "stats" {
			t.Fatalf("event %d: %v %+v", i, err, ev)
		}
	}
	nook(t, "--root", root, "kill", id, "KILL")
	done := make(chan error, 1)
	go func() { done <- ec.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("events after the container stopped: %v", err)
		}
	case <-time.After(10 * time.Second):
		ec.Process.Kill()
		t.Errorf("events did not end when the container stopped")
	}
}

// An OOM kill in the container is an "oom" event.
func TestEventsOOM(t *testing.T) {
	oci(t)
	root := stateRoot(t)
	id, _ := running(t, root, func(s *specs.Spec) {
		limit := int64(16 << 20)
		s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit, Swap: &limit}}
	})
	ec := testutil.Command(t, "--root", root, "events", "--interval", "10s", id)
	stdout, err := ec.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := ec.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ec.Process.Kill(); ec.Wait() })
	dec := json.NewDecoder(stdout)
	var ev struct{ Type, ID string }
	if err := dec.Decode(&ev); err != nil || ev.Type != "stats" {
		t.Fatalf("first event: %v %+v", err, ev)
	}
	// a hog the OOM killer ends: 64 MiB in a shell variable
	hog := exec.Command(testutil.Nook(t), "--root", root, "exec", id, "sh", "-c", `x=$(head -c 67108864 /dev/zero | tr '\0' a); echo ${#x}`)
	hog.Env = append(os.Environ(), testutil.MarkEnv(t))
	hog.Run()
	got := make(chan string, 1)
	go func() {
		for dec.Decode(&ev) == nil {
			if ev.Type == "oom" {
				got <- ev.ID
				return
			}
		}
		close(got)
	}()
	select {
	case gid := <-got:
		if gid != id {
			t.Errorf("oom event for %q, want %q", gid, id)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("no oom event")
	}
}

// linux.cgroupsPath places the container's cgroup as runc does: an
// absolute path below each hierarchy's root, the parents it lacked made
// for it and removed by delete, one that existed left alone; systemd's
// slice:prefix:name form is refused with nothing left behind.
func TestCgroupsPath(t *testing.T) {
	oci(t)
	root := stateRoot(t)
	mark := testutil.Mark(t)
	owner := "/sys/fs/cgroup/pids/owner-" + mark
	if isUnified() {
		owner = "/sys/fs/cgroup/owner-" + mark
	}
	if err := os.Mkdir(owner, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(owner) })
	path := "/owner-" + mark + "/pod-" + mark + "/ctr"
	id, pid := running(t, root, func(s *specs.Spec) { s.Linux.CgroupsPath = path })
	for _, c := range []string{"pids", "memory", "freezer"} {
		if isUnified() {
			c = ""
		}
		if got := cgroupDir(t, pid, c); !strings.HasSuffix(got, path) {
			t.Errorf("%s cgroup %s, want .../%s", c, got, path)
		}
	}
	nook(t, "--root", root, "pause", id)
	nook(t, "--root", root, "resume", id)
	nook(t, "--root", root, "delete", "--force", id)
	if _, err := os.Stat(owner); err != nil {
		t.Errorf("another owner's cgroup %s was removed: %v", owner, err)
	}
	if ents, _ := os.ReadDir(owner); func() bool {
		for _, e := range ents {
			if e.IsDir() {
				return true
			}
		}
		return false
	}() {
		t.Errorf("left below %s: %v", owner, ents)
	}
	if m, _ := filepath.Glob("/sys/fs/cgroup/*/owner-" + mark); !isUnified() && len(m) != 1 {
		t.Errorf("parents left: %v", m)
	}

	b := bundle(t, func(s *specs.Spec) { s.Linux.CgroupsPath = "system.slice:nook:" + mark })
	errOut := nookFails(t, "--root", root, "create", "--bundle", b, "sd-"+mark)
	if !strings.Contains(errOut, "systemd") || !strings.Contains(errOut, "cgroupsPath") {
		t.Errorf("systemd form: %s", errOut)
	}
}

package limits

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nookrun/nook/cgroups"
	"github.com/nookrun/nook/internal/testutil"
	"github.com/nookrun/nook/verdict"
)

// delegate makes a cgroup v2 subtree for u as systemd's Delegate=yes does
// for a user's service manager: a directory D owned by the user, with its
// cgroup.procs, cgroup.subtree_control and cgroup.threads, the controllers
// nook needs available in it, and a leaf below it, also the user's, for
// the user's processes (D itself must hold none to pass controllers on).
// It returns an open descriptor of the leaf, for CLONE_INTO_CGROUP, and
// removes everything when the test ends.
func delegate(t *testing.T, u *testutil.User) *os.File {
	t.Helper()
	root := cgroups.Root
	sub, err := os.ReadFile(filepath.Join(root, "cgroup.subtree_control"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"memory", "pids", "cpu"} {
		if !strings.Contains(" "+strings.TrimSpace(string(sub))+" ", " "+c+" ") {
			if err := os.WriteFile(filepath.Join(root, "cgroup.subtree_control"), []byte("+"+c), 0); err != nil {
				t.Skipf("cannot enable the %s controller at the root: %v", c, err)
			}
		}
	}
	b := make([]byte, 4)
	rand.Read(b)
	d := filepath.Join(root, "delegated-"+hex.EncodeToString(b))
	leaf := filepath.Join(d, "session")
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// what nook left (the shared parent D/nook, at least), then ours
		ents, _ := filepath.Glob(filepath.Join(d, "nook", "*"))
		for _, e := range ents {
			if fi, err := os.Stat(e); err == nil && fi.IsDir() {
				t.Errorf("left behind: %s", e)
				os.Remove(e)
			}
		}
		for _, p := range []string{filepath.Join(d, "nook"), leaf, d} {
			if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
				t.Errorf("remove %s: %v", p, err)
			}
		}
	})
	if err := os.Mkdir(leaf, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{d, d + "/cgroup.procs", d + "/cgroup.subtree_control", d + "/cgroup.threads",
		leaf, leaf + "/cgroup.procs", leaf + "/cgroup.subtree_control", leaf + "/cgroup.threads"} {
		if err := os.Chown(p, int(u.UID), int(u.GID)); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(leaf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// judgeAs runs nook as u with --verdict -, in the cgroup cg (nil: the
// test's own), and returns the verdict, nook's exit status and stderr.
func judgeAs(t *testing.T, u *testutil.User, cg *os.File, flags []string, script string) (*verdict.Verdict, int, string) {
	t.Helper()
	root := testutil.BusyboxRootfs(t)
	args := append([]string{"run", "--rootfs", root, "--verdict", "-"}, flags...)
	args = append(args, "--", "/bin/sh", "-c", script)
	cmd := testutil.Command(t, args...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: u.Credential()}
	if cg != nil {
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = int(cg.Fd())
	}
	stdout, stderr, code := testutil.RunCmd(t, cmd)
	if strings.TrimSpace(stdout) == "" {
		return nil, code, stderr
	}
	var v verdict.Verdict
	if err := json.Unmarshal([]byte(stdout), &v); err != nil {
		t.Fatalf("verdict is not JSON: %v\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	return &v, code, stderr
}

// TestRootlessLimits: where a cgroup v2 subtree is delegated to a user,
// `nook run --memory 64m --pids 20 --verdict -` works for that user
// without root, with the verdicts root gets.
//
// Not in parallel: useradd and userdel rewrite /etc/passwd and
// /etc/shadow.
func TestRootlessLimits(t *testing.T) {
	testutil.RequireRoot(t)
	if m := cgroups.DetectMode(); m != cgroups.Unified {
		t.Skipf("needs pure cgroup v2, and this host's cgroups are %s (make test-vm runs this in its v2 mode)", m)
	}
	testutil.CheckNoLeaks(t)
	u := testutil.CreateUser(t)
	cg := delegate(t, u)
	limits := []string{"--memory", "64m", "--pids", "20"}

	t.Run("OK", func(t *testing.T) {
		v, code, stderr := judgeAs(t, u, cg, limits, "echo hello >/dev/null")
		if v == nil || v.Status != "OK" || code != 0 {
			t.Fatalf("verdict %+v, exit %d; want OK, 0\nstderr:\n%s", v, code, stderr)
		}
		if v.PidsPeak == nil || *v.PidsPeak < 1 {
			t.Errorf("pids_peak %v: the cgroup's account was not read", v.PidsPeak)
		}
	})
	t.Run("ML", func(t *testing.T) {
		v, code, stderr := judgeAs(t, u, cg, limits, `x=$(head -c 200000000 /dev/zero | tr "\0" a); echo survived`)
		if v == nil || v.Status != "ML" || !v.OOMKilled || code != 137 {
			t.Fatalf("verdict %+v, exit %d; want ML, oom_killed, 137\nstderr:\n%s", v, code, stderr)
		}
	})
	t.Run("pids", func(t *testing.T) {
		v, _, stderr := judgeAs(t, u, cg, append(limits, "--wall-time-limit", "20s"),
			`n=0; while [ $n -lt 100 ]; do sleep 3 & n=$((n+1)); done 2>/dev/null; wait`)
		if v == nil || v.Status == "TO" || v.Status == "XX" {
			t.Fatalf("verdict %+v: the bomb was not stopped by the pids limit\nstderr:\n%s", v, stderr)
		}
		if v.PidsPeak == nil || *v.PidsPeak > 20 {
			t.Errorf("pids_peak %v, want at most the limit of 20", v.PidsPeak)
		}
	})
}

// TestRootlessLimitsWithoutDelegation: where nothing is delegated (the
// test's own cgroup is root's, or the host has cgroup v1), the error says
// what to delegate, and nothing is made.
func TestRootlessLimitsWithoutDelegation(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckNoLeaks(t)
	u := testutil.CreateUser(t)
	v, code, stderr := judgeAs(t, u, nil, []string{"--memory", "64m", "--pids", "20"}, "true")
	if code != 125 || !strings.Contains(stderr, "delegate") {
		t.Errorf("exit %d, want 125 and an error that says what to delegate\nstderr:\n%s", code, stderr)
	}
	t.Logf("nook said: %s", strings.TrimSpace(stderr))
	if v != nil && v.Status != "XX" {
		t.Errorf("verdict %+v, want XX", v)
	}
}

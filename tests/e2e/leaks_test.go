package e2e

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nookrun/nook/internal/testutil"
)

// Every test checks for leaks when it ends (e2e calls CheckNoLeaks); these
// tests end a sandbox in the ways that could leave something behind, and
// run alone, so that an empty cgroup or a net namespace left on the host
// can only be theirs.

func TestNoLeakAfterNormalExit(t *testing.T) {
	e2eAlone(t)
	nook(t, "run", "--", "true")
	root := testutil.BusyboxRootfs(t)
	nook(t, "run", "--rootfs", root, "--tmpfs", "/scratch", "--bind", t.TempDir()+":/data", "--", "true")
}

func TestNoLeakAfterCommandIsKilled(t *testing.T) {
	e2eAlone(t)
	nookFails(t, 137, sh("kill -9 $$")...)
	nookFails(t, 137, sh("sleep 100 & kill -9 $$")...)
}

// markedProcesses waits up to testutil.LeakWait for the test's processes to
// be gone and returns those that are not.
func markedProcesses(t *testing.T) []string {
	var left []string
	for deadline := time.Now().Add(testutil.Slack(testutil.LeakWait)); ; {
		left = left[:0]
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			env, _ := os.ReadFile("/proc/" + e.Name() + "/environ")
			if strings.Contains(string(env), "\x00"+testutil.MarkEnv(t)+"\x00") || strings.HasPrefix(string(env), testutil.MarkEnv(t)+"\x00") {
				comm, _ := os.ReadFile("/proc/" + e.Name() + "/comm")
				left = append(left, strconv.Itoa(pid)+" "+strings.TrimSpace(string(comm)))
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestNoLeakAfterNookIsKilled(t *testing.T) {
	testutil.RequireRoot(t)
	for _, c := range []struct {
		name  string
		flags []string
	}{
		{"init", nil},
		{"no-init", []string{"--no-init"}},
		{"rootfs", []string{"--rootfs", ""}},
		// no pid namespace to take the processes along: the janitor
		// finds them by their cgroup
		{"shared pid namespace", []string{"--share", "pid"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e2eAlone(t)
			flags := c.flags
			if c.name == "rootfs" {
				flags = []string{"--rootfs", testutil.BusyboxRootfs(t)}
			}
			// a second process besides the command, which is not PID 1's
			// direct concern
			r := testutil.Start(t, testutil.Command(t, sh("sleep 100 & echo ready; sleep 100", flags...)...), "ready")
			r.Signal(syscall.SIGKILL)
			if _, _, code := r.Wait(10 * time.Second); code != -1 {
				t.Fatalf("nook survived SIGKILL (exit status %d)", code)
			}
			if left := markedProcesses(t); len(left) > 0 {
				t.Errorf("%v after SIGKILL to nook, these are still running: %v", testutil.Slack(testutil.LeakWait), left)
			}
		})
	}
}

package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nookrun/nook/internal/testutil"
)

func TestInitReapsOrphans(t *testing.T) {
	e2e(t)
	// the subshell exits at once; its sleep is orphaned to PID 1 and
	// exits while the command still runs
	out := nook(t, sh(`(sleep 0.1 &)
		i=0
		while [ $i -lt 100 ] && ps -e -o args= | grep -qx "sleep 0.1"; do sleep 0.05; i=$((i+1)); done
		sleep 0.2
		ps -e -o stat=,pid=,args=`)...)
	for _, l := range testutil.Lines(out) {
		if f := strings.Fields(l); len(f) == 4 && f[2] == "sleep" && f[3] == "0.1" {
			t.Fatalf("the orphan never ended:\n%s", out)
		}
	}
	for _, l := range testutil.Lines(out) {
		if strings.HasPrefix(l, "Z") {
			t.Errorf("a zombie is left in the sandbox: %s\nps:\n%s", l, out)
		}
	}
}

func TestSignalsToNookReachTheCommand(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2} {
		name := strings.TrimPrefix(sigName(sig), "SIG")
		t.Run(name, func(t *testing.T) {
			e2e(t)
			for _, init := range []bool{true, false} {
				var flags []string
				if !init {
					flags = []string{"--no-init"}
				}
				script := `trap 'echo got ` + name + `; exit 7' ` + name + `
					echo ready
					while :; do sleep 0.05; done`
				r := testutil.Start(t, testutil.Command(t, sh(script, flags...)...), "ready")
				r.Signal(sig)
				out, stderr, code := r.Wait(10 * time.Second)
				if !testutil.HasLine(out, "got "+name) || code != 7 {
					t.Errorf("nook run %v: SIG%s to nook: exit status %d, stdout %q, stderr %q; want the command's trap to print \"got %s\" and nook to exit 7",
						flags, name, code, out, stderr, name)
				}
			}
		})
	}
}

func sigName(s syscall.Signal) string {
	return map[syscall.Signal]string{syscall.SIGTERM: "SIGTERM", syscall.SIGINT: "SIGINT", syscall.SIGHUP: "SIGHUP",
		syscall.SIGQUIT: "SIGQUIT", syscall.SIGUSR1: "SIGUSR1", syscall.SIGUSR2: "SIGUSR2"}[s]
}

func TestExitStatusIsTheCommands(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	for _, c := range []struct {
		name   string
		args   []string
		status int
	}{
		{"exit 0", sh("exit 0"), 0},
		{"exit 3", sh("exit 3"), 3},
		{"exit 255", sh("exit 255"), 255},
		{"no-init exit 3", sh("exit 3", "--no-init"), 3},
		{"killed by SIGKILL", sh("kill -KILL $$"), 128 + 9},
		{"killed by SIGTERM", sh("kill -TERM $$"), 128 + 15},
		{"killed by SIGSEGV", sh("kill -SEGV $$"), 128 + 11},
		{"exit 137 is not a signal", sh("exit 137"), 137},
	} {
		t.Run(c.name, func(t *testing.T) {
			e2e(t)
			nookFails(t, c.status, c.args...)
		})
	}
}

func TestCommandNotFoundIs127(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	for _, c := range []struct {
		name  string
		flags []string
		cmd   string
	}{
		{"init", nil, "nosuchcmd"},
		{"no-init", []string{"--no-init"}, "nosuchcmd"},
		{"absolute path", nil, "/no/such/cmd"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e2e(t)
			args := append(append([]string{"run"}, c.flags...), "--", c.cmd)
			_, stderr := nookFails(t, 127, args...)
			if want := `exec "` + c.cmd + `": executable file not found`; !strings.Contains(stderr, want) {
				t.Errorf("stderr %q does not say %q", stderr, want)
			}
		})
	}
}

func TestCommandNotExecutableIs126(t *testing.T) {
	e2e(t)
	_, stderr := nookFails(t, 126, "run", "--", "/etc/passwd")
	if !strings.Contains(stderr, `exec "/etc/passwd"`) {
		t.Errorf("stderr %q does not name the command", stderr)
	}
}

func TestRootfsWithoutTheCommandIs127(t *testing.T) {
	e2e(t)
	root := testutil.BusyboxRootfs(t)
	// bash is on the host but not in the busybox rootfs
	_, stderr := nookFails(t, 127, "run", "--rootfs", root, "--", "bash", "-c", "true")
	if !strings.Contains(stderr, `exec "bash": executable file not found`) {
		t.Errorf("stderr %q", stderr)
	}
}

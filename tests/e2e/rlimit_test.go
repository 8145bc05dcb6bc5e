package e2e

import (
	"strconv"
	"strings"
	"testing"

	"github.com/nookrun/nook/internal/testutil"
)

// A sandbox's processes start with their caller's limit on open files, as
// bubblewrap's, nsenter's and runc's do, not with the one Go's runtime
// raised for nook itself (its soft limit to one below the hard): nook run,
// nook exec (Go's and the one replayed before Go) and nook enter.
func TestSandboxKeepsTheCallersOpenFilesLimit(t *testing.T) {
	e2e(t)
	root := lifeRoot(t)
	// nook as a shell starts it, with a soft limit of 1000
	limited := func(args ...string) string {
		t.Helper()
		cmd := testutil.Command(t, args...)
		cmd.Args = append([]string{"sh", "-c", `ulimit -Sn 1000 && exec "$0" "$@"`, cmd.Path}, args...)
		cmd.Path = "/bin/sh"
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("nook %s: %v", testutil.Quote(args), err)
		}
		return strings.TrimSpace(string(out))
	}
	softLimit := []string{"sh", "-c", "ulimit -Sn"}
	if got := limited(append([]string{"--root", root, "run", "--"}, softLimit...)...); got != "1000" {
		t.Errorf("nook run: soft limit on open files %s, want the caller's 1000", got)
	}
	limited("--root", root, "run", "-d", "--name", "nofile", "--", "sleep", "300")
	for _, how := range []string{"Go's", "before Go"} {
		if got := limited(append([]string{"--root", root, "exec", "nofile"}, softLimit...)...); got != "1000" {
			t.Errorf("nook exec (%s): soft limit on open files %s, want the caller's 1000", how, got)
		}
	}
	pid := strconv.Itoa(inspect(t, root, "nofile").Init.Pid)
	if got := limited(append([]string{"enter", "-t", pid, "-a", "--"}, softLimit...)...); got != "1000" {
		t.Errorf("nook enter: soft limit on open files %s, want the caller's 1000", got)
	}
	nook(t, "--root", root, "rm", "-f", "nofile")
}

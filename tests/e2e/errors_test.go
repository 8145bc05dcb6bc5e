package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nookrun/nook/internal/testutil"
)

// A mistake on the command line fails before anything starts, with a
// message that names the flag, and never with a Go panic.
func TestBadFlagsAreReportedByName(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	for _, c := range []struct {
		flags []string
		names string // what the message must contain
	}{
		{[]string{"--rootfs", "/nonexistent"}, "--rootfs"},
		{[]string{"--rootfs", "/etc/passwd"}, "--rootfs"},
		{[]string{"--unshare", "user", "--uid-map", "0:0"}, "--uid-map"},
		{[]string{"--unshare", "user", "--uid-map", "a:b:c"}, "--uid-map"},
		{[]string{"--unshare", "user", "--uid-map", "0:0:0"}, "--uid-map"},
		{[]string{"--unshare", "user", "--uid-map", "0:0:99999999999"}, "--uid-map"},
		{[]string{"--unshare", "user", "--gid-map", "0:-1:1"}, "--gid-map"},
		{[]string{"--uid-map", "0:0:1"}, "--uid-map"}, // no user namespace
		{[]string{"--unshare", "time", "--time-offset", "boottime"}, "--time-offset"},
		{[]string{"--unshare", "time", "--time-offset", "uptime=5"}, "--time-offset"},
		{[]string{"--unshare", "time", "--time-offset", "monotonic=soon"}, "--time-offset"},
		{[]string{"--time-offset", "boottime=5"}, "--time-offset"}, // no time namespace
		{[]string{"--bind", "onlyone"}, "--bind"},
		{[]string{"--bind", "/tmp:"}, "--bind"},
		{[]string{"--bind", "/tmp:/x:rx"}, "--bind"},
		{[]string{"--bind", "/tmp:/x:ro:extra"}, "--bind"},
		{[]string{"--bind", "/nonexistent:/x"}, "--bind"},
		{[]string{"--bind", "/tmp:relative"}, "--bind"},
		{[]string{"--tmpfs", "/x:size=huge"}, "--tmpfs"},
		{[]string{"--tmpfs", "/x:size=-1m"}, "--tmpfs"},
		{[]string{"--tmpfs", "/x:size=99999999999t"}, "--tmpfs"},
		{[]string{"--tmpfs", "/x:mode=0700"}, "--tmpfs"},
		{[]string{"--tmpfs", ":size=1m"}, "--tmpfs"},
		{[]string{"--tmpfs", "relative"}, "--tmpfs"},
		{[]string{"--share", "bogus"}, "--share"},
		{[]string{"--unshare", "bogus"}, "--unshare"},
		{[]string{"--user", "root"}, "--user"},
		{[]string{"--user", "1000:staff"}, "--user"},
		{[]string{"--env", "NOEQUALS"}, "--env"},
		{[]string{"--workdir", "relative/dir"}, "--workdir"},
		{[]string{"--share", "uts", "--domainname", "x"}, "--domainname"},
		{[]string{"--no-such-flag"}, "--no-such-flag"},
	} {
		t.Run(strings.Join(c.flags, " "), func(t *testing.T) {
			e2e(t)
			args := append(append([]string{"run"}, c.flags...), "--", "true")
			out, stderr, code := testutil.Run(t, args...)
			if code == 0 || code == -1 {
				t.Errorf("nook %s: exit status %d, want a failure", testutil.Quote(args), code)
			}
			if !strings.Contains(stderr, c.names) {
				t.Errorf("nook %s: stderr %q does not name %s", testutil.Quote(args), stderr, c.names)
			}
			if out != "" {
				t.Errorf("nook %s: the command ran: stdout %q", testutil.Quote(args), out)
			}
			noPanic(t, stderr)
		})
	}
}

func TestNoCommandIsAnError(t *testing.T) {
	e2e(t)
	_, stderr, code := testutil.Run(t, "run")
	if code == 0 {
		t.Errorf("nook run without a command: exit status 0")
	}
	noPanic(t, stderr)
}

// A step that fails inside the sandbox names its operation and its paths,
// nook exits 125, and nothing is left behind.
func TestFailedStepNamesItsPaths(t *testing.T) {
	e2e(t)
	bundle := t.TempDir()
	cfg := map[string]any{
		"ociVersion": "1.0.2",
		"process":    map[string]any{"args": []string{"/bin/true"}, "cwd": "/"},
		"root":       map[string]any{"path": testutil.BusyboxRootfs(t)},
		"mounts": []map[string]any{
			{"destination": "/proc", "type": "proc", "source": "proc"},
			{"destination": "/x", "type": "no-such-fs", "source": "none"},
		},
		"linux": map[string]any{"namespaces": []map[string]string{{"type": "mount"}, {"type": "pid"}}},
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr := nookFails(t, 125, "run", "--bundle", bundle, "failed-step-"+testutil.Mark(t))
	if want := "mount no-such-fs none on /x: no such device"; !strings.Contains(stderr, want) {
		t.Errorf("stderr %q, want it to contain %q", stderr, want)
	}
	noPanic(t, stderr)
}

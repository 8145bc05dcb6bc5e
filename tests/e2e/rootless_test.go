package e2e

import (
	"archive/tar"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/nookrun/nook/internal/testutil"
)

// nookAs runs nook as u and returns its stdout, failing unless it exits 0.
func nookAs(t *testing.T, u *testutil.User, args ...string) string {
	t.Helper()
	cmd := testutil.Command(t, args...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: u.Credential()}
	out, stderr, code := testutil.RunCmd(t, cmd)
	if code != 0 {
		t.Fatalf("as %s (uid %d): nook %s: exit status %d\nstdout:\n%s\nstderr:\n%s", u.Name, u.UID, testutil.Quote(args), code, out, stderr)
	}
	return out
}

// Run by an unprivileged user, nook maps that user to root in a user
// namespace of its own.
//
// Not in parallel with the other tests: useradd and userdel rewrite
// /etc/shadow, which every sandbox's host view masks as it starts.
func TestRootless(t *testing.T) {
	testutil.RequireRoot(t)
	u := testutil.CreateUser(t)
	// a user in a shared group (users, GID 100), so with a group ID that is
	// not its user ID: its subordinate groups are still listed under its
	// name in /etc/subgid
	var shared *testutil.User
	if _, err := user.LookupGroup("users"); err == nil {
		shared = testutil.CreateUserInGroup(t, "users")
	}

	t.Run("host view", func(t *testing.T) {
		e2e(t)
		if got := strings.TrimSpace(nookAs(t, u, "run", "--", "id", "-u")); got != "0" {
			t.Errorf("id -u inside = %q, want 0", got)
		}
	})
	t.Run("uid_map", func(t *testing.T) {
		e2e(t)
		out := nookAs(t, u, "run", "--", "cat", "/proc/self/uid_map")
		lines := testutil.Lines(out)
		want := []string{"0", strconv.Itoa(int(u.UID)), "1"}
		if len(lines) == 0 || strings.Join(strings.Fields(lines[0]), " ") != strings.Join(want, " ") {
			t.Errorf("/proc/self/uid_map inside:\n%s\nwant its first line to map 0 to %d, size 1", out, u.UID)
		}
	})
	t.Run("a primary group that is not the user's own", func(t *testing.T) {
		e2e(t)
		if shared == nil {
			t.Skip("no group named users")
		}
		if shared.GID == shared.UID {
			t.Skipf("%s got group ID %d, its user ID", shared.Name, shared.GID)
		}
		out := nookAs(t, shared, "run", "--", "sh", "-c", "id -u; id -g; head -1 /proc/self/gid_map")
		want := fmt.Sprintf("0 0 0 %d 1", shared.GID)
		if got := strings.Join(strings.Fields(out), " "); got != want {
			t.Errorf("as %s (uid %d, gid %d): id -u, id -g and the group map's first line = %q, want %q", shared.Name, shared.UID, shared.GID, got, want)
		}
	})
	t.Run("busybox rootfs", func(t *testing.T) {
		e2e(t)
		root := testutil.BusyboxRootfs(t)
		out := nookAs(t, u, "run", "--rootfs", root, "--", "sh", "-c", "id -u; ls /bin/busybox")
		if got := testutil.Lines(out); len(got) != 2 || got[0] != "0" || got[1] != "/bin/busybox" {
			t.Errorf("--rootfs as %s: got %q, want 0 and /bin/busybox", u.Name, got)
		}
	})
	t.Run("no-pivot", func(t *testing.T) {
		// the host's proc and sys are locked in the user namespace:
		// covered, not detached
		e2e(t)
		if got := strings.TrimSpace(nookAs(t, u, "run", "--no-pivot", "--", "id", "-u")); got != "0" {
			t.Errorf("--no-pivot: id -u inside = %q, want 0", got)
		}
	})
	t.Run("namespaces", func(t *testing.T) {
		e2e(t)
		out := nookAs(t, u, "run", "--", "sh", "-c", "hostname; echo $$")
		if got := testutil.Lines(out); len(got) != 2 || got[0] != "nook" || got[1] != "2" {
			t.Errorf("as %s: hostname, $$ = %q, want nook, 2", u.Name, got)
		}
	})
	t.Run("detached, exec and enter", func(t *testing.T) {
		e2e(t)
		// a state directory of the user's own
		dir := filepath.Join(t.TempDir(), "state")
		os.Chmod(filepath.Dir(dir), 0o755)
		os.Chmod(filepath.Dir(filepath.Dir(dir)), 0o755)
		os.Mkdir(dir, 0o700)
		os.Chown(dir, int(u.UID), int(u.GID))
		t.Cleanup(func() { testutil.Run(t, "--root", dir, "rm", "-f", "r") })
		nookAs(t, u, "--root", dir, "run", "-d", "--name", "r", "--hostname", "rl", "--", "sleep", "300")
		out := nookAs(t, u, "--root", dir, "exec", "r", "--", "sh", "-c", "id -u; hostname; cat /proc/self/uid_map")
		if l := testutil.Lines(out); len(l) < 3 || l[0] != "0" || l[1] != "rl" || strings.Fields(l[2])[1] != strconv.Itoa(int(u.UID)) {
			t.Errorf("exec as %s:\n%s", u.Name, out)
		}
		if h := strings.TrimSpace(nookAs(t, u, "--root", dir, "enter", "--sandbox", "r", "-a", "--", "hostname")); h != "rl" {
			t.Errorf("enter --sandbox -a as %s: %q", u.Name, h)
		}
		nookAs(t, u, "--root", dir, "rm", "-f", "r")
	})
	t.Run("image", func(t *testing.T) {
		e2e(t)
		lower := testutil.TarDir(t, testutil.BusyboxRootfs(t))
		top := testutil.Tar(t,
			testutil.TarEntry{Name: "etc/.wh.group"},
			testutil.TarEntry{Name: "d/", Type: tar.TypeDir},
			testutil.TarEntry{Name: "d/.wh..wh..opq"},
			testutil.TarEntry{Name: "d/new", Body: "y"})
		img := testutil.Image(t, v1.Config{Env: []string{"PATH=/bin"}}, testutil.Layer(t, lower), testutil.Layer(t, top))
		reg := testutil.Registry(t)
		ref := reg + "/rootless/img:1"
		testutil.Push(t, ref, img)
		// a store the user owns, on a path the user can reach
		dir := t.TempDir()
		for _, d := range []string{filepath.Dir(dir), dir} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chown(dir, int(u.UID), int(u.GID)); err != nil {
			t.Fatal(err)
		}
		store := filepath.Join(dir, "store")
		nookAs(t, u, "image", "pull", "-q", "--store", store, ref)
		out := nookAs(t, u, "run", "--store", store, "--image", ref, "--env", testutil.MarkEnv(t), "--",
			"sh", "-c", "id -u; test -e /etc/group || echo hidden; ls /d; echo w > /bin/nookfile && cat /bin/nookfile")
		if got := testutil.Lines(out); strings.Join(got, " ") != "0 hidden new w" {
			t.Errorf("an image run as %s: %q, want 0, hidden, new, w", u.Name, got)
		}
	})
}

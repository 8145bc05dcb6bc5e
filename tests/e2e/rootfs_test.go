package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nookrun/nook/internal/testutil"
	"golang.org/x/sys/unix"
)

// --- the host view (no --rootfs) ---------------------------------------------

func TestHostViewHidesShadow(t *testing.T) {
	e2e(t)
	if b, err := os.ReadFile("/etc/shadow"); err != nil || len(b) == 0 {
		t.Skip("the host has no /etc/shadow to hide")
	}
	out, _, _ := testutil.Run(t, "run", "--", "cat", "/etc/shadow")
	if out != "" {
		t.Errorf("cat /etc/shadow inside printed %d bytes, want none", len(out))
	}
}

// The host rewrites /etc/shadow by renaming a new file over it (passwd,
// useradd, chpasswd do); the kernel then detaches every mount on the old
// file, in every namespace. A sandbox that is running must not see the new
// file.
//
// Not in parallel: it replaces the host's /etc/shadow (with a copy of
// itself, under the lock passwd tools take) while other sandboxes start.
func TestHostViewKeepsShadowHiddenWhenTheHostRewritesIt(t *testing.T) {
	e2eAlone(t)
	if b, err := os.ReadFile("/etc/shadow"); err != nil || len(b) == 0 {
		t.Skip("the host has no /etc/shadow to hide")
	}
	r := testutil.Start(t, testutil.Command(t, sh(`trap 'wc -c < /etc/shadow; exit 0' USR1
		wc -c < /etc/shadow
		echo ready
		while :; do sleep 0.02; done`)...), "ready")
	rewriteShadow(t)
	r.Signal(syscall.SIGUSR1)
	out, stderr, code := r.Wait(10 * time.Second)
	if got := testutil.Lines(out); code != 0 || len(got) != 3 || got[0] != "0" || got[2] != "0" {
		t.Errorf("wc -c < /etc/shadow inside, before and after the host rewrote it: %q (exit status %d, stderr %q), want 0 bytes both times", got, code, stderr)
	}
}

// rewriteShadow replaces /etc/shadow with a copy of itself, renamed over
// it, as the shadow tools do, holding their lock (lckpwdf's).
func rewriteShadow(t *testing.T) {
	t.Helper()
	lock, err := os.OpenFile("/etc/.pwd.lock", os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	fl := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0}
	if err := unix.FcntlFlock(lock.Fd(), unix.F_SETLKW, &fl); err != nil {
		t.Fatalf("lock /etc/.pwd.lock: %v", err)
	}
	fi, err := os.Stat("/etc/shadow")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/etc/shadow")
	if err != nil {
		t.Fatal(err)
	}
	tmp := "/etc/shadow.nook-" + testutil.Mark(t)
	st := fi.Sys().(*syscall.Stat_t)
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(tmp, int(st.Uid), int(st.Gid)); err != nil {
		os.Remove(tmp)
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, fi.Mode().Perm()); err != nil {
		os.Remove(tmp)
		t.Fatal(err)
	}
	if err := os.Rename(tmp, "/etc/shadow"); err != nil {
		os.Remove(tmp)
		t.Fatal(err)
	}
}

func TestHostViewHidesHomeRootVarSrvRun(t *testing.T) {
	e2e(t)
	out := nook(t, sh(`for d in /home /root /var /srv /run; do ls -A "$d" 2>/dev/null | sed "s|^|$d/|"; done`)...)
	if out != "" {
		t.Errorf("the host view shows files of /home /root /var /srv /run:\n%s", out)
	}
}

func TestHostViewIsReadOnly(t *testing.T) {
	e2e(t)
	name := "nook-" + testutil.Mark(t)
	var paths []string
	for _, d := range []string{"/", "/usr", "/etc", "/bin"} {
		paths = append(paths, filepath.Join(d, name))
	}
	args := append(sh(`for p in "$@"; do touch "$p" 2>/dev/null && echo "wrote $p"; done; exit 0`), "sh")
	out := nook(t, append(args, paths...)...)
	if out != "" {
		t.Errorf("the host view is writable:\n%s", out)
	}
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			os.Remove(p)
			t.Errorf("%s appeared on the host", p)
		}
	}
}

func TestTmpIsWritableAndPrivate(t *testing.T) {
	e2e(t)
	name := "/tmp/nook-" + testutil.Mark(t)
	t.Cleanup(func() { os.Remove(name) })
	if got := nookLine(t, sh("echo private > "+name+" && cat "+name)...); got != "private" {
		t.Errorf("/tmp inside: read back %q", got)
	}
	if _, err := os.Lstat(name); err == nil {
		t.Errorf("%s, written in the sandbox's /tmp, appeared on the host", name)
	}
}

// --- --rootfs ----------------------------------------------------------------

func TestRootfsIsTheWholeWorld(t *testing.T) {
	e2e(t)
	root := testutil.BusyboxRootfs(t)

	// only the rootfs's own entries at /
	ls := testutil.Lines(nook(t, "run", "--rootfs", root, "--", "ls", "-A", "/"))
	want := []string{"bin", "dev", "etc", "proc", "sys", "tmp"}
	if !slices.Equal(ls, want) {
		t.Errorf("ls -A / inside: %v, want %v", ls, want)
	}

	// no host file is reachable
	if host, err := os.ReadFile("/etc/hostname"); err == nil && len(strings.TrimSpace(string(host))) > 0 {
		out, _, _ := testutil.Run(t, "run", "--rootfs", root, "--", "cat", "/etc/hostname")
		if strings.Contains(out, strings.TrimSpace(string(host))) {
			t.Errorf("the host's /etc/hostname is readable inside: %q", out)
		}
	}

	// init's root is the sandbox's root: readlink shows "/", or nothing
	// where init is not dumpable and so hidden from the command; never a
	// host path
	out, stderr, _ := testutil.Run(t, sh("readlink /proc/1/root || ls /proc/1/root/", "--rootfs", root)...)
	if got := strings.TrimSpace(out); got != "/" && !(got == "" && strings.Contains(stderr, "ermission denied")) {
		t.Errorf("readlink /proc/1/root inside: %q (stderr %q), want / or permission denied", got, stderr)
	}
	if got := nookLine(t, "run", "--rootfs", root, "--no-init", "--", "readlink", "/proc/1/root"); got != "/" {
		t.Errorf("--no-init: readlink /proc/1/root inside = %q, want /", got)
	}
}

func TestRootfsOldRootIsGone(t *testing.T) {
	e2e(t)
	root := testutil.BusyboxRootfs(t)
	out := nook(t, "run", "--rootfs", root, "--", "cat", "/proc/self/mountinfo")
	for _, l := range testutil.Lines(out) {
		f := strings.Fields(l)
		if len(f) < 5 {
			t.Fatalf("mountinfo line %q", l)
		}
		point := f[4]
		if point != "/" && strings.Contains(l, root) {
			t.Errorf("a mount inside names the rootfs's host path %s: %s", root, l)
		}
		ok := point == "/" || point == "/tmp"
		for _, d := range []string{"/proc", "/dev", "/sys"} {
			ok = ok || point == d || strings.HasPrefix(point, d+"/")
		}
		if !ok {
			t.Errorf("a mount of the host (or the old root) is inside: %s", l)
		}
	}
}

func TestRootfsIsWritableWithoutReadOnly(t *testing.T) {
	e2e(t)
	root := testutil.BusyboxRootfs(t)
	nook(t, "run", "--rootfs", root, "--", "touch", "/created")
	if _, err := os.Stat(filepath.Join(root, "created")); err != nil {
		t.Errorf("a file made in a writable rootfs is not in the host directory: %v", err)
	}
}

func TestReadOnlyRootfs(t *testing.T) {
	e2e(t)
	root := testutil.BusyboxRootfs(t)
	out := nook(t, sh(`touch /x 2>/dev/null && echo root-writable; touch /tmp/y && echo tmp-writable`, "--rootfs", root, "--read-only")...)
	if strings.Contains(out, "root-writable") {
		t.Errorf("--read-only: touch /x succeeded")
	}
	if !strings.Contains(out, "tmp-writable") {
		t.Errorf("--read-only: /tmp is not writable:\n%s", out)
	}
	if _, err := os.Lstat(filepath.Join(root, "x")); err == nil {
		t.Errorf("--read-only: /x appeared in the rootfs on the host")
	}
	if _, err := os.Lstat(filepath.Join(root, "tmp", "y")); err == nil {
		t.Errorf("/tmp/y landed in the rootfs's tmp on the host, not in a private /tmp")
	}
}

// --- --bind and --tmpfs --------------------------------------------------------

func TestBindIsWritableThrough(t *testing.T) {
	e2e(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "in"), []byte("from-host\n"), 0o644)
	out := nook(t, sh("cat /data/in && echo from-sandbox > /data/out", "--bind", dir+":/data")...)
	if !testutil.HasLine(out, "from-host") {
		t.Errorf("--bind: the host's file reads %q inside", out)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "out")); err != nil || string(b) != "from-sandbox\n" {
		t.Errorf("--bind: a file written inside reads %q, %v on the host", b, err)
	}
}

func TestBindReadOnlyRefusesWrites(t *testing.T) {
	e2e(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "in"), []byte("from-host\n"), 0o644)
	out, _, code := testutil.Run(t, sh("cat /data/in; echo x > /data/out", "--bind", dir+":/data:ro")...)
	if !testutil.HasLine(out, "from-host") {
		t.Errorf("--bind :ro: the host's file reads %q inside", out)
	}
	if code == 0 {
		t.Errorf("--bind :ro: writing succeeded")
	}
	if _, err := os.Lstat(filepath.Join(dir, "out")); err == nil {
		t.Errorf("--bind :ro: a file written inside appeared on the host")
	}
}

func TestTmpfsSizeIsEnforced(t *testing.T) {
	e2e(t)
	out := nook(t, sh(`stat -f -c %T /scratch
		dd if=/dev/zero of=/scratch/a bs=1024 count=512 2>/dev/null && echo 512k-fits
		dd if=/dev/zero of=/scratch/b bs=1024 count=2048 2>/dev/null || echo 2m-refused`,
		"--tmpfs", "/scratch:size=1m")...)
	want := []string{"tmpfs", "512k-fits", "2m-refused"}
	if got := testutil.Lines(out); !slices.Equal(got, want) {
		t.Errorf("--tmpfs /scratch:size=1m: got %q, want %q", got, want)
	}
}

// --- mount propagation -------------------------------------------------------

// sharedDir returns a new directory that is a shared mount on the host, so
// that mount events under it would propagate to any copy of it that nook
// failed to make private.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind %s: %v", dir, err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	if err := unix.Mount("", dir, "", unix.MS_SHARED, ""); err != nil {
		t.Fatalf("make %s shared: %v", dir, err)
	}
	return dir
}

func mountedOnHost(path string) bool {
	return slices.Contains(testutil.MountPoints(), path)
}

// A sandbox that may mount (--privileged) still cannot mount on the host,
// even through a bind of a shared mount.
func TestMountsInsideDoNotAppearOnHost(t *testing.T) {
	e2e(t)
	dir := sharedDir(t)
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	out, stderr, code := testutil.Run(t, sh(`set -e
		mkdir -p /tmp/x
		mount -t tmpfs none /tmp/x
		mount -t tmpfs none /data/sub
		touch /data/sub/made-inside
		grep -c " /data/sub " /proc/self/mountinfo`, "--privileged", "--bind", dir+":/data")...)
	if code != 0 {
		if strings.Contains(stderr, "ermission denied") || strings.Contains(stderr, "not permitted") {
			t.Skipf("cannot mount inside the sandbox: %s", stderr)
		}
		t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	if strings.TrimSpace(out) != "1" {
		t.Fatalf("the mount inside is not in the sandbox's mountinfo: %q", out)
	}
	if mountedOnHost(filepath.Join(dir, "sub")) {
		t.Errorf("a tmpfs mounted inside on a bound directory propagated to the host's %s/sub", dir)
	}
	if _, err := os.Lstat(filepath.Join(dir, "sub", "made-inside")); err == nil {
		t.Errorf("a file made on the tmpfs inside is visible on the host")
	}
}

func TestHostMountsDoNotAppearInside(t *testing.T) {
	e2e(t)
	dir := sharedDir(t)
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	r := testutil.Start(t, testutil.Command(t, sh(`echo ready
		while [ ! -e /data/go ]; do sleep 0.02; done
		ls -A /data/sub
		grep -c " /data/sub " /proc/self/mountinfo || true`, "--bind", dir+":/data")...), "ready")

	// the sandbox runs: mount something under the bound directory
	if err := unix.Mount("tmpfs", sub, "tmpfs", 0, "size=64k"); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", sub, err)
	}
	t.Cleanup(func() { unix.Unmount(sub, unix.MNT_DETACH) })
	os.WriteFile(filepath.Join(sub, "made-on-host"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "go"), nil, 0o644)

	out, stderr, code := r.Wait(testutil.RunTimeout)
	if code != 0 {
		t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	if strings.Contains(out, "made-on-host") {
		t.Errorf("a mount made on the host after the start is visible inside:\n%s", out)
	}
	if lines := testutil.Lines(out); len(lines) == 0 || lines[len(lines)-1] != "0" {
		t.Errorf("the sandbox's mountinfo has the host's new mount:\n%s", out)
	}
}

// --- the command's process ---------------------------------------------------

func TestWorkdir(t *testing.T) {
	e2e(t)
	if got := nookLine(t, "run", "--workdir", "/usr/bin", "--", "pwd"); got != "/usr/bin" {
		t.Errorf("--workdir /usr/bin: pwd = %q", got)
	}
	if got := nookLine(t, "run", "-w", "/etc", "--", "pwd"); got != "/etc" {
		t.Errorf("-w /etc: pwd = %q", got)
	}
	if got := nookLine(t, "run", "--", "pwd"); got != "/" {
		t.Errorf("default: pwd = %q, want /", got)
	}
}

func TestEnvAddsToCallersEnvironment(t *testing.T) {
	e2e(t)
	out := nook(t, sh(`echo "$FOO $BAZ"; echo "$`+testutil.MarkVar+`"`, "--env", "FOO=bar", "-e", "BAZ=qux")...)
	want := []string{"bar qux", testutil.Mark(t)}
	if got := testutil.Lines(out); !slices.Equal(got, want) {
		t.Errorf("--env: got %q, want %q (the flags' variables and the caller's)", got, want)
	}
}

func TestClearEnvLeavesOnlyWhatWasGiven(t *testing.T) {
	e2e(t)
	out := nook(t, "run", "--clear-env", "--env", "A=1", "--env", "B=two words", "--", "env")
	want := []string{"A=1", "B=two words"}
	if got := testutil.Lines(out); !slices.Equal(got, want) {
		t.Errorf("--clear-env: env inside is %q, want %q", got, want)
	}
}

func TestUserFlag(t *testing.T) {
	e2e(t)
	out := nook(t, sh("id -u; id -g", "--user", "1000:1000")...)
	if got := testutil.Lines(out); !slices.Equal(got, []string{"1000", "1000"}) {
		t.Errorf("--user 1000:1000: id -u, id -g = %q", got)
	}
	out = nook(t, sh("id -u; id -g", "--user", "1234")...)
	if got := testutil.Lines(out); !slices.Equal(got, []string{"1234", "1234"}) {
		t.Errorf("--user 1234: id -u, id -g = %q, want the group to follow the user", got)
	}
}

//go:build linux && amd64

package spawn

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// run starts plan with cfg, lets it run to the end, and returns what it
// wrote to stdout and how it exited. It checks that a child asked to share
// nook's memory does, where the platform allows it.
func run(t testing.TB, cfg *Config) (string, *Exit, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cfg.Files = []*os.File{nil, w, os.Stderr}
	p, err := Start(cfg)
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if cfg.ShareMemory && runtime.GOARCH == "amd64" && !p.SharedMemory {
		t.Errorf("the child does not share nook's memory")
	}
	if err := p.Release(); err != nil {
		p.Wait()
		return "", nil, err
	}
	out, _ := io.ReadAll(r)
	ex, err := p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	return string(out), ex, nil
}

func command(args ...string) *Plan {
	p := &Plan{}
	p.Env("PATH=/usr/bin:/bin")
	for _, a := range args {
		p.Arg(a)
	}
	p.Exec(false)
	return p
}

func TestStart(t *testing.T) {
	requireRoot(t)
	for _, share := range []bool{false, true} {
		out, ex, err := run(t, &Config{Steps: command("sh", "-c", "echo hello; exit 3"), CgroupFD: -1, ShareMemory: share})
		if err != nil {
			t.Fatal(err)
		}
		if out != "hello\n" || ex.Status.ExitStatus() != 3 {
			t.Errorf("share memory %v: out %q, status %v", share, out, ex.Status)
		}
	}
}

// With AtOnce the child runs to its exec without waiting for Release,
// which then only reports how the exec went; a child with a janitor is
// refused it, since it must not run before its janitor exists.
func TestAtOnce(t *testing.T) {
	requireRoot(t)
	for _, share := range []bool{false, true} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		p, err := Start(&Config{Steps: command("echo", "ran"), CgroupFD: -1, ShareMemory: share, AtOnce: true,
			Files: []*os.File{nil, w, os.Stderr}})
		w.Close()
		if err != nil {
			r.Close()
			t.Fatal(err)
		}
		// the command's output is all there before any Release (a child
		// that waited for one would end the read at the deadline)
		r.SetReadDeadline(time.Now().Add(10 * time.Second))
		out, _ := io.ReadAll(r)
		r.Close()
		if err := p.Release(); err != nil {
			t.Errorf("share memory %v: Release: %v", share, err)
		}
		ex, err := p.Wait()
		p.Close()
		if err != nil || string(out) != "ran\n" || ex.Status.ExitStatus() != 0 {
			t.Errorf("share memory %v: out %q, status %v, err %v", share, out, ex, err)
		}
	}
	if _, _, err := run(t, &Config{Steps: command("/nonexistent"), CgroupFD: -1, AtOnce: true}); err == nil ||
		!strings.Contains(err.Error(), "executable file not found") {
		t.Errorf("a failed exec at once: %v", err)
	}
	if _, err := Start(&Config{Steps: command("true"), Cleanup: &Cleanup{}, CgroupFD: -1, AtOnce: true}); err == nil {
		t.Error("AtOnce with a janitor was not refused")
	}
}

// The janitor's steps run after the sandbox is gone: unmount, unlink,
// rmdir, in the plan's order.
func TestJanitorSteps(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	file := filepath.Join(dir, "file")
	sub := filepath.Join(dir, "sub")
	for _, d := range []string{mnt, sub} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	c := &Cleanup{}
	c.Umount(mnt)
	c.Unlink(file)
	c.Rmdir(sub)
	if _, _, err := run(t, &Config{Steps: command("true"), Cleanup: c, CgroupFD: -1, ShareMemory: true}); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	var parent unix.Stat_t
	if err := unix.Stat(mnt, &st); err != nil || unix.Stat(dir, &parent) != nil || st.Dev != parent.Dev {
		t.Errorf("%s is still a mount point (%v)", mnt, err)
	}
	for _, p := range []string{file, sub} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there: %v", p, err)
		}
	}
}

// A failed step names its operation and both of its paths.
func TestChildErrorNamesPaths(t *testing.T) {
	requireRoot(t)
	root := t.TempDir()
	for _, c := range []struct {
		name string
		step func(p *Plan)
		want string
	}{
		{"bind", func(p *Plan) {
			p.Mount(Mount{Source: "/nonexistent-source", Target: "/dst", Flags: unix.MS_BIND, Point: MountPointDir})
		}, "bind /nonexistent-source on /dst: no such file or directory"},
		{"mount", func(p *Plan) {
			p.Mount(Mount{Source: "none", Target: "/dst", FSType: "no-such-fs", Point: MountPointDir})
		}, "mount no-such-fs none on /dst: no such device"},
		{"mount proc", func(p *Plan) {
			p.Mount(Mount{Source: "proc", Target: "/dst", FSType: "proc", Flags: 1 << 31, Point: MountPointDir})
		}, "mount proc on /dst: "},
		{"symlink", func(p *Plan) {
			p.Symlink("/target", "/file/link")
		}, "symlink /file/link to /target"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(root, "file"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			p := &Plan{}
			p.Propagation(unix.MS_REC | unix.MS_PRIVATE)
			p.Root(root, false)
			c.step(p)
			p.Arg("/bin/true")
			p.Exec(false)
			_, _, err := run(t, &Config{Steps: p, CloneFlags: unix.CLONE_NEWNS, CgroupFD: -1, ShareMemory: true})
			ce, ok := err.(*ChildError)
			if !ok || !strings.Contains(err.Error(), c.want) || ce.ExitCode != ExitSetup {
				t.Errorf("err = %v, want a ChildError with %q and exit %d", err, c.want, ExitSetup)
			}
		})
	}
}

func TestExecErrors(t *testing.T) {
	requireRoot(t)
	_, _, err := run(t, &Config{Steps: command("/nonexistent"), CgroupFD: -1})
	if ce, ok := err.(*ChildError); !ok || ce.ExitCode != ExitNotFound || err.Error() != `exec "/nonexistent": executable file not found` {
		t.Errorf("not found: %v", err)
	}
	_, _, err = run(t, &Config{Steps: command("/etc/passwd"), CgroupFD: -1})
	if ce, ok := err.(*ChildError); !ok || ce.ExitCode != ExitNoExec {
		t.Errorf("not executable: %v", err)
	}
}

// v2Dir makes a cgroup v2 directory for a test: under /sys/fs/cgroup on a
// v2 host, under the controller-less /sys/fs/cgroup/unified of a hybrid
// one.
func v2Dir(t testing.TB) string {
	t.Helper()
	requireRoot(t)
	var root string
	for _, r := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		var st unix.Statfs_t
		if unix.Statfs(r, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			root = r
			break
		}
	}
	if root == "" {
		t.Skip("no cgroup v2 tree")
	}
	dir := filepath.Join(root, fmt.Sprintf("nook-spawn-test-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "-")))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Rmdir(dir) })
	return dir
}

// With a cgroup fd the child starts in that cgroup (CLONE_INTO_CGROUP),
// sharing nook's memory or not.
func TestCloneIntoCgroup(t *testing.T) {
	dir := v2Dir(t)
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	rel := "/" + filepath.Base(dir)
	for _, share := range []bool{false, true} {
		out, _, err := run(t, &Config{Steps: command("cat", "/proc/self/cgroup"), CgroupFD: fd, ShareMemory: share})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "0::"+rel+"\n") {
			t.Errorf("share memory %v: /proc/self/cgroup:\n%s\nwant 0::%s", share, out, rel)
		}
	}
}

// BenchmarkCgroupJoin compares the two ways into a cgroup v2: the parent
// writes the child's pid to cgroup.procs between Start and Release, or the
// child is cloned into it (CLONE_INTO_CGROUP). Besides the whole run
// (ns/op, dominated by the command's exec and exit), it reports the time
// the parent spends in Start (the clone) and in the join, which is what a
// sandbox's start-up pays.
func BenchmarkCgroupJoin(b *testing.B) {
	dir := v2Dir(b)
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(fd)
	bench := func(b *testing.B, cgfd int, join bool) {
		var clone, joined time.Duration
		for b.Loop() {
			t0 := time.Now()
			p, err := Start(&Config{Steps: command("/bin/true"), CgroupFD: cgfd, ShareMemory: true, Files: []*os.File{nil, nil, nil}})
			if err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if join {
				if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(fmt.Sprint(p.Pid)), 0); err != nil {
					b.Fatal(err)
				}
			}
			t2 := time.Now()
			clone += t1.Sub(t0)
			joined += t2.Sub(t1)
			if err := p.Release(); err != nil {
				b.Fatal(err)
			}
			p.Wait()
			p.Close()
		}
		b.ReportMetric(float64(clone.Microseconds())/float64(b.N), "clone-µs/op")
		b.ReportMetric(float64(joined.Microseconds())/float64(b.N), "join-µs/op")
	}
	b.Run("none", func(b *testing.B) { bench(b, -1, false) })
	b.Run("cgroup.procs", func(b *testing.B) { bench(b, -1, true) })
	b.Run("clone-into", func(b *testing.B) { bench(b, fd, false) })
}

// Children that share nook's memory and start at the same time each have
// an errno of their own: many fail at once, each with its own error.
func TestConcurrentChildrenKeepTheirErrors(t *testing.T) {
	requireRoot(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"/nonexistent"}, "executable file not found"},
		{[]string{"/etc/passwd"}, "permission denied"},
		{[]string{"/"}, "permission denied"},
		{[]string{"/etc/passwd/x"}, "not a directory"},
	}
	const rounds = 25
	errs := make(chan error, len(cases)*rounds)
	for _, c := range cases {
		go func() {
			for range rounds {
				_, _, err := run(t, &Config{Steps: command(c.args...), CgroupFD: -1, ShareMemory: true})
				if err == nil || !strings.HasSuffix(err.Error(), c.want) {
					errs <- fmt.Errorf("%v: %v, want ...%s", c.args, err, c.want)
					continue
				}
				errs <- nil
			}
		}()
	}
	for range len(cases) * rounds {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// Children that do not share nook's memory and are cloned at the same
// time each get their own block: one clone's marks never keep another's
// block from its child (which would crash before its first step).
func TestConcurrentCopiesKeepTheirBlocks(t *testing.T) {
	requireRoot(t)
	const workers, rounds = 4, 25
	errs := make(chan error, workers*rounds)
	for w := range workers {
		go func() {
			for i := range rounds {
				want := fmt.Sprintf("%d.%d", w, i)
				out, ex, err := run(t, &Config{Steps: command("echo", want), CgroupFD: -1})
				switch {
				case err != nil:
					errs <- fmt.Errorf("child %s: %v", want, err)
				case ex.Status.ExitStatus() != 0 || out != want+"\n":
					errs <- fmt.Errorf("child %s: wrote %q, exit %v", want, out, ex.Status)
				default:
					errs <- nil
				}
			}
		}()
	}
	// a child that lost its block never reaches its first step: the
	// test would hang, not fail, without a deadline
	deadline := time.After(time.Minute)
	for range workers * rounds {
		select {
		case err := <-errs:
			if err != nil {
				t.Error(err)
			}
		case <-deadline:
			t.Fatal("children did not end within a minute")
		}
	}
}

// Two clones at once: the second's block is not kept from its fork by
// the first's marks, even where the two blocks are mappings of their own
// (a mapping of another kind between them keeps the kernel from merging
// them), and the first's block is not marked by the second.
func TestKeepFromForkSparesEveryBlock(t *testing.T) {
	if libcThreads {
		t.Skip("built with cgo: nothing is marked (nocopy_cgo.go)")
	}
	page := os.Getpagesize()
	mem, err := unix.Mmap(-1, 0, 3*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	if err := unix.Mprotect(mem[page:2*page], unix.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	first, second := mem[:page], mem[2*page:]
	undoFirst, err := keepFromFork(first)
	if err != nil {
		t.Fatal(err)
	}
	undoSecond, err := keepFromFork(second)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{first, second} {
		if keptFromFork(t, b) {
			t.Errorf("a block being cloned is marked MADV_DONTFORK")
		}
	}
	undoSecond()
	undoFirst()
}

// keptFromFork says whether the mapping holding b is marked
// MADV_DONTFORK ("dc" in smaps).
func keptFromFork(t *testing.T, b []byte) bool {
	t.Helper()
	addr := uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	in := false
	for line := range strings.SplitSeq(string(smaps), "\n") {
		var lo, hi uint64
		if n, _ := fmt.Sscanf(line, "%x-%x ", &lo, &hi); n == 2 {
			in = lo <= addr && addr < hi
			continue
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			return strings.Contains(line+" ", " dc ")
		}
	}
	t.Fatalf("no mapping holds %#x", addr)
	return false
}

// A child that does not share nook's memory gets a copy of its block and
// nothing of Go's: nook's heap, however large, is neither copied into it
// (its anonymous memory stays a few pages) nor left marked for it
// (no mapping of nook's keeps MADV_DONTFORK, "dc" in smaps, after the
// clone). The child is looked at while it waits for Release.
func TestCopyHoldsOnlyTheBlock(t *testing.T) {
	requireRoot(t)
	if libcThreads {
		t.Skip("built with cgo: the copy is whole (nocopy_cgo.go)")
	}
	ballast := make([]byte, 64<<20)
	for i := range ballast {
		ballast[i] = 1
	}
	p, err := Start(&Config{Steps: command("true"), CgroupFD: -1, Files: []*os.File{nil, nil, os.Stderr}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.SharedMemory {
		t.Fatal("the child shares nook's memory; this test needs a copy")
	}
	childAnon := statusKiB(t, fmt.Sprintf("/proc/%d/status", p.Pid), "RssAnon:")
	ownAnon := statusKiB(t, "/proc/self/status", "RssAnon:")
	if childAnon > 4<<10 || ownAnon < 64<<10 {
		t.Errorf("the child holds %d KiB of anonymous memory, nook %d KiB: the copy should hold only the child's block", childAnon, ownAnon)
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(smaps), "\n") {
		if strings.HasPrefix(line, "VmFlags:") && strings.Contains(line+" ", " dc ") {
			t.Errorf("a mapping of nook's is still kept from fork after the clone: %s", line)
		}
	}
	runtime.KeepAlive(ballast)
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	if ex, err := p.Wait(); err != nil || ex.Status.ExitStatus() != 0 {
		t.Fatalf("wait: %v, %v", ex, err)
	}
}

// statusKiB reads one "Key: N kB" line of a /proc status file.
func statusKiB(t *testing.T, path, key string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, key); ok {
			var n int
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &n); err != nil {
				t.Fatalf("%s: %q: %v", path, line, err)
			}
			return n
		}
	}
	t.Fatalf("%s has no %s", path, key)
	return 0
}

// SetnsPidfd joins the namespaces of the process Config.NSProcess names
// in one setns; the Setns steps after it for those namespaces are skipped
// (the path here would fail), and the command gets no copy of the pidfd.
// Where the kernel refuses it, the steps by path join instead.
func TestSetnsPidfd(t *testing.T) {
	requireRoot(t)
	target := &Plan{}
	target.Unshare(unix.CLONE_NEWUTS)
	target.Hostname("nook-pidfd")
	target.Arg("/bin/sleep")
	target.Arg("60")
	target.Exec(false)
	tp, err := Start(&Config{Steps: target, CgroupFD: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	if err := tp.Release(); err != nil {
		t.Fatal(err)
	}
	dup, err := unix.FcntlInt(uintptr(tp.PidFD), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	pidfd := os.NewFile(uintptr(dup), "pidfd")
	defer pidfd.Close()
	for _, share := range []bool{false, true} {
		p := &Plan{}
		p.SetnsPidfd(unix.CLONE_NEWUTS)
		p.Setns("/nonexistent/ns/uts", unix.CLONE_NEWUTS)
		p.Env("PATH=/usr/bin:/bin")
		for _, a := range []string{"sh", "-c", `hostname; ls -l /proc/$$/fd | grep -c pidfd || true`} {
			p.Arg(a)
		}
		p.Exec(false)
		out, ex, err := run(t, &Config{Steps: p, CgroupFD: -1, ShareMemory: share, NSProcess: pidfd})
		if err != nil {
			t.Fatal(err)
		}
		if out != "nook-pidfd\n0\n" || ex.Status.ExitStatus() != 0 {
			t.Errorf("share memory %v: out %q, status %v", share, out, ex.Status)
		}
	}
	// refused (a pidfd of a process that has ended: ESRCH), it leaves the
	// work to the steps by path
	gone, err := Start(&Config{Steps: command("true"), CgroupFD: -1})
	if err != nil {
		t.Fatal(err)
	}
	gone.Release()
	gone.Wait()
	dup, err = unix.FcntlInt(uintptr(gone.PidFD), unix.F_DUPFD_CLOEXEC, 0)
	gone.Close()
	if err != nil {
		t.Fatal(err)
	}
	stale := os.NewFile(uintptr(dup), "pidfd")
	defer stale.Close()
	p := &Plan{}
	p.SetnsPidfd(unix.CLONE_NEWUTS)
	p.Setns(fmt.Sprintf("/proc/%d/ns/uts", tp.Pid), unix.CLONE_NEWUTS)
	p.Arg("/bin/hostname")
	p.Exec(false)
	if out, _, err := run(t, &Config{Steps: p, CgroupFD: -1, NSProcess: stale}); err != nil || out != "nook-pidfd\n" {
		t.Errorf("after a refused SetnsPidfd: out %q, err %v", out, err)
	}
	p = &Plan{}
	p.SetnsPidfd(unix.CLONE_NEWUTS)
	p.Arg("/bin/true")
	p.Exec(false)
	if _, _, err := run(t, &Config{Steps: p, CgroupFD: -1}); err == nil || !strings.Contains(err.Error(), "setns by pidfd") {
		t.Errorf("SetnsPidfd without NSProcess: %v", err)
	}
}

// A network namespace made beforehand (Config.NetNS) is the child's from
// its first step on, as a CLONE_NEWNET one would be, and the command gets
// no copy of its descriptor.
func TestNetNS(t *testing.T) {
	requireRoot(t)
	made := make(chan *os.File, 1)
	go func() {
		// this thread moves to the new namespace and dies with the
		// goroutine (never unlocked)
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			t.Errorf("unshare(CLONE_NEWNET): %v", err)
			made <- nil
			return
		}
		f, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			t.Error(err)
		}
		made <- f
	}()
	ns := <-made
	if ns == nil {
		t.FailNow()
	}
	defer ns.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(ns.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	for _, share := range []bool{false, true} {
		p := &Plan{}
		// the first step already acts in it: lo is that namespace's
		p.Loopback()
		p.Env("PATH=/usr/bin:/bin")
		for _, a := range []string{"sh", "-c", `readlink /proc/self/ns/net; ls -l /proc/$$/fd | grep -c 'net:' || true`} {
			p.Arg(a)
		}
		p.Exec(false)
		out, _, err := run(t, &Config{Steps: p, CgroupFD: -1, ShareMemory: share, NetNS: ns})
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("net:[%d]\n0\n", st.Ino); out != want {
			t.Errorf("share memory %v: the command printed %q, want %q", share, out, want)
		}
	}
}

package attacks

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nookrun/nook/internal/testutil"
	"golang.org/x/sys/unix"
)

// Refusals, by the layer that gives them.
var (
	eperm    = []string{"EPERM"}                    // seccomp, or a missing capability
	readOnly = []string{"EROFS", "EACCES", "EPERM"} // a read-only mount (or proc's own refusal)
	absent   = "ENOENT"                             // not on this kernel: nothing to attack
	hidden   = []string{"masked(dev-null)", "masked(empty-dir)", "masked(empty)", "absent"}
	ptraceNo = []string{"EPERM", "EACCES"} // init is not dumpable; process_vm_readv is filtered
)

// want maps an attempt's name to the refusals that count as blocked. The
// key "*" applies to every attempt not named; every named one must appear.
type want map[string][]string

type escapeCase struct {
	name   string // the subtest: the attack's number in the plan, and what it is
	attack string
	args   func(t *testing.T) []string
	flags  []string
	want   want
	layer  string // what stops it, for the log
	needs  string // a kernelFeatures key: skipped on kernels without it
}

// kernelFeatures are what some kernels are built without (this project's
// CI host has none of them), by the file that shows each on the host. An
// attack on one of them skips where the kernel lacks it, instead of
// passing because there is nothing to attack; `make test-vm` runs it on
// Debian's stock kernel, which has them all.
var kernelFeatures = map[string]string{
	"sysrq":   "/proc/sysrq-trigger",      // CONFIG_MAGIC_SYSRQ
	"kcore":   "/proc/kcore",              // CONFIG_PROC_KCORE
	"modules": "/proc/modules",            // CONFIG_MODULES
	"kexec":   "/sys/kernel/kexec_loaded", // CONFIG_KEXEC_CORE
}

// requireKernel skips the test unless the host's kernel has feature.
func requireKernel(t *testing.T, feature string) {
	t.Helper()
	p, ok := kernelFeatures[feature]
	if !ok {
		t.Fatalf("unknown kernel feature %q", feature)
	}
	if !fileExists(p) {
		t.Skipf("this kernel has no %s (%s is missing): nothing to attack here; make test-vm runs this on Debian's stock kernel", feature, p)
	}
}

// defaultCases are the attacks that run with nook's defaults and only need
// their RESULT lines checked (host-side checks: TestEscapes's cleanup).
var defaultCases = []escapeCase{
	{name: "01-sysctl-uts", attack: "sysctl-hostname", layer: "read-only /proc/sys",
		want: want{"sysctl-hostname": readOnly, "sysctl-domainname": readOnly}},
	{name: "01-sysctl-global", attack: "sysctl-global", layer: "read-only /proc/sys",
		want: want{"sysctl-kernel.core_pattern": readOnly, "sysctl-vm.overcommit_memory": readOnly,
			"*": append([]string{absent}, readOnly...)}},
	{name: "02-sysrq-trigger", attack: "sysrq", layer: "read-only /proc/sysrq-trigger", needs: "sysrq",
		want: want{"sysrq": readOnly}},
	{name: "03-kcore", attack: "masked", args: func(*testing.T) []string { return []string{"/proc/kcore"} },
		layer: "masked paths (/dev/null over /proc/kcore)", needs: "kcore",
		want: want{"masked:/proc/kcore": {"masked(dev-null)", "masked(empty)"}}},
	{name: "03-masked-paths", attack: "masked", layer: "masked paths (/dev/null or an empty read-only tmpfs over them)",
		want: want{"masked:/proc/kcore": hidden, "masked:/proc/keys": hidden, "masked:/proc/timer_list": hidden,
			"masked:/proc/sched_debug": hidden, "masked:/sys/firmware": hidden, "*": hidden}},
	{name: "04-mount", attack: "mount", layer: "seccomp (mount family denied); underneath: no CAP_SYS_ADMIN",
		want: want{"mount-proc": eperm, "mount-tmpfs": eperm, "mount-bind": eperm, "mount-cgroup1": eperm,
			"mount-cgroup2": eperm, "mount-remount-root-rw": eperm, "mount-remount-proc-sys-rw": eperm,
			"mount-fsopen": eperm, "mount-open_tree": eperm, "mount-umount-proc": eperm}},
	{name: "05-userns-clone3", attack: "userns", layer: "seccomp (CLONE_NEWUSER and the other namespace flags: EPERM; clone3: ENOSYS)",
		want: want{"userns-clone": eperm, "userns-unshare": eperm, "unshare-mnt": eperm, "unshare-net": eperm,
			"unshare-pid": eperm, "unshare-cgroup": eperm, "setns": eperm, "clone3": {"ENOSYS"}}},
	{name: "06-kernel-modules", attack: "modules", layer: "seccomp; underneath: no CAP_SYS_MODULE",
		want: want{"init_module": eperm, "finit_module": eperm, "delete_module": eperm}},
	{name: "07-kexec-reboot", attack: "kexec", layer: "seccomp; underneath: no CAP_SYS_BOOT",
		want: want{"kexec_file_load": eperm, "kexec_load": eperm, "reboot": eperm}},
	{name: "08-bpf", attack: "bpf", layer: "seccomp; underneath: no CAP_BPF/CAP_SYS_ADMIN (with kernel.unprivileged_bpf_disabled)",
		want: want{"bpf": eperm, "bpf-map": eperm}},
	{name: "08-perf_event_open", attack: "perf", layer: "seccomp only",
		want: want{"perf_event_open": eperm}},
	{name: "08-keyring", attack: "keyring", layer: "seccomp only",
		want: want{"keyctl": eperm, "add_key": eperm, "request_key": eperm}},
	{name: "08-userfaultfd", attack: "userfaultfd", layer: "seccomp; underneath: vm.unprivileged_userfaultfd=0 without CAP_SYS_PTRACE",
		want: want{"userfaultfd": eperm}},
	{name: "08-shocker", attack: "shocker", layer: "seccomp; underneath: no CAP_DAC_READ_SEARCH",
		want: want{"name_to_handle_at": eperm, "open_by_handle_at": eperm}},
	{name: "09-ptrace-init", attack: "ptrace", layer: "init is not dumpable (ptrace access checks); process_vm_readv: seccomp",
		want: want{"ptrace-attach-init": eperm, "ptrace-seize-init": eperm, "proc1-environ": ptraceNo,
			"proc1-mem": ptraceNo, "proc1-exe": ptraceNo, "proc1-root": ptraceNo, "proc1-fd": ptraceNo,
			"process_vm_readv": eperm, "*": ptraceNo}},
	{name: "12-fds", attack: "fds", layer: "close_range before exec",
		want: want{"fd-dotdot": {"EBADF"}, "fd-list": {"only-stdio"}}},
	{name: "12-cwd", attack: "cwd", args: markerArg, layer: "pivot_root, old root detached",
		want: want{"cwd": {"inside-root"}}},
	{name: "12-chroot-escape", attack: "chroot", args: markerArg, layer: "pivot_root, old root detached (CAP_SYS_CHROOT is granted)",
		want: want{"chroot": {"top-is-sandbox-root"}}},
	{name: "12-chroot-escape-no-pivot", attack: "chroot", args: markerArg, flags: []string{"--no-pivot"},
		layer: "--no-pivot: the new root moved onto the real / (the top of every mount above it), so .. at its top leads back into it",
		want:  want{"chroot": {"top-is-sandbox-root"}}},
	{name: "17-mknod", attack: "mknod", layer: "seccomp (mknod of block/char nodes denied); underneath: no CAP_MKNOD in nook run's default set (TestWithoutSeccomp, TestDevicesWithoutCgroup)",
		want: want{"mknod-blk-dev": eperm, "mknod-mem-dev": eperm, "mknod-blk-tmp": eperm, "mknod-mem-tmp": eperm}},
	{name: "17-dev-nodes", attack: "devlist", layer: "minimal /dev",
		want: want{"devlist": {"only-harmless-nodes"}}},
	{name: "18-sysfs", attack: "sysfs", layer: "read-only /sys",
		want: want{"sysfs:/sys/kernel/mm/transparent_hugepage/enabled": append([]string{absent}, readOnly...),
			"sysfs-create": readOnly, "*": append([]string{absent}, readOnly...)}},
}

func markerArg(t *testing.T) []string { return []string{hostMarker(t)} }

// check asserts every attempt of c.want, and "*" for the rest.
func (c escapeCase) check(t *testing.T, o *outcome) {
	t.Helper()
	for name, w := range c.want {
		if name != "*" {
			o.blocked(t, name, w...)
		}
	}
	if w, ok := c.want["*"]; ok {
		for _, name := range o.order {
			if _, named := c.want[name]; !named {
				o.blocked(t, name, w...)
			}
		}
	}
}

// TestEscapes runs each attack with nook's defaults and checks that it is
// blocked, with the refusal of the layer that should stop it, and that
// the host's knobs are as they were.
func TestEscapes(t *testing.T) {
	testutil.RequireRoot(t)
	checkHostUnchanged(t)
	for _, c := range defaultCases {
		t.Run(c.name, func(t *testing.T) {
			if c.needs != "" {
				requireKernel(t, c.needs)
			}
			start(t)
			var args []string
			if c.args != nil {
				args = c.args(t)
			}
			o := attack(t, opts{flags: c.flags}, c.attack, args...)
			o.ran(t)
			c.check(t, o)
			t.Logf("layer: %s", c.layer)
		})
	}

	// 10. TIOCSTI on the user's terminal, which nook passes on as stdin
	t.Run("10-tiocsti", func(t *testing.T) {
		start(t)
		o, queued := tiocstiRun(t)
		o.ran(t)
		o.blocked(t, "tiocsti", "EPERM", "EIO")
		if queued != 0 {
			t.Errorf("ATTACK SUCCEEDED: %d bytes were pushed into the terminal's input", queued)
		}
		t.Log("layer: seccomp (TIOCSTI denied); underneath: the kernel (not the caller's controlling terminal, no CAP_SYS_ADMIN)")
	})

	// 11. CVE-2019-5736 on a copy of nook, so that no other test's binary
	// is at stake
	t.Run("11-overwrite-runtime", func(t *testing.T) {
		start(t)
		dir := worldDir(t)
		bin := filepath.Join(dir, "nook")
		if err := testutil.CopyFile(testutil.Nook(t), bin, 0o755); err != nil {
			t.Fatal(err)
		}
		before := sha(t, bin)
		att := filepath.Join(attackerDir(t), "attacker")
		attBefore := sha(t, att)
		o := attack(t, opts{nook: bin}, "exe")
		o.ran(t)
		o.blocked(t, "exe-self", "ETXTBSY", "EROFS", "EACCES")
		o.blocked(t, "exe-init", "EACCES", "EPERM")
		o.blocked(t, "exe-init-opath", "EACCES", "EPERM")
		o.blocked(t, "exe-reopen", "ETXTBSY", "EACCES", "EROFS", "no-handles")
		if after := sha(t, bin); after != before {
			t.Errorf("ATTACK SUCCEEDED: the nook binary changed: sha256 %s, was %s", after, before)
		}
		if after := sha(t, att); after != attBefore {
			t.Errorf("ATTACK SUCCEEDED: the attacker binary (bound read-only) changed")
		}
		t.Log("layer: init not dumpable (/proc/1/exe: EACCES); own binary: ETXTBSY (and a read-only bind)")
	})

	// 12. a directory fd of the host, handed to nook as fd 3, must not
	// reach the sandbox, nor can --workdir /proc/self/fd/N put the
	// working directory outside the root (CVE-2024-21626)
	t.Run("12-fds-inherited", func(t *testing.T) {
		start(t)
		marker := hostMarker(t)
		dirf := openDir(t, filepath.Dir(marker))
		o := attack(t, opts{prep: func(c *exec.Cmd) { c.ExtraFiles = []*os.File{dirf} }}, "fds")
		o.ran(t)
		o.blocked(t, "fd-dotdot", "EBADF")
		o.blocked(t, "fd-list", "only-stdio")
		if r, ok := o.results["fd-stdio"]; ok {
			t.Errorf("ATTACK SUCCEEDED: fd-stdio %s %s", r.verdict, r.detail)
		}
	})
	t.Run("12-workdir-proc-self-fd", func(t *testing.T) {
		start(t)
		marker := hostMarker(t)
		dirf := openDir(t, filepath.Dir(marker))
		refused, inside := 0, 0
		for n := 3; n <= 12; n++ {
			o := attack(t, opts{
				flags: []string{"--workdir", "/proc/self/fd/" + strconv.Itoa(n)},
				prep:  func(c *exec.Cmd) { c.ExtraFiles = []*os.File{dirf} },
			}, "cwd", marker)
			if !testutil.HasLine(o.stdout, "GUARD ok") {
				if o.code == 0 {
					t.Errorf("--workdir /proc/self/fd/%d: exit 0 without running the command\n%s", n, o)
				}
				refused++
				t.Logf("--workdir /proc/self/fd/%d: nook refused to start (exit %d): %s", n, o.code, strings.TrimSpace(o.stderr))
				continue
			}
			inside++
			o.blocked(t, "cwd", "inside-root")
		}
		t.Logf("%d refused to start, %d started inside the root", refused, inside)
	})

	// 13. bind destinations that try to leave the root. A symlink in the
	// rootfs that points at a host directory: resolved inside the
	// rootfs, the mount point does not exist there, and nook must refuse
	// to start or make it inside; the host directory stays untouched.
	t.Run("13-bind-symlink-to-host", func(t *testing.T) {
		start(t)
		rootfs := testutil.BusyboxRootfs(t)
		victim := worldDir(t) // a host directory, under /tmp
		src := bindSource(t)
		if err := os.Symlink("/../../../../.."+victim, filepath.Join(rootfs, "escape")); err != nil {
			t.Fatal(err)
		}
		o := attack(t, opts{flags: []string{"--rootfs", rootfs, "--bind", src + ":/escape"}}, "bindcheck", "bind-symlink", "/escape/bind-marker")
		if testutil.HasLine(o.stdout, "GUARD ok") {
			o.blocked(t, "bind-symlink", "landed-inside")
		} else if o.code == 0 {
			t.Errorf("exit 0 without running the command\n%s", o)
		} else {
			t.Logf("nook refused to start (exit %d): %s", o.code, strings.TrimSpace(o.stderr))
		}
		if ents := dirEntries(t, victim); len(ents) != 0 {
			t.Errorf("ATTACK SUCCEEDED: the host directory %s got %v", victim, ents)
		}
		if m := hostMountsUnder(victim); len(m) != 0 {
			t.Errorf("ATTACK SUCCEEDED: host mounts on %v", m)
		}
	})
	// The same with a target that exists both on the host and inside
	// the rootfs: the bind must be the one inside, seen through the link.
	t.Run("13-bind-symlink-existing", func(t *testing.T) {
		start(t)
		rootfs := testutil.BusyboxRootfs(t)
		victim := "/var/lib/" + randName("nook-attack-")
		if err := os.Mkdir(victim, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			syscall.Unmount(victim, syscall.MNT_DETACH)
			os.RemoveAll(victim)
		})
		if err := os.MkdirAll(filepath.Join(rootfs, victim), 0o755); err != nil {
			t.Fatal(err)
		}
		src := bindSource(t)
		if err := os.Symlink("/../../../../.."+victim, filepath.Join(rootfs, "escape")); err != nil {
			t.Fatal(err)
		}
		o := attack(t, opts{flags: []string{"--rootfs", rootfs, "--bind", src + ":/escape"}}, "bindcheck", "bind-symlink", "/escape/bind-marker")
		o.ran(t)
		o.blocked(t, "bind-symlink", "landed-inside")
		if ents := dirEntries(t, victim); len(ents) != 0 {
			t.Errorf("ATTACK SUCCEEDED: the host directory %s got %v", victim, ents)
		}
		if m := hostMountsUnder(victim); len(m) != 0 {
			t.Errorf("ATTACK SUCCEEDED: host mounts on %v", m)
		}
	})
	t.Run("13-bind-dotdot-rootfs", func(t *testing.T) {
		start(t)
		rootfs := testutil.BusyboxRootfs(t)
		src := bindSource(t)
		parent := filepath.Dir(rootfs)
		before := dirEntries(t, parent)
		name := randName("x")
		o := attack(t, opts{flags: []string{"--rootfs", rootfs, "--bind", src + ":/a/../../" + name}}, "bindcheck", "bind-dotdot", "/"+name+"/bind-marker")
		o.ran(t)
		o.blocked(t, "bind-dotdot", "landed-inside")
		if after := dirEntries(t, parent); strings.Join(after, ",") != strings.Join(before, ",") {
			t.Errorf("ATTACK SUCCEEDED: the rootfs's parent %s changed: %v, was %v", parent, after, before)
		}
		if fileExists(filepath.Join(parent, name)) {
			t.Errorf("ATTACK SUCCEEDED: %s was created on the host", filepath.Join(parent, name))
		}
	})
	t.Run("13-bind-dotdot-host-view", func(t *testing.T) {
		start(t)
		src := bindSource(t)
		name := randName("nook-attack-")
		t.Cleanup(func() { os.Remove("/" + name) })
		o := attack(t, opts{flags: []string{"--bind", src + ":/a/../../../" + name}}, "bindcheck", "bind-dotdot", "/"+name+"/bind-marker")
		o.ran(t)
		o.blocked(t, "bind-dotdot", "landed-inside")
		if fileExists("/" + name) {
			t.Errorf("ATTACK SUCCEEDED: /%s was created on the host", name)
		}
	})
	// CVE-2019-16884 family: a rootfs whose /proc is a symlink; the
	// masked and read-only paths must follow it
	t.Run("13-rootfs-proc-symlink", func(t *testing.T) {
		start(t)
		rootfs := testutil.BusyboxRootfs(t)
		if err := os.Remove(filepath.Join(rootfs, "proc")); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(filepath.Join(rootfs, "myproc"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/myproc", filepath.Join(rootfs, "proc")); err != nil {
			t.Fatal(err)
		}
		o := attack(t, opts{flags: []string{"--rootfs", rootfs}}, "masked", "/proc/keys", "/proc/timer_list", "/proc/kcore")
		o.ran(t)
		for _, n := range o.order {
			o.blocked(t, n, hidden...)
		}
		o = attack(t, opts{flags: []string{"--rootfs", rootfs}}, "sysctl-hostname")
		o.ran(t)
		o.blocked(t, "sysctl-hostname", readOnly...)
	})

	// 14. signals to the host's processes
	t.Run("14-kill-host", func(t *testing.T) {
		start(t)
		sleep := exec.Command("sleep", "60")
		if err := sleep.Start(); err != nil {
			t.Fatal(err)
		}
		died := make(chan struct{})
		go func() { sleep.Wait(); close(died) }()
		t.Cleanup(func() { sleep.Process.Kill(); <-died })
		o := attack(t, opts{}, "kill", strconv.Itoa(sleep.Process.Pid))
		o.ran(t)
		o.blocked(t, "kill-host-pid", "ESRCH")
		o.blocked(t, "pidfd-host-pid", "ESRCH")
		o.blocked(t, "proc-host-pid", "ENOENT")
		o.blocked(t, "kill-all", "pid-namespace")
		select {
		case <-died:
			t.Errorf("ATTACK SUCCEEDED: the host's sleep (PID %d) died", sleep.Process.Pid)
		case <-time.After(200 * time.Millisecond):
		}
		t.Log("layer: pid namespace")
	})

	// 15. fork bombs under --pids 64
	t.Run("15-forkbomb", func(t *testing.T) {
		start(t)
		vf := filepath.Join(t.TempDir(), "verdict.json")
		o := attack(t, opts{flags: []string{"--pids", "64", "--wall-time-limit", "20s", "--verdict", vf}}, "forkbomb")
		o.ran(t)
		o.blocked(t, "forkbomb", "EAGAIN")
		v := verdict(t, vf)
		if peak, _ := v["pids_peak"].(float64); peak > 64 {
			t.Errorf("pids_peak %v > 64", peak)
		}
		hostForks(t)
		t.Logf("layer: pids cgroup (verdict: status %v, pids_peak %v)", v["status"], v["pids_peak"])
	})
	t.Run("15-forkbomb-sh", func(t *testing.T) {
		start(t)
		vf := filepath.Join(t.TempDir(), "verdict.json")
		t0 := time.Now()
		o := attack(t, opts{flags: []string{"--pids", "64", "--wall-time-limit", "20s", "--verdict", vf}}, "forkbomb-sh")
		if !testutil.HasLine(o.stdout, "GUARD ok") {
			t.Fatalf("the attacker did not run\n%s", o)
		}
		if !strings.Contains(o.stderr, "fork") {
			t.Errorf("no fork ever failed: the limit did not bite\n%s", o)
		}
		v := verdict(t, vf)
		peak, _ := v["pids_peak"].(float64)
		if peak > 64 || peak < 32 {
			t.Errorf("pids_peak %v, want 32..64", peak)
		}
		hostForks(t)
		t.Logf("nook returned after %v, exit %d; verdict status %v, pids_peak %v", time.Since(t0).Round(time.Millisecond), o.code, v["status"], v["pids_peak"])
	})

	// 16. memory hog under --memory 64m
	t.Run("16-memhog", func(t *testing.T) {
		start(t)
		vf := filepath.Join(t.TempDir(), "verdict.json")
		o := attack(t, opts{flags: []string{"--memory", "64m", "--verdict", vf}}, "memhog")
		if !testutil.HasLine(o.stdout, "GUARD ok") {
			t.Fatalf("the attacker did not run\n%s", o)
		}
		if r, ok := o.results["memhog"]; ok {
			t.Errorf("memhog: %s %s, want the OOM killer", r.verdict, r.detail)
		}
		if o.code != 137 {
			t.Errorf("exit status %d, want 137 (SIGKILL)\n%s", o.code, o)
		}
		v := verdict(t, vf)
		if v["status"] != "ML" || v["oom_killed"] != true {
			t.Errorf("verdict status %v oom_killed %v, want ML true", v["status"], v["oom_killed"])
		}
		t.Logf("layer: memory cgroup (verdict %v, max_rss_kib %v)", v["status"], v["max_rss_kib"])
	})
}

// tiocstiRun runs the tiocsti attack with a new pty of the host as nook's
// stdin and controlling terminal (as a user's terminal is), in raw mode,
// and returns the outcome and how many bytes wait in the terminal's input
// afterwards.
func tiocstiRun(t *testing.T, flags ...string) (*outcome, int) {
	t.Helper()
	master, slave := testutil.OpenPTY(t)
	tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	tio.Lflag &^= unix.ICANON | unix.ECHO | unix.ISIG
	tio.Cc[unix.VMIN], tio.Cc[unix.VTIME] = 0, 0
	if err := unix.IoctlSetTermios(int(slave.Fd()), unix.TCSETS, tio); err != nil {
		t.Fatal(err)
	}
	o := attack(t, opts{flags: flags, prep: func(c *exec.Cmd) {
		c.Stdin = slave
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	}}, "tiocsti")
	n, err := unix.IoctlGetInt(int(slave.Fd()), unix.TIOCINQ)
	if err != nil {
		t.Fatal(err)
	}
	// anything the terminal shows (echo is off: nothing expected)
	mfd := int(master.Fd()) // Fd makes it blocking: poll before reading
	if p := []unix.PollFd{{Fd: int32(mfd), Events: unix.POLLIN}}; func() bool {
		n, _ := unix.Poll(p, 100)
		return n > 0 && p[0].Revents&unix.POLLIN != 0
	}() {
		buf := make([]byte, 64)
		if m, _ := unix.Read(mfd, buf); m > 0 {
			t.Logf("the terminal showed %q", buf[:m])
		}
	}
	return o, n
}

func openDir(t *testing.T, dir string) *os.File {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// bindSource returns a world-readable host directory with a file
// bind-marker in it.
func bindSource(t *testing.T) string {
	t.Helper()
	d := worldDir(t)
	if err := os.WriteFile(filepath.Join(d, "bind-marker"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}

func verdict(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("verdict: %v", err)
	}
	v := map[string]any{}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("verdict %s: %v", b, err)
	}
	return v
}

// hostForks checks that the host can still start a process.
func hostForks(t *testing.T) {
	t.Helper()
	if err := exec.Command("true").Run(); err != nil {
		t.Errorf("the host cannot fork after the bomb: %v", err)
	}
}

// hostKnobs are host files whose content the attacks aim at; none may
// change.
var hostKnobs = []string{
	"/proc/sys/kernel/hostname", "/proc/sys/kernel/domainname", "/proc/sys/kernel/core_pattern",
	"/proc/sys/kernel/modprobe", "/proc/sys/kernel/sysrq", "/proc/sys/vm/overcommit_memory",
	"/proc/sys/fs/suid_dumpable", "/proc/sys/kernel/randomize_va_space",
	"/sys/kernel/mm/transparent_hugepage/enabled", "/sys/kernel/uevent_helper", "/sys/kernel/kexec_loaded",
	"/sys/kernel/kexec_crash_loaded",
}

// loadedModules returns the names of the loaded kernel modules, one a
// line, sorted: /proc/modules without its reference counts and users,
// which change whenever the host uses a module.
func loadedModules() string {
	b, err := os.ReadFile("/proc/modules")
	if err != nil {
		return ""
	}
	var names []string
	for _, l := range testutil.Lines(string(b)) {
		if f := strings.Fields(l); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return strings.Join(sorted(names), "\n")
}

// checkHostUnchanged snapshots the host's knobs, its mounts and the nook
// binary now, and compares them when the test (and its subtests) end.
func checkHostUnchanged(t *testing.T) {
	t.Helper()
	snap := func() map[string]string {
		m := map[string]string{}
		for _, p := range hostKnobs {
			if b, err := os.ReadFile(p); err == nil {
				m[p] = string(b)
			}
		}
		return m
	}
	before := snap()
	modules := loadedModules()
	mounts := strings.Join(sorted(testutil.MountPoints()), "\n")
	nookSum := sha(t, testutil.Nook(t))
	t.Cleanup(func() {
		after := snap()
		for _, p := range hostKnobs {
			if before[p] != after[p] {
				t.Errorf("ATTACK SUCCEEDED: host %s changed: %q, was %q", p, after[p], before[p])
			}
		}
		// a module unloaded is the attack's doing (delete_module); one
		// loaded is the host's: parallel tests of other packages load
		// nf_tables, veth or bridge on first use
		if now := loadedModules(); now != modules {
			for _, l := range strings.Split(diffLines(modules, now), "\n") {
				if strings.HasPrefix(l, "- ") {
					t.Errorf("ATTACK SUCCEEDED: kernel module %s was unloaded", strings.TrimPrefix(l, "- "))
				} else if l != "" {
					t.Logf("note: kernel module %s was loaded during the tests (parallel tests of other packages may do this)", strings.TrimPrefix(l, "+ "))
				}
			}
		}
		if now := strings.Join(sorted(testutil.MountPoints()), "\n"); now != mounts {
			t.Logf("note: the host's mount table changed during the tests (parallel tests of other packages may do this):\n%s", diffLines(mounts, now))
		}
		if s := sha(t, testutil.Nook(t)); s != nookSum {
			t.Errorf("ATTACK SUCCEEDED: the nook binary changed")
		}
	})
}

func sorted(l []string) []string {
	l = append([]string(nil), l...)
	sort.Strings(l)
	return l
}

func diffLines(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out []string
	for l := range mb {
		if !ma[l] {
			out = append(out, "+ "+l)
		}
	}
	for l := range ma {
		if !mb[l] {
			out = append(out, "- "+l)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

package attacks

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nookrun/nook/internal/testutil"
)

// privilegedCase is an attack that --privileged lets through, on a
// harmless target: it proves that the test would see the escape.
type privilegedCase struct {
	name    string
	attack  string
	args    []string
	escapes []string // attempts that must get through
}

// Only attacks that change nothing outside the sandbox, even when they
// work: a tmpfs in the sandbox's own mount namespace, the sandbox's own
// host name, reads of masked files, a null device node, bpf and keyring
// calls the kernel rejects or that touch only the process's own keyring,
// and a read-only listing of a directory opened by handle. Never sysrq,
// sysctls of the host, modules, kexec or reboot.
var privilegedCases = []privilegedCase{
	{"mount-tmpfs", "mount", []string{"tmpfs"}, []string{"mount-tmpfs"}},
	{"sysctl-uts", "sysctl-hostname", nil, []string{"sysctl-hostname", "sysctl-domainname"}},
	{"masked-paths", "masked", []string{"/proc/timer_list", "/sys/firmware"}, []string{"masked:/proc/timer_list", "masked:/sys/firmware"}},
	{"mknod-null", "mknod", []string{"null"}, []string{"mknod-null-dev"}},
	{"bpf", "bpf", nil, []string{"bpf", "bpf-map"}},
	{"keyring", "keyring", nil, []string{"keyctl", "add_key"}},
	{"userns", "userns", nil, []string{"userns-clone", "clone3"}},
	{"shocker", "shocker", nil, []string{"name_to_handle_at", "open_by_handle_at"}},
}

// TestPrivilegedControls runs a few attacks with --privileged, where
// they must get through: the attacks are real, and a blocked result in
// TestEscapes is not a false negative.
func TestPrivilegedControls(t *testing.T) {
	testutil.RequireRoot(t)
	checkHostUnchanged(t)
	host, _ := os.Hostname()
	for _, c := range privilegedCases {
		t.Run(c.name, func(t *testing.T) {
			start(t)
			o := attack(t, opts{flags: []string{"--privileged"}}, c.attack, c.args...)
			o.ran(t)
			for _, e := range c.escapes {
				o.escaped(t, e)
			}
		})
	}
	t.Run("tiocsti", func(t *testing.T) {
		start(t)
		o, queued := tiocstiRun(t, "--privileged")
		o.ran(t)
		o.escaped(t, "tiocsti")
		if queued == 0 {
			t.Errorf("--privileged: TIOCSTI went through, but the test sees nothing in the terminal's input")
		} else {
			t.Logf("%d byte(s) pushed into the test's own terminal: the check sees it", queued)
		}
	})
	t.Cleanup(func() {
		if now, _ := os.Hostname(); now != host {
			t.Errorf("the host's name changed: %q, was %q", now, host)
		}
	})
}

// depthCase is an attack run with --seccomp unconfined: what stands
// without the filter.
type depthCase struct {
	attack string
	args   []string
	want   want   // blocked by another layer; nil: seccomp is the only one
	layer  string // what stands without seccomp
	needs  string // a kernelFeatures key: skipped on kernels without it
}

// Only attacks whose success changes nothing outside the sandbox:
// mounts land in its own mount namespace, device nodes are opened
// read-only and never read, keys go to the process's own keyring, a user
// namespace child exits at once, and the module, kexec and reboot calls
// carry arguments the kernel rejects right after its permission check.
var depthCases = []depthCase{
	{attack: "mount", want: want{"*": eperm}, layer: "no CAP_SYS_ADMIN"},
	{attack: "modules", want: want{"*": eperm}, layer: "no CAP_SYS_MODULE", needs: "modules"},
	{attack: "kexec", want: want{"kexec_file_load": eperm, "kexec_load": eperm, "reboot": eperm},
		layer: "no CAP_SYS_BOOT", needs: "kexec"},
	{attack: "sysrq", want: want{"sysrq": readOnly}, layer: "read-only /proc/sysrq-trigger", needs: "sysrq"},
	// name_to_handle_at only makes a handle; opening one is the escape
	{attack: "shocker", want: want{"open_by_handle_at": eperm}, layer: "no CAP_DAC_READ_SEARCH"},
	{attack: "ptrace", want: want{"*": ptraceNo}, layer: "init not dumpable"},
	{attack: "sysctl-global", want: want{"*": append([]string{absent}, readOnly...)}, layer: "read-only /proc/sys"},
	{attack: "sysfs", want: want{"*": append([]string{absent}, readOnly...)}, layer: "read-only /sys"},
	{attack: "masked", want: want{"*": hidden}, layer: "masked paths"},
	{attack: "bpf", layer: "kernel.unprivileged_bpf_disabled (a host setting), if set"},
	{attack: "userfaultfd", layer: "vm.unprivileged_userfaultfd=0 (a host setting), if set"},
	{attack: "perf", layer: "none: perf_event_paranoid allows self-monitoring"},
	{attack: "keyring", layer: "none"},
	{attack: "userns", layer: "none: a user namespace is the kernel's to give"},
	{attack: "mknod", want: want{"*": eperm}, layer: "no CAP_MKNOD in nook run's default set (with --cap-add MKNOD: the device cgroup, see TestDevicesWithoutCgroup)"},
}

// TestWithoutSeccomp runs attacks with --seccomp unconfined and default
// capabilities, and reports which layer still stops each: where the plan
// says there is a second layer, it must hold; where seccomp is the only
// one, the result is logged.
func TestWithoutSeccomp(t *testing.T) {
	testutil.RequireRoot(t)
	checkHostUnchanged(t)
	for _, c := range depthCases {
		t.Run(c.attack, func(t *testing.T) {
			if c.needs != "" {
				requireKernel(t, c.needs)
			}
			start(t)
			o := attack(t, opts{flags: []string{"--seccomp", "unconfined"}}, c.attack, c.args...)
			o.ran(t)
			if c.want != nil {
				escapeCase{want: c.want}.check(t, o)
				t.Logf("without seccomp, still stopped by: %s", c.layer)
				return
			}
			var lines []string
			for _, n := range o.order {
				r := o.results[n]
				lines = append(lines, n+" "+r.verdict+" "+r.detail)
			}
			t.Logf("without seccomp (%s):\n  %s", c.layer, strings.Join(lines, "\n  "))
		})
	}
}

// TestGuard checks the attacker's own safety catch, with the harmless
// "noop" attack: outside a sandbox, without the host's namespace inodes,
// or in the host's pid namespace (--share pid), it refuses with exit 99
// before doing anything.
func TestGuard(t *testing.T) {
	testutil.RequireRoot(t)
	bin := filepath.Join(attackerDir(t), "attacker")
	for _, c := range []struct {
		name string
		cmd  func(t *testing.T) *exec.Cmd
	}{
		{"on-the-host", func(t *testing.T) *exec.Cmd {
			cmd := exec.Command(bin, "noop")
			cmd.Env = append(os.Environ(), "NOOK_HOST_PIDNS="+nsInode(t, "pid"), "NOOK_HOST_MNTNS="+nsInode(t, "mnt"))
			return cmd
		}},
		{"no-inodes", func(t *testing.T) *exec.Cmd {
			return testutil.Command(t, "run", "--bind", attackerDir(t)+":/attack:ro", "--", "/attack/attacker", "noop")
		}},
		{"host-pid-namespace", func(t *testing.T) *exec.Cmd {
			args := append([]string{"run", "--share", "pid", "--bind", attackerDir(t) + ":/attack:ro"}, guardEnv(t)...)
			return testutil.Command(t, append(args, "--", "/attack/attacker", "noop")...)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			start(t)
			cmd := c.cmd(t)
			out, errOut, code := testutil.RunCmd(t, cmd)
			if code != 99 || testutil.HasLine(out, "GUARD ok") {
				t.Errorf("%s: exit %d, want 99 (refused)\nstdout:\n%s\nstderr:\n%s", testutil.Quote(cmd.Args), code, out, errOut)
			} else {
				t.Logf("refused: %s", strings.TrimSpace(errOut))
			}
		})
	}
}

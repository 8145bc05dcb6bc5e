package e2e

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/nookrun/nook/internal/testutil"
)

// The namespaces `nook run` creates by default, by their /proc/self/ns name.
var defaultNamespaces = []string{"pid", "mnt", "uts", "ipc", "net", "cgroup"}

// hostNS returns the inode of the test process's namespace of kind name.
func hostNS(t *testing.T, name string) uint64 {
	t.Helper()
	fi, err := os.Stat("/proc/self/ns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// sandboxNS runs `stat` in a sandbox made with flags and returns the inodes
// of its namespaces, by name.
func sandboxNS(t *testing.T, flags ...string) map[string]uint64 {
	t.Helper()
	args := append([]string{"run"}, flags...)
	args = append(args, "--", "stat", "-L", "-c", "%n %i")
	for _, n := range []string{"pid", "mnt", "uts", "ipc", "net", "cgroup", "user", "time"} {
		args = append(args, "/proc/self/ns/"+n)
	}
	out := nook(t, args...)
	ns := map[string]uint64{}
	for _, l := range testutil.Lines(out) {
		path, ino, _ := strings.Cut(l, " ")
		v, err := strconv.ParseUint(ino, 10, 64)
		if err != nil {
			t.Fatalf("stat printed %q", l)
		}
		ns[strings.TrimPrefix(path, "/proc/self/ns/")] = v
	}
	return ns
}

func TestRunCreatesPidMntUtsIpcNetCgroupNamespaces(t *testing.T) {
	e2e(t)
	ns := sandboxNS(t)
	for _, name := range defaultNamespaces {
		if ns[name] == 0 || ns[name] == hostNS(t, name) {
			t.Errorf("%s namespace inside is %d, the host's is %d: want a new one", name, ns[name], hostNS(t, name))
		}
	}
	for _, name := range []string{"user", "time"} {
		if ns[name] != hostNS(t, name) {
			t.Errorf("%s namespace inside is %d, the host's is %d: want the host's (not unshared by default)", name, ns[name], hostNS(t, name))
		}
	}
}

func TestShareKeepsTheHostsNamespace(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	for _, name := range []string{"pid", "uts", "ipc", "net", "cgroup"} {
		t.Run(name, func(t *testing.T) {
			e2e(t)
			ns := sandboxNS(t, "--share", name)
			if ns[name] != hostNS(t, name) {
				t.Errorf("--share %s: %s namespace inside is %d, want the host's %d", name, name, ns[name], hostNS(t, name))
			}
			for _, other := range defaultNamespaces {
				if other != name && ns[other] == hostNS(t, other) {
					t.Errorf("--share %s: %s namespace is the host's, want a new one", name, other)
				}
			}
		})
	}
}

func TestShareMntIsRefused(t *testing.T) {
	e2e(t)
	_, stderr, code := testutil.Run(t, "run", "--share", "mnt", "--", "true")
	if code == 0 || !strings.Contains(stderr, "--share") {
		t.Errorf("--share mnt: exit status %d, stderr %q: want an error naming --share", code, stderr)
	}
}

func TestUnshareUserAndTime(t *testing.T) {
	e2e(t)
	ns := sandboxNS(t, "--unshare", "user,time")
	for _, name := range []string{"user", "time"} {
		if ns[name] == 0 || ns[name] == hostNS(t, name) {
			t.Errorf("--unshare user,time: %s namespace inside is %d, host's %d: want a new one", name, ns[name], hostNS(t, name))
		}
	}
}

// ps lists the sandbox's processes as PID -> command name.
func ps(t *testing.T, flags ...string) map[int]string {
	t.Helper()
	args := append([]string{"run"}, flags...)
	out := nook(t, append(args, "--", "ps", "-e", "-o", "pid=,comm=")...)
	procs := map[int]string{}
	for _, l := range testutil.Lines(out) {
		f := strings.Fields(l)
		pid, err := strconv.Atoi(f[0])
		if err != nil || len(f) != 2 {
			t.Fatalf("ps printed %q", l)
		}
		procs[pid] = f[1]
	}
	return procs
}

func TestPsSeesOnlyTheSandboxInitIsPID1(t *testing.T) {
	e2e(t)
	procs := ps(t)
	want := map[int]string{1: "nook-init", 2: "ps"}
	if len(procs) != len(want) || procs[1] != want[1] || procs[2] != want[2] {
		t.Errorf("ps -e inside: %v, want exactly %v", procs, want)
	}
}

func TestNoInitCommandIsPID1(t *testing.T) {
	e2e(t)
	procs := ps(t, "--no-init")
	if len(procs) != 1 || procs[1] != "ps" {
		t.Errorf("--no-init: ps -e inside: %v, want exactly map[1:ps]", procs)
	}
}

func TestShellSeesItselfAsPID2UnderInit(t *testing.T) {
	e2e(t)
	if got := nookLine(t, sh("echo $$")...); got != "2" {
		t.Errorf("$$ = %s, want 2", got)
	}
	if got := nookLine(t, sh("echo $$", "--no-init")...); got != "1" {
		t.Errorf("--no-init: $$ = %s, want 1", got)
	}
}

func TestHostnameIsNookByDefault(t *testing.T) {
	e2e(t)
	if got := nookLine(t, "run", "--", "hostname"); got != "nook" {
		t.Errorf("hostname = %q, want nook", got)
	}
}

func TestHostnameFlag(t *testing.T) {
	e2e(t)
	if got := nookLine(t, "run", "--hostname", "box-7", "--", "hostname"); got != "box-7" {
		t.Errorf("--hostname box-7: hostname = %q", got)
	}
}

func TestDomainnameFlag(t *testing.T) {
	e2e(t)
	got := nookLine(t, "run", "--domainname", "example.test", "--", "cat", "/proc/sys/kernel/domainname")
	if got != "example.test" {
		t.Errorf("--domainname example.test: domainname = %q", got)
	}
}

func TestNetworkHasOnlyLoopbackAndItIsUp(t *testing.T) {
	e2e(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip(8) on the host")
	}
	out := nook(t, "run", "--", "ip", "-o", "link")
	lines := testutil.Lines(out)
	if len(lines) != 1 || !strings.Contains(lines[0], " lo: ") {
		t.Fatalf("ip -o link inside:\n%s\nwant only lo", out)
	}
	flags := regexp.MustCompile(`<([^>]*)>`).FindStringSubmatch(lines[0])
	if flags == nil || !strings.Contains(","+flags[1]+",", ",UP,") {
		t.Errorf("lo is not up: %s", lines[0])
	}
	dev := nook(t, "run", "--", "cat", "/proc/net/dev")
	var ifaces []string
	for _, l := range testutil.Lines(dev) {
		if name, _, ok := strings.Cut(l, ":"); ok {
			ifaces = append(ifaces, strings.TrimSpace(name))
		}
	}
	if len(ifaces) != 1 || ifaces[0] != "lo" {
		t.Errorf("/proc/net/dev inside lists %v, want [lo]", ifaces)
	}
}

func TestIPCNamespaceHidesHostSysVObjects(t *testing.T) {
	e2e(t)
	if _, err := exec.LookPath("ipcmk"); err != nil {
		t.Skip("no ipcmk (util-linux)")
	}
	out, err := exec.Command("ipcmk", "-M", "4096").CombinedOutput()
	if err != nil {
		t.Fatalf("ipcmk -M 4096: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`id: (\d+)`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("ipcmk printed %q", out)
	}
	id := m[1]
	t.Cleanup(func() { exec.Command("ipcrm", "-m", id).Run() })

	lists := func(out string) bool {
		for _, l := range testutil.Lines(out) {
			if f := strings.Fields(l); len(f) > 1 && f[1] == id {
				return true
			}
		}
		return false
	}
	if inside := nook(t, "run", "--", "ipcs", "-m"); lists(inside) {
		t.Errorf("ipcs -m inside lists the host's segment %s:\n%s", id, inside)
	}
	if shared := nook(t, "run", "--share", "ipc", "--", "ipcs", "-m"); !lists(shared) {
		t.Errorf("--share ipc: ipcs -m inside does not list the host's segment %s:\n%s", id, shared)
	}
}

func TestCgroupNamespaceShowsItsOwnRoot(t *testing.T) {
	e2e(t)
	out := nook(t, "run", "--", "cat", "/proc/self/cgroup")
	// the 0:: line (cgroup v2) is there once cgroup2 was ever mounted:
	// never on a pure v1 host
	host, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	hasV2 := regexp.MustCompile(`(?m)^0::`).Match(host)
	if hasV2 && !testutil.HasLine(out, "0::/") {
		t.Errorf("/proc/self/cgroup inside has no line 0::/\n%s", out)
	}
	for _, l := range testutil.Lines(out) {
		if !strings.HasSuffix(l, ":/") {
			t.Errorf("/proc/self/cgroup inside: %q does not end in :/", l)
		}
	}
}

func uptime(t *testing.T, s string) float64 {
	t.Helper()
	f := strings.Fields(s)
	if len(f) == 0 {
		t.Fatalf("uptime %q", s)
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		t.Fatalf("uptime %q: %v", s, err)
	}
	return v
}

func TestTimeNamespaceOffsetsBoottime(t *testing.T) {
	e2e(t)
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		t.Fatal(err)
	}
	host := uptime(t, string(b))
	inside := uptime(t, nookLine(t, "run", "--unshare", "user,time", "--time-offset", "boottime=86400", "--", "cat", "/proc/uptime"))
	if inside < host+86000 {
		t.Errorf("--time-offset boottime=86400: uptime inside %.0f, host %.0f: want at least %.0f", inside, host, host+86000)
	}
}

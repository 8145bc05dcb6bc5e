package attacks

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nookrun/nook/internal/testutil"
	"golang.org/x/sys/unix"
)

// noCgroup is what `nook run --debug` says of a sandbox that gets no
// cgroup (container.CgroupNeed).
const noCgroup = "no cgroup: nothing needs one"

// deviceCase is a device attack on a sandbox whose device rules need no
// cgroup, or, with cgroup set, on one that gets the device cgroup.
type deviceCase struct {
	name   string
	flags  func(rootfs string) []string
	attack string
	args   []string
	want   want
	cgroup string // what --debug must say about the cgroup
	layer  string
	stdin  string // a file the sandbox's stdin is, opened read-only
}

// nodevRefused is a node that exists but may not be opened: EACCES from a
// nodev mount.
var nodevRefused = []string{"EACCES"}

// TestDevicesWithoutCgroup attacks device nodes in sandboxes that get no
// cgroup at all (nook run without limits): the device cgroup is not there
// to stop them, so the layers under it must. A node in the rootfs and one
// bound in from the host are there to be opened; none opens. mknod fails
// even without the seccomp filter, as CAP_MKNOD is not in the bounding
// set. With --cap-add MKNOD the device cgroup comes back and stops what
// CAP_MKNOD makes.
func TestDevicesWithoutCgroup(t *testing.T) {
	testutil.RequireRoot(t)
	checkHostUnchanged(t)
	rootfs := t.TempDir()
	for _, d := range []string{"bin", "dev", "proc", "sys", "tmp", "attack"} {
		if err := os.Mkdir(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// a rootfs's own nodes: a character device the sandbox's /dev does
	// not have (kmsg) and a block device (the first loop device)
	for _, n := range []struct {
		name string
		mode uint32
		dev  int
	}{{"kmsg", unix.S_IFCHR | 0o644, int(unix.Mkdev(1, 11))}, {"loop0", unix.S_IFBLK | 0o600, int(unix.Mkdev(7, 0))}} {
		if err := unix.Mknod(filepath.Join(rootfs, n.name), n.mode, n.dev); err != nil {
			t.Fatalf("mknod %s in the test's rootfs: %v", n.name, err)
		}
	}
	hostNode := "/dev/kmsg"
	if _, err := os.Stat(hostNode); err != nil {
		t.Skipf("no %s on the host to bind in: %v", hostNode, err)
	}
	for _, c := range []deviceCase{
		{name: "rootfs-nodes", flags: func(r string) []string { return []string{"--rootfs", r} },
			attack: "devopen", args: []string{"/kmsg", "/loop0"}, want: want{"*": nodevRefused}, cgroup: noCgroup,
			layer: "the rootfs is nodev (org.nookrun.root.nodev, which nook run sets)"},
		{name: "bound-node", flags: func(string) []string { return []string{"--bind", hostNode + ":/hostnode:ro"} },
			attack: "devopen", args: []string{"/hostnode"}, want: want{"*": nodevRefused}, cgroup: noCgroup,
			layer: "binds are nodev"},
		{name: "bound-node-in-rootfs", flags: func(r string) []string {
			return []string{"--rootfs", r, "--bind", hostNode + ":/hostnode"}
		}, attack: "devopen", args: []string{"/hostnode"}, want: want{"*": nodevRefused}, cgroup: noCgroup,
			layer: "binds are nodev"},
		{name: "mknod-without-seccomp", flags: func(r string) []string { return []string{"--rootfs", r, "--seccomp", "unconfined"} },
			attack: "mknod", want: want{"*": eperm}, cgroup: noCgroup,
			layer: "no CAP_MKNOD in the bounding set (nook run's default)"},
		{name: "mknod-with-cap-mknod", flags: func(r string) []string {
			return []string{"--rootfs", r, "--seccomp", "unconfined", "--cap-add", "MKNOD"}
		}, attack: "mknod", want: want{"mknod-blk-dev": eperm, "mknod-mem-dev": eperm, "*": {"EPERM", "open:EACCES", "open:EPERM"}},
			cgroup: "cgroup for: device rules: CAP_MKNOD",
			layer:  "the device cgroup, which denies making the nodes (m)"},
		// a device given as stdin, read-only, could be reopened through
		// /proc/self/fd (for writing too): nook keeps the device cgroup
		{name: "device-as-stdin", flags: func(r string) []string { return []string{"--rootfs", r} }, stdin: hostNode,
			attack: "devopen", args: []string{"/proc/self/fd/0"}, want: want{"*": eperm},
			cgroup: "cgroup for: device rules: the command's fd 0 is a device",
			layer:  "the device cgroup, kept for a device among the command's files"},
	} {
		t.Run(c.name, func(t *testing.T) {
			start(t)
			flags := append([]string{"--debug"}, c.flags(rootfs)...)
			var prep func(*exec.Cmd)
			if c.stdin != "" {
				f, err := os.Open(c.stdin)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				prep = func(cmd *exec.Cmd) { cmd.Stdin = f }
			}
			o := attack(t, opts{flags: flags, prep: prep}, c.attack, c.args...)
			o.ran(t)
			if strings.Contains(o.stderr, "pivot_root is impossible here") {
				// the host's mounts stay under the new root: the
				// device rules keep their cgroup (container.CgroupNeed)
				t.Skipf("no pivot_root on this machine:\n%s", o.stderr)
			}
			if !strings.Contains(o.stderr, "nook: debug: "+c.cgroup) {
				t.Errorf("--debug does not say %q:\n%s", c.cgroup, o.stderr)
			}
			escapeCase{want: c.want}.check(t, o)
			t.Logf("stopped by: %s", c.layer)
		})
	}
}

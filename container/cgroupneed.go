package container

import (
	"fmt"
	"os"
	"strings"

	"github.com/nookrun/nook/caps"
	"github.com/nookrun/nook/cgroups"
	"github.com/nookrun/nook/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// AnnotationRootNodev, set to "true" in a spec's annotations, makes the
// sandbox's root nodev, with every mount of the rootfs below it: no
// device node in a rootfs or image can be opened. The OCI spec has no
// mount options for the root, so this is nook's own annotation; `nook
// run` sets it for --rootfs and --image (the host view's root is an empty
// tmpfs, nodev already). Without it a root is bound as the spec says, as
// runc binds it.
const AnnotationRootNodev = "org.nookrun.root.nodev"

// rootNodev reads AnnotationRootNodev.
func rootNodev(s *specs.Spec) (bool, error) {
	switch v := s.Annotations[AnnotationRootNodev]; v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, spec.FieldErrorf("annotations["+AnnotationRootNodev+"]", "%q: want true or false", v)
	}
}

// CgroupNeed says whether a sandbox gets a cgroup of its own, and why:
// each thing that needs one is a reason. A sandbox with no reason gets no
// cgroup at all: nothing is made, joined or removed, and it is killed
// through its init and its pid namespace, which dies with init.
type CgroupNeed struct {
	// Reasons, in words ("limits: linux.resources.memory"); none means
	// no cgroup.
	Reasons []string
	// Controllers are the cgroup v1 controllers the reasons need (v2 has
	// one directory for all of them), for --debug and tests.
	Controllers []string
	// Devices reports whether the spec's device rules need the device
	// cgroup (v1) or device program (v2); DevicesWhy says why, or why
	// not. Device rules need none when the sandbox cannot reach a node
	// they deny whatever it does (devicesGuarded).
	Devices    bool
	DevicesWhy string
	// Resources are the spec's linux.resources as the cgroup gets them:
	// without device rules that guard nothing.
	Resources *specs.LinuxResources
	// Track: the cgroup is what finds the sandbox's processes to kill
	// (cgroups.Options.Track), as its pid namespace is not its own.
	Track bool
}

// Needed reports whether the sandbox gets a cgroup.
func (n CgroupNeed) Needed() bool { return len(n.Reasons) > 0 }

// String is what --debug says about it.
func (n CgroupNeed) String() string {
	if !n.Needed() {
		return "no cgroup: nothing needs one (device rules: " + n.DevicesWhy + ")"
	}
	s := "cgroup for: " + strings.Join(n.Reasons, "; ")
	if len(n.Controllers) > 0 {
		s += " (v1 controllers: " + strings.Join(n.Controllers, ", ") + ")"
	}
	return s
}

// CgroupNeed returns the container's decision, made by New.
func (c *Container) CgroupNeed() CgroupNeed { return c.need }

// decideCgroup is the one place that decides whether a sandbox gets a
// cgroup: makeCgroup makes one only for a reason given here, and so the
// state records one (and exec joins it, delete removes it) only then.
func decideCgroup(s *specs.Spec, o *Options, p *plan) CgroupNeed {
	var n CgroupNeed
	var res *specs.LinuxResources
	if s.Linux != nil {
		res = cgroupResources(s.Linux)
	}
	n.Devices, n.DevicesWhy = devicesNeedCgroup(s, res, o, p)
	if res != nil && len(res.Devices) > 0 && !n.Devices {
		cp := *res
		cp.Devices = nil
		res = &cp
	}
	n.Resources = res
	add := func(why string, ctrl ...string) {
		n.Reasons = append(n.Reasons, why)
		for _, c := range ctrl {
			if !containsString(n.Controllers, c) {
				n.Controllers = append(n.Controllers, c)
			}
		}
	}
	if o.Cgroup == CgroupAlways {
		add("Options.Cgroup is CgroupAlways")
	}
	if res != nil {
		if res.Memory != nil {
			add("limits: linux.resources.memory", "memory")
		}
		if res.Pids != nil {
			add("limits: linux.resources.pids", "pids")
		}
		if res.CPU != nil {
			add("limits: linux.resources.cpu", "cpu", "cpuset")
		}
		if len(res.Unified) > 0 {
			add("limits: linux.resources.unified")
		}
		if len(res.Devices) > 0 {
			add("device rules: "+n.DevicesWhy, "devices")
		}
	}
	if o.Limits.CPUTime > 0 {
		add("a CPU-time limit reads the CPU account", "cpuacct")
	}
	// what follows is had as root: a caller that is not root gets a
	// cgroup only for limits (one that cannot be made for accounting
	// alone would be an error where nothing is delegated)
	if os.Geteuid() == 0 && o.Cgroup == CgroupAuto {
		if o.Accounting {
			add("accounting (a verdict or an OCI container's stats)", "memory", "pids", "cpuacct", "freezer")
		}
		if s.Linux != nil && s.Linux.CgroupsPath != "" {
			add("linux.cgroupsPath")
		}
		if o.hold {
			add("an OCI container: pause and update act on its cgroup")
		}
		if !p.newPid {
			n.Track = true
			add("the pid namespace is not the sandbox's own: only a cgroup finds every process to kill", "freezer")
		}
	}
	if o.Cgroup == CgroupNever {
		n.Reasons, n.Controllers = nil, nil
	}
	return n
}

func containsString(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// ptyNodes are the nodes of a sandbox's own devpts instance: every pty
// (136:*) and its ptmx (5:2).
var ptyNodes = []cgroups.Device{{Type: 'c', Major: 136, Minor: cgroups.AnyMinor}, {Type: 'c', Major: 5, Minor: 2}}

// devicesNeedCgroup decides whether the spec's device rules need the
// device cgroup: they do unless the sandbox can reach no node they deny,
// whatever it does. It can reach none when
//   - it cannot make a node: CAP_MKNOD is not in its bounding set (mknod
//     of a device needs it in the host's user namespace, which no
//     process of the sandbox can gain back);
//   - it cannot mount or remount: CAP_SYS_ADMIN is not in its bounding
//     set (a user namespace it makes gets a mount namespace whose mounts'
//     nodev is locked, and file systems it mounts there are nodev by the
//     kernel);
//   - every mount but nook's own /dev (a fresh tmpfs holding only the
//     nodes nook made) and devpts is nodev, the root included, and the
//     root was pivoted to (without pivot_root the host's mounts stay in
//     the namespace, under the new root);
//   - the rules allow reading and writing every node nook put in /dev,
//     the ptys, and each device the command's open files are (its stdin,
//     stdout, stderr and ExtraFiles: /proc/self/fd reopens them, maybe
//     for writing where the fd was read-only): dropping the rules then
//     takes nothing away.
func devicesNeedCgroup(s *specs.Spec, res *specs.LinuxResources, o *Options, p *plan) (bool, string) {
	if res == nil || len(res.Devices) == 0 {
		return false, "none"
	}
	pc := s.Process.Capabilities
	if pc == nil {
		return true, "process.capabilities is unset: the command keeps its user's capabilities"
	}
	// names that cannot be granted are skipped (with a warning, by
	// compileProcess), so they cannot be in the bounding set either
	set, _ := caps.FromSpec(pc)
	if set.Bounding&(1<<unix.CAP_MKNOD) != 0 {
		return true, "CAP_MKNOD is in the bounding set: the sandbox could make any node"
	}
	if set.Bounding&(1<<unix.CAP_SYS_ADMIN) != 0 {
		return true, "CAP_SYS_ADMIN is in the bounding set: the sandbox could mount, or remount without nodev"
	}
	if p.noPivot {
		return true, "no pivot_root: the host's mounts stay in the sandbox's mount namespace"
	}
	if !p.rootNodev {
		return true, "the root is not nodev (" + AnnotationRootNodev + " not set)"
	}
	for i, m := range s.Mounts {
		if i == 0 && overlayRoot(s) {
			continue // the root, above
		}
		if (m.Destination == "/dev" && m.Type == "tmpfs") || m.Type == "devpts" {
			continue // nook's own nodes; ptys
		}
		switch m.Type {
		case "proc", "sysfs", "mqueue", "cgroup", "cgroup2":
			continue // no device nodes in them
		}
		flags, _, _, _, err := mountOptions(m.Options)
		if err != nil || flags&unix.MS_NODEV == 0 {
			return true, fmt.Sprintf("mounts[%d] (%s) is not nodev", i, m.Destination)
		}
	}
	nodes := append(append([]cgroups.Device(nil), p.nodes...), ptyNodes...)
	ok, err := cgroups.DevicesAllow(res.Devices, nodes)
	if err != nil {
		return true, err.Error() // Create reports it
	}
	if !ok {
		return true, "they deny a node the sandbox's /dev holds"
	}
	if i, d, denied := deniedDevice(passedFDs(o), res.Devices, nil); denied {
		return true, fmt.Sprintf("the command's fd %d is a device (%c %d:%d) they deny, which /proc/self/fd could reopen", i, d.Type, d.Major, d.Minor)
	}
	return false, "no CAP_MKNOD, no CAP_SYS_ADMIN, every mount but /dev nodev: the sandbox reaches only the nodes the rules allow"
}

// passedFDs are the descriptors the command gets, by its number: stdin,
// stdout and stderr (nook's own where Options names none) and ExtraFiles.
func passedFDs(o *Options) []int {
	fds := []int{0, 1, 2}
	for i, f := range []*os.File{o.Stdin, o.Stdout, o.Stderr} {
		if f != nil {
			fds[i] = int(f.Fd())
		}
	}
	for _, f := range o.ExtraFiles {
		if f != nil {
			fds = append(fds, int(f.Fd()))
		}
	}
	return fds
}

// deviceOf is the cgroups.Device of a node's mode and number.
func deviceOf(mode uint32, rdev uint64) (cgroups.Device, bool) {
	var t byte
	switch mode & unix.S_IFMT {
	case unix.S_IFCHR:
		t = 'c'
	case unix.S_IFBLK:
		t = 'b'
	default:
		return cgroups.Device{}, false
	}
	return cgroups.Device{Type: t, Major: int64(unix.Major(rdev)), Minor: int64(unix.Minor(rdev))}, true
}

// cgroupResources are the spec's linux.resources as a device cgroup would
// enforce them: where its rules restrict devices, the standard nodes
// after them (withStandardDevices) and each node linux.devices makes
// (allowSpecDevices), as runc does.
func cgroupResources(lx *specs.Linux) *specs.LinuxResources {
	return allowSpecDevices(withStandardDevices(lx.Resources), lx.Devices)
}

// deniedDevice finds the first of fds that is a device the rules do not
// let a process open for reading and writing (rules that Create would
// refuse deny), and returns its index in fds. A descriptor that is not
// open, is no device, or that skip passes over is not looked at.
func deniedDevice(fds []int, rules []specs.LinuxDeviceCgroup, skip func(fd int) bool) (int, cgroups.Device, bool) {
	for i, fd := range fds {
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil {
			continue // not open: nothing passed
		}
		d, isDev := deviceOf(st.Mode, st.Rdev)
		if !isDev || (skip != nil && skip(fd)) {
			continue
		}
		if ok, err := cgroups.DevicesAllow(rules, []cgroups.Device{d}); err != nil || !ok {
			return i, d, true
		}
	}
	return 0, cgroups.Device{}, false
}

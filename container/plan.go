package container

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/nookrun/nook/cgroups"
	"github.com/nookrun/nook/internal/spawn"
	"github.com/nookrun/nook/namespaces"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// plan is a spec compiled for the child: the clone flags, the steps, and
// what the parent has to do between clone and release.
type plan struct {
	steps      spawn.Plan
	cloneFlags uint64
	newUser    bool // the parent writes ID maps
	newCgroup  bool
	// ownCgroupNS: the container has a cgroup namespace other than
	// nook's, new or joined by path
	ownCgroupNS bool
	tty         bool
	// what decideCgroup needs to know of the sandbox: its pid namespace
	// its own, the root built without pivot_root, the root nodev, and
	// the nodes its /dev holds
	newPid    bool
	noPivot   bool
	rootNodev bool
	nodes     []cgroups.Device
	// shareMemory: the child may share nook's memory (see
	// spawn.Config.ShareMemory)
	shareMemory bool
	// pidNS is a pid namespace to join, given by path: the child is
	// cloned into it (spawn.Config.PidNS), since a setns step would
	// leave the child itself outside
	pidNS string
}

// compile turns a validated spec into the child's steps. Everything that
// can be decided before clone is decided here, in Go, so the child only
// makes system calls. The order of the steps is the order of the start
// path in doc.go.
func compile(id string, s *specs.Spec, o *Options) (*plan, error) {
	p := &plan{}
	st := &p.steps
	lx := s.Linux
	if lx == nil {
		lx = &specs.Linux{}
	}

	// 1. namespaces: new ones come from clone3, except cgroup (the child
	// must join its cgroup first, so that the namespace's root is that
	// cgroup) and time (its offsets must be written before anyone is in
	// it). Existing ones are joined by path.
	var newNS = map[namespaces.Type]bool{}
	var join []specs.LinuxNamespace
	for _, ns := range lx.Namespaces {
		if namespaces.CloneFlag(ns.Type) == 0 {
			return nil, fmt.Errorf("linux.namespaces: unknown type %q", ns.Type)
		}
		if ns.Path != "" {
			join = append(join, ns)
			continue
		}
		newNS[ns.Type] = true
		switch ns.Type {
		case namespaces.Cgroup, namespaces.Time:
		default:
			p.cloneFlags |= uint64(namespaces.CloneFlag(ns.Type))
		}
	}
	p.newUser = newNS[namespaces.User]
	p.newPid = newNS[namespaces.PID]
	// Not under a memory limit: the kernel's OOM killer kills every
	// process of a victim's memory, so a sandbox's OOM kill that picked
	// init (large, by nook's memory) would kill nook and its janitor with
	// it, and the verdict and the cleanup with them (seen in the VM
	// harness, on cgroup v2). A copy's init dies alone.
	p.shareMemory = runtime.GOARCH == "amd64" && !newNS[namespaces.Time] &&
		!joins(join, namespaces.User) && !joins(join, namespaces.Time) &&
		!memoryLimited(lx.Resources)
	p.newCgroup = newNS[namespaces.Cgroup]
	p.ownCgroupNS = p.newCgroup || joins(join, namespaces.Cgroup)
	// the user namespace first: joining it decides what the others may do
	for _, ns := range join {
		if ns.Type == namespaces.User {
			st.Setns(ns.Path, uint64(namespaces.CloneFlag(ns.Type)))
		}
	}
	for _, ns := range join {
		switch ns.Type {
		case namespaces.User:
		case namespaces.PID:
			p.pidNS = ns.Path
		default:
			st.Setns(ns.Path, uint64(namespaces.CloneFlag(ns.Type)))
		}
	}
	st.Setsid()
	if p.newUser && mapsRoot(lx.UIDMappings) && mapsRoot(lx.GIDMappings) {
		// be the new user namespace's root from here on, as runc's init
		// is: the child's credentials are still its creator's, and where
		// the creator is not mapped (host root, mapped away) every file
		// it made (a mount point in /dev) would fail with EOVERFLOW. The
		// process's own user comes later, as always.
		st.User(spawn.User{UID: 0, GID: 0, Groups: []uint32{}})
	}
	if p.newCgroup {
		st.Unshare(unix.CLONE_NEWCGROUP)
	}
	if newNS[namespaces.Time] {
		st.Unshare(unix.CLONE_NEWTIME)
		var off strings.Builder
		for _, clock := range []string{"monotonic", "boottime"} {
			if v, ok := lx.TimeOffsets[clock]; ok {
				fmt.Fprintf(&off, "%s %d %d\n", clock, v.Secs, v.Nanosecs)
			}
		}
		if off.Len() > 0 {
			st.Write("/proc/self/timens_offsets", off.String())
		}
		// enter it ourselves, so that the command is in it with or
		// without an init between
		st.Setns("/proc/self/ns/time_for_children", unix.CLONE_NEWTIME)
	} else if len(lx.TimeOffsets) > 0 {
		return nil, fmt.Errorf("linux.timeOffsets: needs a new time namespace")
	}

	// 2. host name and network
	if s.Hostname != "" {
		if !newNS[namespaces.UTS] && !joins(join, namespaces.UTS) {
			return nil, fmt.Errorf("hostname: needs a uts namespace of its own")
		}
		st.Hostname(s.Hostname)
	}
	if s.Domainname != "" {
		st.Domainname(s.Domainname)
	}
	if newNS[namespaces.Network] {
		st.Loopback()
	}
	if err := compileSysctls(st, lx.Sysctl, newNS, join); err != nil {
		return nil, err
	}

	// 3. the root file system
	var err error
	if newNS[namespaces.Mount] {
		err = compileRoot(st, p, id, s, lx, o)
	} else {
		// chrooted, not pivoted: the device cgroup stays (see CgroupNeed)
		p.noPivot = true
		err = compileSharedRoot(st, id, s, lx, o)
	}
	if err != nil {
		return nil, err
	}

	proc := s.Process
	if proc.Terminal {
		p.tty = true
		var rows, cols uint16
		if b := proc.ConsoleSize; b != nil {
			if b.Height > 0xffff || b.Width > 0xffff {
				return nil, fmt.Errorf("process.consoleSize: %dx%d is larger than a terminal can be", b.Height, b.Width)
			}
			rows, cols = uint16(b.Height), uint16(b.Width)
		}
		st.TTY(rows, cols)
	}
	cwd := proc.Cwd
	if cwd == "" {
		cwd = "/"
	}
	st.Chdir(cwd)
	if proc.OOMScoreAdj != nil {
		st.Write("/proc/self/oom_score_adj", fmt.Sprint(*proc.OOMScoreAdj))
	}

	// 4. who the command runs as, and what it may do
	var filter []byte
	var filterFlags uint32
	if lx.Seccomp != nil {
		var err error
		if filter, filterFlags, err = compileSeccomp(lx.Seccomp, o.SeccompCache); err != nil {
			return nil, err
		}
	}
	if err := compileProcess(st, proc, filter, filterFlags, !(p.newUser && o.DenySetgroups), warner(o.Warnf)); err != nil {
		return nil, err
	}
	// startContainer: at start, in the container, before its command
	if s.Hooks != nil {
		if err := compileHooks(st, "startContainer", s.Hooks.StartContainer, id, s, o, "", true); err != nil {
			return nil, err
		}
	}
	st.Exec(o.Init)
	if err := st.Err(); err != nil {
		return nil, err
	}
	return p, nil
}

// compileRoot builds the root file system in the container's own mount
// namespace: propagation, the new root, mounts, devices, masked and
// read-only paths, the createContainer hooks, the pivot.
func compileRoot(st *spawn.Plan, p *plan, id string, s *specs.Spec, lx *specs.Linux, o *Options) error {
	prop, err := propagation(lx.RootfsPropagation)
	if err != nil {
		return err
	}
	// a shared or unbindable tree cannot be built and pivoted (the
	// rootfs's bind onto itself and pivot_root refuse it with EINVAL):
	// it is built as a slave (shared: still receiving the host's
	// mounts) or private tree, and "/" gets the asked propagation after
	// the pivot, as runc and crun apply it
	late := prop&(unix.MS_SHARED|unix.MS_UNBINDABLE) != 0
	switch {
	case prop&unix.MS_SHARED != 0:
		st.Propagation(unix.MS_REC | unix.MS_SLAVE)
	case late:
		st.Propagation(unix.MS_REC | unix.MS_PRIVATE)
	default:
		st.Propagation(uint64(prop))
	}
	noPivot := o.NoPivot
	switch why := pivotImpossible(); {
	case o.NoPivot:
		o.debugf("NoPivot: the new root is moved onto / and chrooted into, not pivoted to")
	case why != "":
		o.debugf("pivot_root is impossible here (%s): the new root is moved onto / and chrooted into instead (as NoPivot does)", why)
		noPivot = true
	}
	if noPivot {
		st.NoPivot()
	}
	p.noPivot = noPivot
	nodev, err := rootNodev(s)
	if err != nil {
		return err
	}
	host := "" // where the host's "/" is, while the new root is built
	mounts := s.Mounts
	switch {
	case overlayRoot(s):
		st.BasePivot("/tmp")
		host = "/oldroot"
		ov, err := overlayRootData(mounts[0], s.Root.Readonly, p.newUser, host, o.Bundle)
		if err != nil {
			return err
		}
		ov.Path = "/newroot"
		st.OverlayRoot(*ov)
		mounts = mounts[1:]
		if nodev {
			st.RootNodev()
		}
		// an overlay mounted in a user namespace is nodev by the kernel
		p.rootNodev = nodev || p.newUser
	case s.Root == nil || s.Root.Path == "":
		st.BasePivot("/tmp")
		st.Root("/newroot", true)
		host = "/oldroot"
		p.rootNodev = true // a tmpfs the child mounts nodev
	default:
		st.Root(s.Root.Path, false)
		if nodev {
			st.RootNodev()
		}
		p.rootNodev = nodev
	}
	label := lx.MountLabel
	if label != "" && !selinuxEnabled() {
		// runtime-tools' linux_mount_label sends one on any host, and
		// runc and crun mount without it there: a warning, not a
		// refusal (unlike process.selinuxLabel, which leaves no
		// process unconfined that asked to be confined: a mount
		// without SELinux has no label to miss)
		warner(o.Warnf)("linux.mountLabel %q: SELinux is not enabled on this host; the mounts get no context", label)
		label = ""
	}
	cgroupBind := ""
	if !p.ownCgroupNS && hasCgroupMount(mounts) {
		// a bind of the host's tree, not a new mount (see
		// cgroups.UnifiedMount); "" where there is none to bind
		cgroupBind = cgroups.UnifiedMount()
	}
	if err := compileMounts(st, mounts, host, o.Bundle, label, cgroupBind); err != nil {
		return err
	}
	if p.nodes, err = compileDevices(st, s.Mounts, lx.Devices, host); err != nil {
		return err
	}
	for _, m := range lx.MaskedPaths {
		st.Mask(m)
	}
	for _, r := range lx.ReadonlyPaths {
		st.Readonly(r)
	}
	if noPivot {
		// the host's full proc and sys stay in the namespace otherwise
		rootDir := "" // a base root holds none of the host's mounts
		if host == "" {
			rootDir = s.Root.Path
		}
		for _, m := range fullProcSys(rootDir) {
			st.Detach(m)
		}
	}
	// createContainer: the environment made, before the pivot, in the
	// container's namespaces; the path is the host's
	if s.Hooks != nil {
		if err := compileHooks(st, "createContainer", s.Hooks.CreateContainer, id, s, o, host, false); err != nil {
			return err
		}
	}
	st.Pivot()
	if late {
		st.Propagation(uint64(prop))
	}
	if s.Root != nil && s.Root.Readonly {
		st.RootReadonly()
	}
	return nil
}

// compileSharedRoot is the root of a container with no mount namespace of
// its own: the caller's (no mount entry in linux.namespaces) or one
// joined by path. That namespace is not the container's to change: a
// mount made there is the host's, or the namespace owner's, and outlives
// the container. (runc and crun mount the rootfs and every mount of the
// spec there and chroot; runc leaves them all on the host after the
// container is gone.) So nook mounts nothing there: the process is
// chrooted into root.path, as they do, looked up in that namespace; the
// spec's mounts, linux.devices and linux.rootfsPropagation are skipped
// with a warning (the runtime spec's rule for what cannot be had); and
// what only a mount makes safe is refused: masked and read-only paths, a
// read-only root, and a root nook would build itself.
func compileSharedRoot(st *spawn.Plan, id string, s *specs.Spec, lx *specs.Linux, o *Options) error {
	const why = "needs a mount namespace of the container's own (linux.namespaces has none)"
	switch {
	case len(lx.MaskedPaths) > 0:
		return fmt.Errorf("linux.maskedPaths: %s", why)
	case len(lx.ReadonlyPaths) > 0:
		return fmt.Errorf("linux.readonlyPaths: %s", why)
	case s.Root == nil || s.Root.Path == "":
		return fmt.Errorf("root.path: a root nook builds itself %s", why)
	case s.Root.Readonly:
		return fmt.Errorf("root.readonly: %s", why)
	}
	warnf := warner(o.Warnf)
	if len(s.Mounts) > 0 {
		dests := make([]string, len(s.Mounts))
		for i, m := range s.Mounts {
			dests[i] = m.Destination
		}
		warnf("mounts: %s not mounted: the container has no mount namespace of its own, and a mount made in the one it shares would outlive it", strings.Join(dests, ", "))
	}
	if len(lx.Devices) > 0 {
		warnf("linux.devices: no device nodes made, for the same reason (the device cgroup still allows them)")
	}
	if lx.RootfsPropagation != "" {
		warnf("linux.rootfsPropagation %q not applied: the container has no mount namespace of its own", lx.RootfsPropagation)
	}
	if s.Hooks != nil {
		if err := compileHooks(st, "createContainer", s.Hooks.CreateContainer, id, s, o, "", false); err != nil {
			return err
		}
	}
	if filepath.Clean(s.Root.Path) != "/" {
		st.Chroot(s.Root.Path)
	}
	return nil
}

// hasCgroupMount reports whether mounts mount a cgroup file system.
func hasCgroupMount(mounts []specs.Mount) bool {
	for _, m := range mounts {
		if m.Type == "cgroup" || m.Type == "cgroup2" {
			return true
		}
	}
	return false
}

func joins(join []specs.LinuxNamespace, t namespaces.Type) bool {
	for _, ns := range join {
		if ns.Type == t {
			return true
		}
	}
	return false
}

func propagation(s string) (uintptr, error) {
	switch s {
	case "", "rprivate":
		return unix.MS_REC | unix.MS_PRIVATE, nil
	case "private":
		return unix.MS_PRIVATE, nil
	case "rslave":
		return unix.MS_REC | unix.MS_SLAVE, nil
	case "slave":
		return unix.MS_SLAVE, nil
	case "rshared":
		return unix.MS_REC | unix.MS_SHARED, nil
	case "shared":
		return unix.MS_SHARED, nil
	case "runbindable":
		return unix.MS_REC | unix.MS_UNBINDABLE, nil
	case "unbindable":
		return unix.MS_UNBINDABLE, nil
	}
	return 0, fmt.Errorf("linux.rootfsPropagation: unknown value %q", s)
}

// mountOptions splits OCI mount options into mount(2) flags, attributes
// for mount_setattr, propagation flags and the rest, which go to the
// file system as data.
func mountOptions(opts []string) (flags uintptr, attr uint64, prop uintptr, data string, err error) {
	var rest []string
	for _, o := range opts {
		switch o {
		case "bind":
			flags |= unix.MS_BIND
		case "rbind":
			flags |= unix.MS_BIND | unix.MS_REC
		case "ro":
			flags |= unix.MS_RDONLY
			attr |= unix.MOUNT_ATTR_RDONLY
		case "rw":
			flags &^= unix.MS_RDONLY
			attr &^= unix.MOUNT_ATTR_RDONLY
		case "nosuid":
			flags |= unix.MS_NOSUID
			attr |= unix.MOUNT_ATTR_NOSUID
		case "suid":
			flags &^= unix.MS_NOSUID
		case "nodev":
			flags |= unix.MS_NODEV
			attr |= unix.MOUNT_ATTR_NODEV
		case "dev":
			flags &^= unix.MS_NODEV
		case "noexec":
			flags |= unix.MS_NOEXEC
			attr |= unix.MOUNT_ATTR_NOEXEC
		case "exec":
			flags &^= unix.MS_NOEXEC
		case "relatime":
			flags |= unix.MS_RELATIME
		case "strictatime":
			flags |= unix.MS_STRICTATIME
		case "noatime":
			flags |= unix.MS_NOATIME
			attr |= unix.MOUNT_ATTR_NOATIME
		case "nodiratime":
			flags |= unix.MS_NODIRATIME
		case "sync":
			flags |= unix.MS_SYNCHRONOUS
		case "async", "defaults":
		case "private":
			prop = unix.MS_PRIVATE
		case "rprivate":
			prop = unix.MS_PRIVATE | unix.MS_REC
		case "slave":
			prop = unix.MS_SLAVE
		case "rslave":
			prop = unix.MS_SLAVE | unix.MS_REC
		case "shared":
			prop = unix.MS_SHARED
		case "rshared":
			prop = unix.MS_SHARED | unix.MS_REC
		case "unbindable":
			prop = unix.MS_UNBINDABLE
		case "runbindable":
			prop = unix.MS_UNBINDABLE | unix.MS_REC
		default:
			if strings.ContainsRune(o, ',') {
				return 0, 0, 0, "", fmt.Errorf("mount option %q contains a comma", o)
			}
			rest = append(rest, o)
		}
	}
	return flags, attr, prop, strings.Join(rest, ","), nil
}

// compileMounts adds the spec's mounts; label, where not empty, is the
// SELinux context (linux.mountLabel) of those that take one. cgroupBind,
// where not empty, is the host's cgroup2 mount that a cgroup mount binds.
func compileMounts(st *spawn.Plan, mounts []specs.Mount, host, bundle, label, cgroupBind string) error {
	for i, m := range mounts {
		if !filepath.IsAbs(m.Destination) {
			return fmt.Errorf("mounts[%d]: destination %q is not absolute", i, m.Destination)
		}
		flags, attr, prop, data, err := mountOptions(m.Options)
		if err != nil {
			return fmt.Errorf("mounts[%d] (%s): %w", i, m.Destination, err)
		}
		fstype, src := m.Type, m.Source
		if fstype == "bind" {
			flags |= unix.MS_BIND
		}
		if flags&unix.MS_BIND != 0 {
			if !filepath.IsAbs(src) {
				src = filepath.Join(bundle, src)
			}
			if _, err := os.Stat(src); err != nil {
				return fmt.Errorf("mounts[%d]: bind source: %w", i, err)
			}
			st.Mount(spawn.Mount{Source: host + src, Target: m.Destination, Flags: uint64(flags),
				Attr: attr, Propagation: uint64(prop), Point: spawn.MountPointAuto})
			continue
		}
		switch fstype {
		case "overlay":
			if data, err = overlayData(data, host, bundle); err != nil {
				return fmt.Errorf("mounts[%d] (%s): %w", i, m.Destination, err)
			}
		case "cgroup", "cgroup2":
			if cgroupBind != "" {
				st.Mount(spawn.Mount{Source: host + cgroupBind, Target: m.Destination,
					Flags: uint64(flags&^unix.MS_REC | unix.MS_BIND), Attr: attr,
					Propagation: uint64(prop), Point: spawn.MountPointDir})
				continue
			}
			// the cgroup namespace shows the sandbox its own cgroup as
			// the root of the unified tree, on v2 and hybrid hosts alike
			fstype, src = "cgroup2", "cgroup2"
			data = ""
		case "":
			return fmt.Errorf("mounts[%d] (%s): no type", i, m.Destination)
		}
		if label != "" && mountLabelled(fstype) {
			data = withContext(data, label)
		}
		st.Mount(spawn.Mount{Source: src, Target: m.Destination, FSType: fstype, Flags: uint64(flags &^ unix.MS_BIND),
			Data: data, Propagation: uint64(prop), Point: spawn.MountPointDir})
	}
	return nil
}

// overlayData makes an overlay's layer paths host paths as the child sees
// them, and gives a read-only overlay of one layer the empty second layer
// the kernel wants (the base root's /empty; only where nook builds the
// root from nothing).
func overlayData(data, host, bundle string) (string, error) {
	opts := strings.Split(data, ",")
	lowers, upper := 0, false
	for i, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			continue
		}
		switch k {
		case "lowerdir", "upperdir", "workdir":
			paths := strings.Split(v, ":")
			for j, p := range paths {
				if !filepath.IsAbs(p) {
					p = filepath.Join(bundle, p)
				}
				paths[j] = host + p
			}
			if k == "lowerdir" {
				lowers = len(paths)
			}
			upper = upper || k == "upperdir"
			opts[i] = k + "=" + strings.Join(paths, ":")
		}
	}
	if lowers == 1 && !upper {
		if host == "" {
			return "", errors.New("a read-only overlay needs two lower directories")
		}
		for i, o := range opts {
			if strings.HasPrefix(o, "lowerdir=") {
				opts[i] = o + ":/empty"
			}
		}
	}
	return strings.Join(opts, ","), nil
}

// overlayRoot reports whether the spec's root is an overlay: no
// root.path, and an overlay mount on "/" as its first mount (an image's
// layers, from package sandbox).
func overlayRoot(s *specs.Spec) bool {
	return (s.Root == nil || s.Root.Path == "") && len(s.Mounts) > 0 &&
		path.Clean(s.Mounts[0].Destination) == "/" && s.Mounts[0].Type == "overlay"
}

// overlayRootData makes the child's overlay root of the spec's first
// mount. Its paths become host paths as the child sees them (under host).
// An overlay with no upperdir gets one on a tmpfs of its own in the
// sandbox's mount namespace (Scratch), unless the root is read-only: what
// the sandbox writes goes away with it, and there is nothing on the host
// to clean up, whatever happens to nook.
func overlayRootData(m specs.Mount, readonly, userns bool, host, bundle string) (*spawn.Overlay, error) {
	flags, _, _, d, err := mountOptions(m.Options)
	if err != nil {
		return nil, fmt.Errorf("mounts[0] (/): %w", err)
	}
	if flags&unix.MS_BIND != 0 {
		return nil, errors.New("mounts[0] (/): an overlay root cannot be a bind")
	}
	hostPath := func(p string) string {
		if !filepath.IsAbs(p) {
			p = filepath.Join(bundle, p)
		}
		return host + p
	}
	r := &spawn.Overlay{}
	var opts []string
	var lowers []string
	upper, userxattr := false, false
	for _, o := range strings.Split(d, ",") {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "":
		case "lowerdir":
			for _, l := range strings.Split(v, ":") {
				lowers = append(lowers, hostPath(l))
			}
		case "upperdir", "workdir":
			upper = upper || k == "upperdir"
			opts = append(opts, k+"="+hostPath(v))
		default:
			userxattr = userxattr || o == "userxattr"
			opts = append(opts, o)
		}
	}
	switch {
	case len(lowers) == 0:
		return nil, errors.New("mounts[0] (/): an overlay root needs lowerdir")
	case len(lowers) > 500:
		return nil, fmt.Errorf("mounts[0] (/): %d lower directories, more than overlayfs stacks (500): too many layers", len(lowers))
	case len(lowers) == 1 && !upper && readonly:
		// a read-only overlay needs two layers: the base root's empty one
		lowers = append(lowers, "/empty")
	}
	if !upper && !readonly {
		// in the base root, not the host's: no prefix
		r.Scratch = "/upper"
		opts = append(opts, "upperdir="+r.Scratch+"/upper", "workdir="+r.Scratch+"/work")
	}
	if userns && !userxattr {
		// overlayfs in a user namespace keeps its attributes in user.*
		opts = append(opts, "userxattr")
	}
	for _, l := range lowers {
		if strings.ContainsAny(l, ":,\\") || strings.IndexByte(l, 0) >= 0 {
			return nil, fmt.Errorf("mounts[0] (/): lower directory %q has a character overlayfs options cannot carry", l)
		}
	}
	r.Lowers, r.Options = lowers, strings.Join(opts, ",")
	return r, nil
}

// defaultDevices are the nodes every sandbox gets (the OCI runtime spec's
// list). They are bound from the host rather than made with mknod, which a
// user namespace forbids.
var defaultDevices = []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"}

// compileDevices makes the nodes of a sandbox's own /dev (a tmpfs in the
// spec's mounts) and returns them, for the device rules to be checked
// against.
func compileDevices(st *spawn.Plan, mounts []specs.Mount, devs []specs.LinuxDevice, host string) ([]cgroups.Device, error) {
	var nodes []cgroups.Device
	device := func(d spawn.Device) {
		st.Device(d)
		if n, ok := deviceOf(d.Mode, d.Rdev); ok {
			nodes = append(nodes, n)
		}
	}
	var devTmpfs, devPts bool
	for _, m := range mounts {
		switch m.Destination {
		case "/dev":
			devTmpfs = m.Type == "tmpfs"
		case "/dev/pts":
			devPts = true
		}
	}
	if !devTmpfs {
		return nil, nil // a /dev of the rootfs's own, or the host's bound in
	}
	seen := map[string]bool{}
	add := func(path string) error {
		if seen[path] {
			return nil
		}
		seen[path] = true
		var sb unix.Stat_t
		if err := unix.Stat(path, &sb); err != nil {
			return &os.PathError{Op: "stat", Path: path, Err: err}
		}
		device(spawn.Device{Host: host + path, Path: path, Rdev: uint64(sb.Rdev), Mode: sb.Mode})
		return nil
	}
	for _, d := range defaultDevices {
		if err := add(d); err != nil {
			return nil, fmt.Errorf("default devices: %w", err)
		}
	}
	for i, d := range devs {
		if !strings.HasPrefix(d.Path, "/dev/") {
			return nil, fmt.Errorf("linux.devices[%d]: path %q is not under /dev", i, d.Path)
		}
		if d.Type == "" {
			// no node described: the host's, as it is
			if err := add(d.Path); err != nil {
				return nil, fmt.Errorf("linux.devices[%d]: %w", i, err)
			}
			continue
		}
		dev, err := specDevice(d)
		if err != nil {
			return nil, fmt.Errorf("linux.devices[%d]: %w", i, err)
		}
		if !seen[d.Path] {
			seen[d.Path] = true
			dev.Host = host + d.Path
			device(dev)
		}
	}
	for _, l := range [][2]string{{"/proc/self/fd", "/dev/fd"}, {"/proc/self/fd/0", "/dev/stdin"}, {"/proc/self/fd/1", "/dev/stdout"}, {"/proc/self/fd/2", "/dev/stderr"}, {"/proc/kcore", "/dev/core"}} {
		st.Symlink(l[0], l[1])
	}
	if devPts {
		st.Symlink("pts/ptmx", "/dev/ptmx")
	}
	return nodes, nil
}

// specDevice is the node a linux.devices entry describes: its type,
// numbers and permissions are the spec's, not the host's (the host need
// not have it). Owners other than root are not supported: the node is
// made by the sandbox's root.
func specDevice(d specs.LinuxDevice) (spawn.Device, error) {
	var typ uint32
	switch d.Type {
	case "c", "u":
		typ = unix.S_IFCHR
	case "b":
		typ = unix.S_IFBLK
	case "p":
		typ = unix.S_IFIFO
	default:
		return spawn.Device{}, fmt.Errorf("type %q: want c, u, b or p", d.Type)
	}
	if (d.UID != nil && *d.UID != 0) || (d.GID != nil && *d.GID != 0) {
		return spawn.Device{}, fmt.Errorf("%s: an owner other than root (uid/gid) is not supported", d.Path)
	}
	perm := uint32(0o666)
	if d.FileMode != nil {
		perm = uint32(d.FileMode.Perm())
	}
	var rdev uint64
	if typ != unix.S_IFIFO {
		rdev = unix.Mkdev(uint32(d.Major), uint32(d.Minor))
	}
	return spawn.Device{Path: d.Path, Rdev: rdev, Mode: typ | perm}, nil
}

// rlimits are the rlimit types a spec may name: a table, not a map, which
// would be built at package initialisation in every nook command.
var rlimits = [...]struct {
	name     string
	resource int
}{
	{"RLIMIT_AS", unix.RLIMIT_AS}, {"RLIMIT_CORE", unix.RLIMIT_CORE}, {"RLIMIT_CPU", unix.RLIMIT_CPU},
	{"RLIMIT_DATA", unix.RLIMIT_DATA}, {"RLIMIT_FSIZE", unix.RLIMIT_FSIZE}, {"RLIMIT_LOCKS", 10},
	{"RLIMIT_MEMLOCK", unix.RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", 12}, {"RLIMIT_NICE", 13},
	{"RLIMIT_NOFILE", unix.RLIMIT_NOFILE}, {"RLIMIT_NPROC", unix.RLIMIT_NPROC}, {"RLIMIT_RSS", unix.RLIMIT_RSS},
	{"RLIMIT_RTPRIO", 14}, {"RLIMIT_RTTIME", 15}, {"RLIMIT_SIGPENDING", 11}, {"RLIMIT_STACK", unix.RLIMIT_STACK},
}

func rlimitByName(name string) (int, bool) {
	name = strings.ToUpper(name)
	for _, r := range rlimits {
		if r.name == name {
			return r.resource, true
		}
	}
	return 0, false
}

// RlimitNames lists the rlimit types a spec may name.
func RlimitNames() []string {
	out := make([]string, 0, len(rlimits))
	for _, r := range rlimits {
		out = append(out, r.name)
	}
	return out
}

// mapsRoot reports whether an ID mapping maps ID 0 of the namespace.
func mapsRoot(m []specs.LinuxIDMapping) bool {
	for _, e := range m {
		if e.ContainerID == 0 && e.Size > 0 {
			return true
		}
	}
	return false
}

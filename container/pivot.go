package container

import (
	"fmt"
	"slices"
	"strings"

	mi "github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// pivotImpossible says why pivot_root(2) cannot work from this process's
// root, or "" when it can. The kernel refuses (EINVAL) when the current
// root is not the root of a mount (a chroot into a plain directory) or
// when its mount has no parent: the namespace's own first mount, which is
// the initial ramfs (rootfs) on a machine that runs from its initramfs
// and never switched to another root. There nook does what runc's
// --no-pivot does instead: it moves the new root onto "/" and chroots
// into it.
//
// It costs one statfs(2) where "/" is not a ramfs or tmpfs, which the
// initial ramfs always is; else it reads /proc/self/mountinfo for the
// mount at "/".
func pivotImpossible() string {
	var st unix.Statfs_t
	if err := unix.Statfs("/", &st); err != nil || (st.Type != unix.RAMFS_MAGIC && st.Type != unix.TMPFS_MAGIC) {
		return ""
	}
	mounts, err := mi.GetMounts(func(m *mi.Info) (skip, stop bool) { return m.Mountpoint != "/", false })
	if err != nil || len(mounts) == 0 {
		return ""
	}
	// the last mount at "/" is the one on top
	return pivotImpossibleFor(mounts[len(mounts)-1])
}

// pivotImpossibleFor is pivotImpossible for one mount: "" for one that is
// not at "/".
func pivotImpossibleFor(m *mi.Info) string {
	switch {
	case m.Mountpoint != "/":
		return ""
	case m.ID == m.Parent:
		return fmt.Sprintf("/ is the first mount of its namespace (%s: an initramfs that was never switched from), which pivot_root cannot move", m.FSType)
	case m.Root != "/":
		return fmt.Sprintf("/ is the directory %s of a %s mount, not the root of a mount", m.Root, m.FSType)
	}
	return ""
}

func (o *Options) debugf(format string, args ...any) {
	if o.Debugf != nil {
		o.Debugf(format, args...)
	}
}

// fullProcSys lists the host's full procfs and sysfs mounts (their root is
// the file system's) outside dir ("" for none), innermost last in
// mountinfo and so first here: what a NoPivot plan detaches (see
// spawn.Plan.Detach).
func fullProcSys(dir string) []string {
	mounts, err := mi.GetMounts(mi.FSTypeFilter("proc", "sysfs"))
	if err != nil {
		return nil
	}
	var out []string
	for _, m := range mounts {
		if m.Root != "/" {
			continue
		}
		if dir != "" && (m.Mountpoint == dir || strings.HasPrefix(m.Mountpoint, strings.TrimSuffix(dir, "/")+"/")) {
			continue
		}
		out = append(out, m.Mountpoint)
	}
	slices.Reverse(out)
	return out
}

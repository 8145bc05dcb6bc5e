package cgroups

import "golang.org/x/sys/unix"

// The kernel's fixed numbers that UnifiedMount compares with:
const (
	// initCgroupNSIno is the inode of the initial cgroup namespace
	// (PROC_CGROUP_INIT_INO in include/linux/proc_ns.h).
	initCgroupNSIno = 0xEFFFFFFB
	// hierarchyRootIno is the inode number kernfs gives the root
	// directory of each cgroup hierarchy.
	hierarchyRootIno = 1
)

// UnifiedMount returns where the host's cgroup2 hierarchy is mounted at its
// root, /sys/fs/cgroup or /sys/fs/cgroup/unified, when the caller is in the
// initial cgroup namespace; otherwise "" (also where neither path is such a
// mount: a pure v1 host, or only a subtree bound in).
//
// A container that stays in the caller's cgroup namespace gets its cgroup
// mount as a bind of this path rather than as a new cgroup2 mount. The two
// show the same tree, but a new mount made in the initial cgroup namespace
// also sets the whole hierarchy's root options (nsdelegate,
// memory_recursiveprot, favordynmods...) to its own, empty, ones: on a
// systemd host every such container would strip nsdelegate and
// memory_recursiveprot from the host's /sys/fs/cgroup. Since Linux 6.17,
// applying those options also write-locks the global threadgroup rwsem,
// which waits for an RCU grace period (10-30 ms measured here, in a start
// that otherwise takes 8). A bind touches neither. In any other cgroup
// namespace the kernel applies no root options, and a new mount shows that
// namespace's root, which no host path need show.
//
// It costs three stat(2)-like calls and no parsing.
func UnifiedMount() string {
	var ns unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/cgroup", &ns); err != nil || ns.Ino != initCgroupNSIno {
		return ""
	}
	for _, p := range [...]string{Root, Root + "/unified"} {
		var fs unix.Statfs_t
		if err := unix.Statfs(p, &fs); err != nil || fs.Type != unix.CGROUP2_SUPER_MAGIC {
			continue
		}
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err == nil && st.Ino == hierarchyRootIno {
			return p
		}
	}
	return ""
}

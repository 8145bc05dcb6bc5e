// Package cgroups creates, limits, accounts, kills and removes the control
// groups of one nook sandbox.
//
// # Mode detection
//
// [DetectMode] looks at the host's cgroup layout with at most two statfs(2)
// calls and no parsing:
//
//   - /sys/fs/cgroup is cgroup2 (CGROUP2_SUPER_MAGIC): [Unified] (pure v2).
//   - otherwise, /sys/fs/cgroup/unified is cgroup2: [Hybrid]. The controllers
//     (memory, pids, cpu, ...) are all on v1 hierarchies; the v2 tree holds no
//     controllers, so nook treats Hybrid exactly like [Legacy] and never
//     touches the unified tree (v2-only files such as memory.peak do not
//     exist there; the v1 equivalents are used).
//   - otherwise, if /sys/fs/cgroup exists: [Legacy] (pure v1).
//   - otherwise: [Unavailable]; [Create] fails with [ErrNotSupported].
//
// On v1 each controller hierarchy is expected at /sys/fs/cgroup/<controller>
// (a symlink such as cpu -> cpu,cpuacct is fine; co-mounted controllers are
// detected by device number and share one directory). Only if that path is
// not a cgroup mount is /proc/self/mountinfo parsed. The result is cached for
// the life of the process.
//
// # Layout
//
// On v1 and hybrid hosts a sandbox called name gets one flat directory per
// hierarchy it needs, directly under the hierarchy's root:
//
//	/sys/fs/cgroup/{freezer,memory,pids,cpuacct}/nook-<name>
//	/sys/fs/cgroup/cpu/nook-<name>       see below
//	/sys/fs/cgroup/cpuset/nook-<name>    only when CPU.Cpus or CPU.Mems is set
//	/sys/fs/cgroup/devices/nook-<name>   only when Devices is set
//
// memory, pids and cpuacct are always made (accounting for [Manager.Stats],
// which a CPU-time budget can poll with [Manager.CPUUsage]) and freezer is
// always made (race-free [Manager.Kill]). cpu is the same directory as
// cpuacct where they are co-mounted (the usual cpu,cpuacct layout); where
// they are separate hierarchies, cpu is only made when CPU.Shares, Quota or
// Period is set, since it holds no accounting of its own. No directory is
// made in any other mounted hierarchy. A missing accounting
// controller is reported by [Manager.Warnings]; a missing controller that a
// requested limit needs is an error (or, with [Options.BestEffort], a warning
// and the limit is dropped).
//
// An OCI linux.cgroupsPath ([Options.Path]) replaces that naming, as runc
// reads it: an absolute path below each hierarchy's root, a relative one
// below nook's own cgroup, systemd's "slice:prefix:name" refused (path.go).
// The parents it lacks are made, recorded ([Manager.Parents]) and removed
// with the sandbox when empty; those that existed are left alone.
//
// On pure v2 hosts a sandbox gets /sys/fs/cgroup/nook/<name>. The parent
// /sys/fs/cgroup/nook is shared by all sandboxes of all nook processes: it is
// created on first use, "+memory +pids +cpu" (and "+cpuset", or the
// controller of a linux.resources.unified key, when asked for) are enabled in
// its cgroup.subtree_control (and, if missing there, in the root's), and it is
// then left in place. It never holds processes, so the no-internal-process
// rule is never violated; the root cgroup is exempt from that rule anyway.
// Removing the parent after each sandbox would race with sandboxes being
// created in parallel, cost a mkdir and the controller set-up on every start,
// and is not done; [RemoveParent] removes it when it is empty (EBUSY, meaning
// another sandbox still uses it, is not an error), and [Create] retries if the
// parent vanished under it.
//
// # Without root
//
// A process without root may only make cgroups in a subtree delegated to
// it (the kernel's cgroup-v2.rst, "Delegation"): a cgroup v2 directory it
// owns, with its cgroup.procs and cgroup.subtree_control, as systemd's
// Delegate=yes hands out. [DelegatedV2] finds the topmost such directory D
// above the process's own cgroup, and Create then works under D exactly
// as under /sys/fs/cgroup: the shared parent is D/nook, with the
// controllers enabled in D's and D/nook's cgroup.subtree_control (D must
// hold no processes of its own for that: nook should run in a cgroup below
// it). Moving the sandbox's process from nook's cgroup to D/nook/<name>
// needs write access to their common ancestor's cgroup.procs, which D's
// delegation gives. Where nothing is delegated, or on cgroup v1 (which
// cannot be delegated safely), Create fails with an error that wraps
// [ErrNotDelegated] and says what to delegate.
//
// # Lifecycle and ownership
//
//  1. [Create] makes the directories, applies the limits and returns a
//     [Manager]. No process is moved: only pids later given to [Manager.Add]
//     are ever written to a cgroup.procs file. If anything fails, every
//     directory Create made is removed again before it returns. A directory
//     that already exists is never adopted: Create fails instead, so two
//     sandboxes can never share (or destroy) each other's cgroups.
//  2. The caller starts the sandbox's first process and calls [Manager.Add]
//     (or writes the pid into each of [Manager.ProcsFiles] itself, e.g. from a
//     child before exec; on v1 the process can write "0" into each of
//     [Manager.TasksFiles], which spares it an RCU grace period). Children
//     inherit the cgroups.
//  3. [Manager.Stats] reads usage at any time; [Manager.Kill] kills every
//     process in the sandbox's cgroups: cgroup.kill on v2, and on v1
//     freeze, SIGKILL every pid (through pidfds, so a recycled pid is never
//     signalled), thaw, until the cgroups are empty.
//     [Manager.Freeze] and [Manager.Thaw] stop and resume every process
//     (pause, resume); [Manager.Update] changes limits in place (update).
//  4. [Manager.Destroy] removes every directory in the order of
//     [Manager.Paths], killing the remaining processes first if the cgroups
//     are still populated and retrying briefly on EBUSY. It is idempotent and
//     safe on a nil Manager; once it succeeded, later calls do nothing, even if
//     a new sandbox with the same name exists by then.
//
// [OpenPaths] gives a Manager for the directories a sandbox's state
// recorded; [Open] gives a Manager for an existing sandbox's cgroups (for example after
// a crash), to inspect, kill or destroy them.
//
// The Manager owns exactly the directories listed by [Manager.Paths]; it never
// changes, moves processes out of, or removes any other cgroup (apart from
// enabling controllers in the v2 parents described above).
//
// # Limits
//
// Supported from specs.LinuxResources: Memory.Limit, Memory.Swap (OCI
// memory+swap total), Pids.Limit, CPU.Shares (cpu.weight on v2, converted as
// runc does), CPU.Quota/Period, CPU.Cpus/Mems, Devices and Unified (v2
// only). Malformed values (for example a memory limit below
// [MinMemoryLimit], or swap below the memory limit) fail with [ErrInvalid]
// even with BestEffort. Everything else that cannot be enforced on this host,
// including any other field of LinuxResources, fails with an error wrapping
// [ErrNotSupported] (or whatever the kernel said), naming the limit, or, with
// [Options.BestEffort], is dropped and reported by [Manager.Warnings]. No limit
// is ever silently ignored.
//
// Devices are enforced by the v1 devices controller on Legacy and Hybrid
// hosts, and on Unified hosts by an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE)
// that Create attaches to the sandbox's cgroup before anything can join it
// (see [AttachDevices]); rules that allow every device attach nothing. Both
// apply the rules as runc does, and rule lists whose effect on cgroup v1
// would contradict their order are rejected with ErrInvalid on every host
// (see devices.go).
//
// Most cgroupfs access goes through github.com/opencontainers/cgroups (its
// openat2-based file helpers and the fs/fs2 subsystem setters); the systemd
// driver is not used.
package cgroups

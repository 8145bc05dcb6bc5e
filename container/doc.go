// Package container runs OCI runtime specs: it is the one start path that
// `nook run` (its flags and its --bundle alike), the OCI runtime commands
// (Create, Instance.Start, Pause, Resume, Update, Stats, Delete: runc's
// command line) and Go programs share.
//
// A Container goes New (validate the spec and compile it, touching
// nothing), Start (create the cgroup, the namespaces, the root file system
// and the command), Wait, and Close (kill what is left, remove what was
// made). Run does all four, in the foreground (foreground.go): a terminal
// the spec asks for is wired to the caller's stdin and stdout, raw and
// following the window's size when stdin is a terminal, and with
// Options.ForwardSignals the caller's signals go to the sandbox.
//
// Errors about the spec are *spec.FieldError naming its field
// ("process.cwd", "linux.resources.memory.limit"), so that each front end
// can word them its own way.
//
// # The start path
//
// New compiles the spec into the child's plan (compile, plan.go): which
// namespaces clone3 creates and which are joined by path, every mount in
// order, devices, masked and read-only paths, rlimits, user,
// capabilities, seccomp, environment and arguments. Everything that can be
// decided before clone is decided there, in Go, and a spec error names
// its field. testdata/plans holds what a table of specs compiles to, one
// step a line (TestPlanGolden). Where the sandbox gets a network
// namespace of its own and no user namespace, New also starts making that
// namespace on another thread (netns.go): the kernel spends over a
// millisecond on one, now beside the rest of the start rather than inside
// clone3, and the child joins it before its first step.
//
// Start, in the parent (Go):
//  1. creates the sandbox's cgroup, if it gets one (below), before any
//     process;
//  2. clones the child and the janitor (package internal/spawn): on
//     cgroup v2 the child starts in its cgroup (CLONE_INTO_CGROUP); a pid
//     namespace given by path is entered by cloning the child into it,
//     since one the child joined itself would hold only its children;
//  3. writes the user namespace's ID maps and, on cgroup v1, puts the
//     child in its cgroups;
//  4. releases the child and waits until it has exec'd the command or
//     failed, with the error it reported.
//
// In the child (C, internal/spawn), the plan's steps in this order:
//  1. namespaces given by path are joined (the user namespace first); a
//     new session; the cgroup namespace is unshared (after the cgroup was
//     joined, so that its root is the sandbox's cgroup), and the time
//     namespace (its offsets written before anyone is inside);
//  2. host name, domain name, loopback up, linux.sysctl (only those of
//     a namespace the container has apart from the host);
//  3. (with a mount namespace of its own; see below for none) the
//     mount tree private (linux.rootfsPropagation), the new root
//     built: the rootfs bound onto itself, an empty tmpfs with the
//     host's system directories bound in, or an image's overlay
//     (below); every mount destination resolved inside the new root
//     (openat2 RESOLVE_IN_ROOT), so a symlink in a rootfs cannot point a
//     mount outside it; linux.mountLabel is each mount's context=
//     option, by runc's rules (not proc, sysfs, cgroups or binds), and
//     only a warning where SELinux is not enabled: runc and crun mount
//     without it there, and the conformance suite sends one on any host;
//  4. devices, masked paths (over /dev/null verified to be the null
//     device), read-only paths;
//  5. the createContainer hooks (a child of the child, in the container's
//     namespaces, the host's paths still reachable); a shared or
//     unbindable rootfsPropagation is applied after the next step;
//     pivot_root, the old root detached; the root made read-only if asked.
//     Where "/" cannot be pivoted (the initial ramfs of a machine that
//     runs from its initramfs: the first mount of its namespace), or with
//     Options.NoPivot, as runc's --no-pivot: the host's full proc and sys
//     mounts detached (or covered, where a user namespace locks them),
//     the new root moved onto the real "/" and chrooted into; the host
//     view is then built in a chroot with a clone of the host's tree at
//     /oldroot, not a pivot. ".." at the new root's top leads back into
//     it, since the real "/" tops every mount above it;
//  6. terminal, working directory, rlimits, oom_score_adj;
//  7. the user: the AppArmor profile the exec enters
//     (process.apparmorProfile; refused where AppArmor is not enabled)
//     and the SELinux label (process.selinuxLabel, written to
//     /proc/thread-self/attr/exec; refused where SELinux is not
//     enabled, as runc refuses it);
//     without no_new_privs the seccomp filter is loaded first,
//     while CAP_SYS_ADMIN (which loading it then needs) is still held;
//     then groups, ids and capabilities; with no_new_privs, it is set
//     and the filter loaded last, so that it never sees nook's own
//     set-up calls;
//  8. a held child (Create) waits for start's byte here (HoldFile), and
//     from then on reports errors to start (StartFile, a FIFO whose write
//     end it holds close-on-exec: an error record, or EOF at the
//     command's exec, so that start fails exactly when a hook or the
//     exec did, however soon the command ends and whoever reaps init);
//     the startContainer hooks, inside the container; close every fd but
//     0-2 and the ones passed on; exec the command, as PID 1 or under
//     nook's init.
//
// # No mount namespace of its own
//
// A spec whose linux.namespaces has no mount namespace, or joins one by
// path, shares a namespace that is not the container's to change: the
// caller's (the host's) or someone else's. runc and crun build the root
// there anyway, mounting the rootfs and the spec's mounts and chrooting;
// runc leaves those mounts on the host after the container is gone. nook
// mounts nothing there: step 3 is only a chroot into root.path (looked up
// in that namespace; none for "/"), the spec's mounts, linux.devices and
// linux.rootfsPropagation are skipped with a warning (Options.Warnf), and
// masked paths, read-only paths and a read-only root, which only a mount
// makes safe, are refused. nook exec into such a container is chrooted
// into its root too.
//
// # A cgroup only where something needs one
//
// New decides, once (CgroupNeed, cgroupneed.go), whether the sandbox gets
// a cgroup of its own, and says why; Options.Debugf (nook run --debug) is
// told "no cgroup: nothing needs one" or the reasons. Start makes one, the
// state records one (so exec joins it and delete removes it) and the
// janitor removes one only for a reason: limits in linux.resources, a
// CPU-time limit (it reads the CPU account), Accounting (a verdict, an OCI
// container's stats), a linux.cgroupsPath, an OCI container (pause and
// update act on its cgroup), a pid namespace that is not the sandbox's own
// (only a cgroup then finds every process to kill), CgroupAlways, or
// device rules that something could get past. Without one, nothing is
// made, joined or removed (on cgroup v1 that is a mkdir, a join and an
// rmdir per hierarchy, each waiting on the kernel: about 3 ms of a start),
// and the sandbox is killed through its init, whose pid namespace dies
// with it.
//
// linux.resources.devices (which nook run sets as root: everything denied
// but the nodes of its /dev) keeps a sandbox from device nodes other than
// those nook put in its /dev. Such rules need no cgroup when the sandbox
// cannot reach another node whatever it does:
//   - it cannot make one: CAP_MKNOD is not in its bounding set (mknod of a
//     device needs it in the host's user namespace; nook run's default
//     set leaves it out, as bubblewrap's does);
//   - it cannot mount or remount: CAP_SYS_ADMIN is not in its bounding set
//     (a user namespace it makes brings a mount namespace whose nodev
//     flags are locked, and file systems mounted there are nodev by the
//     kernel);
//   - every mount but its own /dev (a fresh tmpfs) and devpts is nodev,
//     the root too (the host view's root is a nodev tmpfs; a rootfs or an
//     image's overlay is made nodev with its submounts when the spec asks
//     by AnnotationRootNodev, as nook run does; an OCI bundle's root stays
//     as runc binds it, and its device rules keep their cgroup), and the
//     root is pivoted to (without pivot_root the host's mounts stay in the
//     namespace, below the new root);
//   - the rules allow every node its /dev holds, its ptys, and any device
//     among the command's stdin, stdout, stderr and ExtraFiles (a
//     read-only fd of a disk could be reopened for writing through
//     /proc/self/fd): dropping them takes nothing away.
//
// If one of these fails the device rules get their cgroup (v1 devices
// controller, v2 device program) as before, and --debug names the one
// that failed. tests/attacks (TestDevicesWithoutCgroup) puts device nodes
// in a rootfs and binds them in, and shows each stopped without a cgroup.
//
// # An overlay root
//
// A spec with no root.path whose first mount is an overlay on "/" (what
// package sandbox makes of an image) gets that overlay as its root. The
// child mounts it itself, in the sandbox's mount namespace, with the
// host's root moved aside to /oldroot as for the host view. When the
// overlay names no upperdir and the root is not read-only, the child
// mounts a tmpfs on /upper of its base root and puts the upper and work
// directories there. So the overlay, and everything the sandbox wrote,
// exists only in a mount namespace that dies with the sandbox's last
// process: there is no mount on the host, no directory to remove, and
// nothing a SIGKILL of nook could leave behind. A read-only root has no
// upper directory at all; an upperdir the spec names (--keep) is the
// caller's and stays. In a user namespace the overlay is mounted with
// userxattr, as the kernel requires there. The child mounts it with the
// new mount API, one "lowerdir+" per layer, so that the number of layers
// is not bound by a page of mount data; a kernel older than 6.8 gets
// mount(2) and that bound.
//
// Errors name the step and its paths (`bind /src on /dst: permission
// denied`); a failure at any point leaves nothing behind, since what the
// child made dies with its namespaces and the janitor removes the rest.
//
// # Sandboxes that outlive their starter
//
// A sandbox recorded in a state directory (package state) can be found,
// entered, signalled and removed by any nook process later:
//
//   - Detach records a new sandbox (creating) and starts a monitor, a
//     process that calls Monitor: nook's hidden `monitor` command, or a
//     program of the caller's. The monitor is init's parent: it starts the
//     sandbox with its output going to a size-capped log, records init
//     (with its start time) and its cgroup before the command runs, reports
//     to Detach over a pipe, waits, and records the exit status and
//     resource use once the janitor has removed what the sandbox made.
//     Detach returns once the command runs; a start that fails leaves
//     nothing. The monitor is a Go process (about 8 MiB) rather than the C
//     janitor grown, because it must decode the state and write JSON; the
//     janitor still does the cleanup, and if the monitor is killed the
//     lifeline closes and the janitor kills the sandbox as before.
//   - Options.Record records a sandbox run in the foreground: the process
//     that runs it is its monitor (nook run --name).
//   - Load returns an Instance: Signal, Stop, Wait, Remove, Processes act
//     through the state, on processes identified by PID and start time.
//     Remove runs the state's Undo list for what a killed monitor left.
//     A recorded sandbox's cgroup directories go on that list before they
//     are made (cgroups.Options.Reserve), so that no SIGKILL between the
//     mkdirs and the record leaves one to nobody; Undo removes what of
//     them exists.
//   - Instance.Exec and Enter start a process in existing namespaces:
//     steps of setns in the same single-threaded child (no re-exec), the
//     mount namespace last (its /proc hides the host's), the user namespace
//     first for a caller it gives privilege to and last for root. A
//     joined pid namespace holds the command: root's exec clones the
//     child straight into it (the child is the command, nothing between),
//     others' child joins it and forks the command under nook's init,
//     which waits outside. Exec adds the sandbox's cgroup, process settings and seccomp filter
//     (compiled once and cached beside the state).
package container

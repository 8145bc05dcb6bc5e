// Package container runs OCI runtime specs: it is the one start path that
// `nook run`, the OCI commands and Go programs share.
//
// A Container goes New (validate the spec and compile it, touching
// nothing), Start (create the namespaces, the root file system and the
// command), Wait, and Close (kill what is left, remove what was made).
// Run does all four.
//
// # The start path
//
// In the parent (Go), Start:
//  1. compiles the spec into the child's steps (compile, plan.go): which
//     namespaces clone3 creates, which are joined by path, every mount in
//     order, devices, masked and read-only paths, rlimits, user,
//     capabilities, seccomp, environment and arguments;
//  2. clones the child and the janitor (package internal/spawn);
//  3. writes the user namespace's ID maps and puts the child in its
//     cgroup;
//  4. releases the child and waits until it has exec'd the command or
//     failed, with the error it reported.
//
// In the child (C, internal/spawn/child.c), in this order:
//  1. new session; unshare the cgroup namespace (after the cgroup was
//     joined, so that its root is the sandbox's cgroup) and the time
//     namespace (writing its offsets before anyone is inside);
//  2. host name, domain name, loopback up;
//  3. the mount tree private, the new root built: the rootfs bound onto
//     itself, or an empty tmpfs with the host's system directories bound
//     in; every mount destination resolved inside the new root
//     (openat2 RESOLVE_IN_ROOT), so a symlink in a rootfs cannot point a
//     mount outside it;
//  4. devices, masked paths (over /dev/null verified to be the null
//     device), read-only paths;
//  5. pivot_root, the old root detached;
//  6. terminal, working directory, rlimits, user and capabilities,
//     no_new_privs, seccomp;
//  7. close every fd but 0-2 and the ones passed on; exec the command,
//     as PID 1 or under nook's init.
//
// Errors name the step and its path (`mount proc on /proc: permission
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
//   - Instance.Exec and Enter start a process in existing namespaces:
//     steps of setns in the same single-threaded child (no re-exec), the
//     mount namespace last (its /proc hides the host's), the user namespace
//     first for a caller it gives privilege to and last for root, nook's
//     init outside a joined pid namespace so that the command is inside it.
//     Exec adds the sandbox's cgroup, process settings and seccomp filter
//     (compiled once and cached beside the state).
package container

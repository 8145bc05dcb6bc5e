// Package container runs OCI runtime specs: it is the one start path that
// `nook run`, the OCI commands and Go programs share.
//
// A Container goes New (validate the spec and compile it, touching
// nothing), Start (create the namespaces, the root file system and the
// command), Wait, and Close (kill what is left, remove what was made).
// Run does all four, in the foreground (foreground.go): a terminal the spec
// asks for is wired to the caller's stdin and stdout, raw and following
// the window's size when stdin is a terminal, and with
// Options.ForwardSignals the caller's signals go to the sandbox.
//
// Errors about the spec are *spec.FieldError naming its field
// ("process.cwd", "linux.resources.memory.limit"), so that each front end
// can word them its own way.
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
package container

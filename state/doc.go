// Package state keeps what nook knows about its sandboxes on disk, so that
// a sandbox can outlive the command that started it and be found, entered
// and stopped later by another nook process.
//
// # Layout
//
// One directory per sandbox under a root directory (Store): /run/nook as
// root, $XDG_RUNTIME_DIR/nook for other users, or what --root says:
//
//	ROOT/ID/state.json   the State, as JSON (by hand: decodeState, encodeState)
//	ROOT/ID/config.json  the OCI runtime spec (Store.Spec)
//	ROOT/ID/exec-cache.json  what nook exec keeps of the spec, made by the
//	                     first exec (package container), keyed by its hash
//	ROOT/ID/exec-quick   a plain nook exec's plan, which nook's entry point
//	                     replays before Go starts (internal/spawn: QuickExec)
//	ROOT/ID/lock         flock(2)ed by whoever changes the state
//	ROOT/ID/output.log   what a detached sandbox wrote (size-capped)
//	ROOT/.names/NAME     a symlink to ID: names are unique per root
//	ROOT/.quick/run-XX   a plain nook run --bundle's plan, which nook's entry
//	                     point replays before Go starts (internal/spawn:
//	                     QuickRun): one file for each of 256 hashes of the
//	                     bundle's path, a cache, not a sandbox's state
//
// Named sandboxes (`nook run -d --name`) and OCI containers (`nook
// create ID`) share the layout, so `nook list` shows both, as runc's list
// shows containers.
//
// # Why these choices
//
//   - Writes go to a temporary file that is renamed over state.json, so a
//     reader never sees half a state and needs no lock; a crash leaves
//     either the old state or the new one. Changes take the sandbox's
//     lock, so two nook processes cannot both start, stop or remove it.
//   - Creating the directory (mkdir) and the name (symlink) are the atomic
//     steps that make an ID or a name taken: no lock is needed to keep two
//     creators apart.
//   - A process is recorded with its start time (field 22 of
//     /proc/PID/stat), and signalled through a pidfd only after the start
//     time has been checked against the one recorded. A PID that the kernel
//     gave to another process after the sandbox ended is never signalled.
//   - The status on disk is what the last writer saw. Status works out the
//     status now: a sandbox recorded as running whose init is gone (its
//     monitor was killed, say) is stopped.
//   - Undo lists what must be removed from the host when the sandbox goes
//     (cgroups, mounts, namespace binds, network leases), so that `rm -f`
//     can finish the job of a monitor that was killed.
//
// The statuses and their transitions are the OCI runtime spec's (creating,
// created, running, paused, stopped); each rule is a method of Status.
package state

// Package caps turns capability names into the bitmasks that nook's
// sandboxed child hands to capset(2), prctl(PR_CAPBSET_DROP) and
// prctl(PR_CAP_AMBIENT_RAISE).
//
// The Go parent does all the name handling here; the child, which runs a
// small C program between fork and execve, only receives five uint64
// masks (see [Sets]) and applies them. Bit N of a mask stands for
// capability number N, exactly as in the kernel's
// struct __user_cap_data_struct pair (low word = bits 0-31, high word =
// bits 32-63).
//
// Names are accepted in any case, with or without the "CAP_" prefix
// ("cap_chown", "CHOWN", "CAP_CHOWN"), and are always returned in the
// canonical form "CAP_CHOWN", ordered by capability number.
//
// Defaults. [Default] is the small set that Docker and runc grant by
// default. nook keeps the inheritable and ambient sets empty by default:
// a non-empty inheritable set lets a program that execs a binary carrying
// file inheritable capabilities regain privileges it was never meant to
// have (CVE-2022-29162, fixed in runc 1.1.2 by the same rule), and ambient
// capabilities must be a subset of inheritable anyway. [DefaultSets]
// returns that shape; [Sets.Validate] checks the kernel's own consistency
// rules before the child tries them.
//
// Capabilities that this kernel does not know (numbers above
// /proc/sys/kernel/cap_last_cap) are left out by [All] and [FromSpec], as
// runc does: they cannot be granted here, and PR_CAPBSET_DROP would fail
// with EINVAL on them. [FromSpec] also leaves out names no capability has,
// and returns both kinds as [Skipped] for the caller to warn about: the
// runtime spec (config.md, "Linux Process") says such a value MUST be
// logged as a warning and runtimes SHOULD NOT fail. Names given to nook's
// own flags ([Adjust], [Mask]) are still an error: there they are the
// user's typo.
package caps

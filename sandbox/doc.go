// Package sandbox runs a command isolated, as `nook run` does, in a few
// lines of Go:
//
//	res, err := sandbox.Run(ctx, &sandbox.Config{Args: []string{"/bin/true"}})
//
// A Config describes a sandbox the way the command line does (rootfs,
// binds, namespaces to share or add, ID maps, limits...), in typed fields:
// `nook run` only reads its flags into one, so a Go program gets what the
// command line gets, including the foreground handling (a pty wired to the
// caller's terminal with TTY, signals passed on with ForwardSignals) and
// the verdict (Config.Verdict). Its Spec method builds the OCI runtime spec
// that package container runs; nothing else decides what a sandbox is.
//
// Errors name Config fields, never flags (*spec.FieldError with Field
// "Config.Workdir"): the library speaks Go, and the command line maps
// fields to its flags.
//
// The default view is the host's system read-only: an empty root with the
// host's /usr, /bin, /sbin, /lib* and /etc bound in, /etc's secrets hidden
// (HostSecrets), and fresh /proc, /dev, /sys and /tmp.
package sandbox

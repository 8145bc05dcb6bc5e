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
// An image of the store (package image) is a root too: Config.Image makes
// its layers an overlay mounted on "/" inside the sandbox, and its
// Entrypoint, Cmd, Env, WorkingDir and User the defaults of the command,
// environment, working directory and user.
//
// The default view is the host's system read-only: an empty root with the
// host's /usr, /bin, /sbin, /lib* and /etc bound in, /etc's secrets hidden
// (HostSecrets), and fresh /proc, /dev, /sys and /tmp.
//
// Its network is Config.Net: by default a namespace of its own with
// loopback only; or the host's, a named namespace, a place on a bridge
// with an address, NAT and published ports (package network), or pasta
// for unprivileged users. What a network needs on the host is made by
// Config.Network after Spec and before the start, and is gone when the
// sandbox is, however it ends; Run does both.
package sandbox

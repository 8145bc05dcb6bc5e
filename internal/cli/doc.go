// Package cli is nook's command line: flags in, a sandbox.Config or an OCI
// bundle out, and the exit status back. It holds no sandbox logic of its
// own, so that whatever `nook run` can do, a Go program can do with the
// libraries.
//
// # One file per command
//
// Each command is one file (run.go, with its limit flags in limits.go;
// completion.go, version.go...) with a newXxxCmd function, listed once in
// commands() in root.go. A new verb is its file plus that one line; root.go
// stays otherwise untouched, so that commands added side by side merge
// without conflict beyond that list. The list names each command, so that
// Main builds only the one its arguments name (building all of them and
// their flags cost every start 0.2 ms); help, completion and mistyped
// commands get the whole tree.
// `make install` writes the man pages from the same definitions
// (cmd/nook-mangen), so --help, the man pages and the shell completions
// cannot drift apart.
//
// # Flags and fields
//
// The libraries name what is wrong by field: a sandbox.Config field
// ("Config.Workdir") or an OCI spec path ("linux.resources.memory.limit"),
// as a *spec.FieldError. flags.go maps those fields to the flags that set
// them, and words the error for the command line ("--workdir: ..."). A
// mistake in a Config field is a usage error (exit status 2); a spec field
// the host cannot apply stays nook's failure (125). The CLI itself only
// checks what it reads: that a flag's text parses.
//
// Exit statuses: the command's own, 128+N for signal N, 126 and 127 when
// the command cannot be executed or found, 125 when nook failed, 2 for a
// mistake on the command line.
package cli

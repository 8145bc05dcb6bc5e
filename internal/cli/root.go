package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/nookrun/nook/container"
	"github.com/spf13/cobra"
)

// Version is set at build time (-ldflags -X).
var Version = "dev"

// commands are nook's commands, one file each. A new command is its file
// plus one line here, in alphabetical order.
func commands() []*cobra.Command {
	return []*cobra.Command{
		newBatchCmd(),
		newCompletionCmd(),
		newEnterCmd(),
		newExecCmd(),
		newImageCmd(),
		newInspectCmd(),
		newKillCmd(),
		newListCmd(),
		newLogsCmd(),
		newMonitorCmd(),
		newNetCmd(),
		newNetnsCmd(),
		newNSCmd(),
		newPsCmd(),
		newRmCmd(),
		newRunCmd(),
		newStopCmd(),
		newVersionCmd(),
		newWaitCmd(),
	}
}

// exitError carries an exit status out of a command without printing.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Main runs the command line and returns the process's exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	// runc's callers (containerd's shim, conmon) read the error from --log
	logError(root, err)
	fmt.Fprintf(stderr, "nook: %v\n", err)
	var se *container.StartError
	if errors.As(err, &se) {
		return se.ExitCode
	}
	var ue usageError
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") {
		return 2 // cobra's own word for a mistyped command
	}
	return 125
}

// usageError is a mistake in the command line itself.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// usageArgs wraps a cobra argument check so that its error is a usage
// error (exit status 2).
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError{fmt.Errorf("%w (see '%s --help')", err, cmd.CommandPath())}
		}
		return nil
	}
}

// Root returns nook's command tree, for tools that document it
// (internal/mangen writes the man pages from it).
func Root() *cobra.Command { return newRoot() }

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "nook",
		Short: "Run processes in Linux namespaces, safely and fast",
		Long: `nook puts processes into Linux namespaces, safely and fast: a sandbox
runner with a PID-1 init, cgroup limits and a verdict a judge can trust,
and security defaults that close the known container escapes. Every
sandbox is an OCI runtime spec: "nook run" builds one from its flags, and
"nook run --bundle" runs one from an OCI bundle.`,
		Version:           Version,
		SilenceUsage:      true,
		SilenceErrors:     true,
		DisableAutoGenTag: true, // man pages the same from build to build
		// completion.go is nook's own; cobra's hidden __complete stays
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())}
	})
	root.AddCommand(commands()...)
	addRootFlag(root)
	addRuntimeCommands(root)
	root.SetVersionTemplate("nook version {{.Version}}\n")
	return root
}

package cli

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/nookrun/nook/container"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Version is set at build time (-ldflags -X).
var Version = "dev"

// commands are nook's commands, one file each, by the names they answer
// to. A new command is its file plus one line here, in alphabetical order.
func commands() []command {
	return []command{
		{names: []string{"batch"}, build: newBatchCmd},
		// completion scripts are written from the whole command tree
		{names: []string{"completion"}, build: newCompletionCmd, tree: true},
		{names: []string{"enter", "nsenter"}, build: newEnterCmd},
		{names: []string{"exec"}, build: newExecCmd},
		{names: []string{"image"}, build: newImageCmd},
		{names: []string{"inspect"}, build: newInspectCmd},
		{names: []string{"kill"}, build: newKillCmd},
		{names: []string{"list", "ls"}, build: newListCmd},
		{names: []string{"logs"}, build: newLogsCmd},
		{names: []string{"monitor"}, build: newMonitorCmd},
		{names: []string{"net"}, build: newNetCmd},
		{names: []string{"netns"}, build: newNetnsCmd},
		{names: []string{"ns"}, build: newNSCmd},
		{names: []string{"ps"}, build: newPsCmd},
		{names: []string{"rm"}, build: newRmCmd},
		{names: []string{"run"}, build: newRunCmd},
		{names: []string{"stop"}, build: newStopCmd},
		{names: []string{"version"}, build: newVersionCmd},
		{names: []string{"wait"}, build: newWaitCmd},
	}
}

// command is one of nook's commands: the names it answers to (its name
// first, then its aliases) and how to build it. Building every command
// and its flags costs each start about 0.3 ms and 165 KB of fresh heap
// (BenchmarkNewRoot), more than a `nook exec` spends on its own work, so
// Main builds only the command its arguments name (newRootFor).
type command struct {
	names []string
	build func() *cobra.Command
	// tree: the command reads the whole command tree, so it is built
	// with every other command
	tree bool
}

// exitError carries an exit status out of a command without printing.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Main runs the command line and returns the process's exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	root := newRootFor(args)
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
// (cmd/nook-mangen writes the man pages from it).
func Root() *cobra.Command { return newRoot() }

// newRoot returns the whole command tree.
func newRoot() *cobra.Command {
	root := newBareRoot()
	for _, c := range allCommands() {
		root.AddCommand(c.build())
	}
	return root
}

// newRootFor returns the command tree that args need: the root with only
// the command args name, when they name one that needs no other;
// otherwise (help, a mistyped command, completion...) the whole tree, so
// that cobra lists and suggests commands as it always does.
func newRootFor(args []string) *cobra.Command {
	root := newBareRoot()
	if len(args) == 1 && (args[0] == "--version" || args[0] == "-v") {
		return root // cobra answers it from the root alone
	}
	name := commandName(root, args)
	for _, c := range allCommands() {
		if slices.Contains(c.names, name) && !c.tree {
			root.AddCommand(c.build())
			return root
		}
	}
	for _, c := range allCommands() {
		root.AddCommand(c.build())
	}
	return root
}

// allCommands are nook's commands and runc's beside them.
func allCommands() []command {
	return append(commands(), runtimeCommands()...)
}

// commandName returns the first of args that is neither a flag of root's
// nor a flag's value: the command that cobra will run. It returns "" where
// it cannot tell (a flag root does not know, such as --help or --version,
// or "--"), and the whole tree is then built.
func commandName(root *cobra.Command, args []string) string {
	flags := root.PersistentFlags()
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "-" || !strings.HasPrefix(a, "-") {
			return a
		}
		if a == "--" {
			return ""
		}
		var f *pflag.Flag
		name, _, withValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "--") {
			f = flags.Lookup(name)
		} else if len(name) == 1 {
			f = flags.ShorthandLookup(name)
		}
		if f == nil {
			return ""
		}
		if !withValue && f.NoOptDefVal == "" {
			i++ // the flag's value is the next argument
		}
	}
	return ""
}

// newBareRoot returns the root command with its flags and no commands.
func newBareRoot() *cobra.Command {
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
	addRootFlag(root)
	addRuntimeFlags(root)
	root.SetVersionTemplate("nook version {{.Version}}\n")
	return root
}

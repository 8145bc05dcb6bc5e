package cli

import (
	"context"
	"os"

	"github.com/nookrun/nook/container"
	"github.com/spf13/cobra"
)

// newMonitorCmd is the process that watches over a detached sandbox: `nook
// run -d` starts it, it starts the sandbox and lives as long as it does.
// Users never call it.
func newMonitorCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "monitor ID",
		Short:  "Watch over a detached sandbox (started by nook run -d)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openStore(cmd)
			if err != nil {
				return err
			}
			report := os.NewFile(3, "report")
			if err := container.Monitor(context.Background(), s, args[0], report); err != nil {
				return exitError{125}
			}
			return nil
		},
	}
}

// monitorCommand is the command line Detach starts the monitor with.
func monitorCommand(root string) ([]string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return []string{exe, "--" + rootFlag, root, "monitor"}, nil
}

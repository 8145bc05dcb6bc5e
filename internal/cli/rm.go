package cli

import (
	"errors"
	"fmt"

	"github.com/nookrun/nook/container"
	"github.com/nookrun/nook/state"
	"github.com/spf13/cobra"
)

func newRmCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "rm [-f] SANDBOX...",
		Short: "Remove stopped sandboxes",
		Long: `Remove each sandbox's state and whatever it still holds on the host
(its cgroup and mounts). A sandbox that is not stopped is refused; with -f
it is killed first. -f also removes a sandbox whose state cannot be read.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openStore(cmd)
			if err != nil {
				return err
			}
			var errs []error
			for _, ref := range args {
				if err := removeSandbox(s, ref, force); err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "nook: %v\n", err)
					errs = append(errs, err)
				}
			}
			if errs != nil {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "kill a sandbox that runs, and remove one whose state is damaged")
	return cmd
}

func removeSandbox(s *state.Store, ref string, force bool) error {
	in, err := container.LoadIn(s, ref)
	var de *state.DamagedError
	if errors.As(err, &de) && force {
		return container.ForceRemove(s, ref)
	}

	if err != nil {
		return notFound(err, ref)
	}
	err = in.Remove(force)
	if errors.Is(err, state.ErrNotExist) {
		return notFound(err, ref)
	}
	return err
}

package cli

import (
	"context"
	"fmt"

	"github.com/nookrun/nook/container"
	"github.com/spf13/cobra"
)

func newWaitCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "wait SANDBOX...",
		Short: "Wait for sandboxes to stop and print their exit codes",
		Long: `Block until each sandbox has stopped, then print its exit status (128+N
when signal N killed it), one per line. A sandbox whose monitor died
before it could record the end prints "unknown" and makes nook exit 1.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openStore(cmd)
			if err != nil {
				return err
			}
			var failed bool
			for _, ref := range args {
				in, err := container.LoadIn(s, ref)
				if err != nil {
					return notFound(err, ref)
				}
				if err := in.Wait(context.Background()); err != nil {
					return notFound(err, ref)
				}
				if in.State.Exit == nil {
					why := in.State.Error
					if why == "" {
						why = "its monitor ended before it could record the end"
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "nook: sandbox %s: exit status unknown: %s\n", ref, why)
					fmt.Fprintln(cmd.OutOrStdout(), "unknown")
					failed = true
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), in.State.Exit.Code)
			}
			if failed {
				return exitError{1}
			}
			return nil
		},
	}
}

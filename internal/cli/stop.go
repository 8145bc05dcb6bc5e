package cli

import (
	"context"
	"time"

	"github.com/nookrun/nook/container"
	"github.com/spf13/cobra"
)

func newStopCmd() *cobra.Command {
	var secs int
	cmd := &cobra.Command{
		Use:   "stop [-t SECONDS] SANDBOX...",
		Short: "Stop sandboxes: SIGTERM, then SIGKILL",
		Long: `Send SIGTERM to each sandbox, then SIGKILL to those still running after
SECONDS (default 10), and wait until each has stopped and its monitor has
recorded the end. Stopping a stopped sandbox does nothing.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openStore(cmd)
			if err != nil {
				return err
			}
			for _, ref := range args {
				in, err := container.LoadIn(s, ref)
				if err != nil {
					return notFound(err, ref)
				}
				if err := in.Stop(context.Background(), time.Duration(secs)*time.Second); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().IntVarP(&secs, "time", "t", 10, "`SECONDS` to wait after SIGTERM before SIGKILL")
	return cmd
}

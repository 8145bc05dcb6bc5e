package cli

import (
	"github.com/spf13/cobra"
)

// pause and resume: runc's, as containerd's shim and podman call them.
func newPauseCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "pause CONTAINER-ID",
		Short: "Freeze every process of a running container (runc pause)",
		Long: `Freeze every process of the running container with the cgroup freezer
(v1 freezer.state, v2 cgroup.freeze); state then reports "paused" until
"nook resume". A paused container takes no exec; kill with KILL thaws it
so that it dies.`,
		Args: exactArgsNamed(1, "the container ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := loadContainer(cmd, args[0])
			if err != nil {
				return err
			}
			return in.Pause()
		},
	}
}

func newResumeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "resume CONTAINER-ID",
		Short: "Thaw a paused container (runc resume)",
		Args:  exactArgsNamed(1, "the container ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := loadContainer(cmd, args[0])
			if err != nil {
				return err
			}
			return in.Resume()
		},
	}
}

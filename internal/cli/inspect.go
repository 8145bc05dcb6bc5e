package cli

import (
	"encoding/json"
	"fmt"

	"github.com/nookrun/nook/state"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
)

// inspected is a sandbox's state as `nook inspect` prints it: what is on
// disk, with the status as it is now.
type inspected struct {
	*state.State
	Status state.Status `json:"status"`
	Spec   *specs.Spec  `json:"spec,omitempty"`
}

func newInspectCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "inspect SANDBOX...",
		Short: "Print sandboxes' states as JSON",
		Long: `Print the state of each sandbox (an ID or a name) as a JSON array: its
ID, name, status now, init's and the monitor's PIDs with their start
times, the OCI spec, when it was created, started and finished, how it
ended, and what is left to remove from the host.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out []inspected
			var firstErr error
			for _, ref := range args {
				s, st, err := loadSandbox(cmd, ref)
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "nook: %v\n", err)
					if firstErr == nil {
						firstErr = exitError{1}
					}
					continue
				}
				sp, _ := s.Spec(st.ID)
				out = append(out, inspected{State: st, Status: st.Current(), Spec: sp})
			}
			if out != nil {
				b, err := json.MarshalIndent(out, "", "  ")
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), string(b))
			}
			return firstErr
		},
	}
}

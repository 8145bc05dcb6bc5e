package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/nookrun/nook/container"
	"github.com/nookrun/nook/sandbox"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
)

// netConfigFlag passes a detached sandbox's network (sandbox.Net, as
// JSON) to its monitor, which attaches it: what a network holds on the
// host is held by the descriptors of the process that made it.
const netConfigFlag = "net-config"

// newMonitorCmd is the process that watches over a detached sandbox: `nook
// run -d` starts it, it starts the sandbox and lives as long as it does.
// Users never call it.
func newMonitorCmd() *cobra.Command {
	var netConfig string
	cmd := &cobra.Command{
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
			mo := &container.MonitorOptions{}
			if netConfig != "" {
				var n sandbox.Net
				if err := json.Unmarshal([]byte(netConfig), &n); err != nil {
					return fmt.Errorf("--%s: %w", netConfigFlag, err)
				}
				mo.Prepare = func(spec *specs.Spec, opts *container.Options) (func(), error) {
					cfg := &sandbox.Config{Net: n}
					nw, err := cfg.Network(spec)
					if err != nil {
						return nil, err
					}
					*opts = *nw.Options(opts)
					return func() { nw.Close() }, nil
				}
			}
			if err := container.Monitor(context.Background(), s, args[0], report, mo); err != nil {
				return exitError{125}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&netConfig, netConfigFlag, "", "the sandbox's network, as JSON")
	return cmd
}

// monitorCommand is the command line Detach starts the monitor with.
func monitorCommand(root string, net *sandbox.Net) ([]string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{exe, "--" + rootFlag, root, "monitor"}
	if net != nil {
		b, err := json.Marshal(net)
		if err != nil {
			return nil, err
		}
		args = append(args, "--"+netConfigFlag, string(b))
	}
	return args, nil
}

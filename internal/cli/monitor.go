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

// monitorImage names the image a detached sandbox runs, whose layers its
// monitor holds (image.Image.Use) so that nook image rm and prune leave
// them while it runs.
type monitorImage struct {
	Store string `json:"store,omitempty"`
	ID    string `json:"id"`
}

// imageFlag passes a monitorImage, as JSON.
const imageFlag = "image-config"

// netConfigFlag passes a detached sandbox's network (sandbox.Net, as
// JSON) to its monitor, which attaches it: what a network holds on the
// host is held by the descriptors of the process that made it.
const netConfigFlag = "net-config"

// newMonitorCmd is the process that watches over a detached sandbox: `nook
// run -d` starts it, it starts the sandbox and lives as long as it does.
// Users never call it.
func newMonitorCmd() *cobra.Command {
	var netConfig, imageConfig string
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
			if imageConfig != "" {
				var mi monitorImage
				if err := json.Unmarshal([]byte(imageConfig), &mi); err != nil {
					return fmt.Errorf("--%s: %w", imageFlag, err)
				}
				prev := mo.Prepare
				mo.Prepare = func(spec *specs.Spec, opts *container.Options) (func(), error) {
					st, err := (&imageOptions{store: mi.Store}).open(cmd)
					if err != nil {
						return nil, err
					}
					img, err := st.Get(mi.ID)
					if err != nil {
						return nil, err
					}
					release, err := img.Use(cmd.Context())
					if err != nil {
						return nil, err
					}
					done := func() {}
					if prev != nil {
						if done, err = prev(spec, opts); err != nil {
							release()
							return nil, err
						}
					}
					return func() { done(); release() }, nil
				}
			}
			if err := container.Monitor(context.Background(), s, args[0], report, mo); err != nil {
				return exitError{125}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&netConfig, netConfigFlag, "", "the sandbox's network, as JSON")
	cmd.Flags().StringVar(&imageConfig, imageFlag, "", "the sandbox's image, as JSON")
	return cmd
}

// monitorCommand is the command line Detach starts the monitor with.
func monitorCommand(root string, net *sandbox.Net, img *monitorImage) ([]string, error) {
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
	if img != nil {
		b, err := json.Marshal(img)
		if err != nil {
			return nil, err
		}
		args = append(args, "--"+imageFlag, string(b))
	}
	return args, nil
}

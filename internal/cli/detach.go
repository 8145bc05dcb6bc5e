package cli

import (
	"errors"
	"fmt"

	"github.com/nookrun/nook/container"
	"github.com/nookrun/nook/sandbox"
	"github.com/nookrun/nook/spec"
	"github.com/nookrun/nook/state"
	"github.com/spf13/cobra"
)

// detachOptions are the flags of `nook run` about sandboxes that outlive
// it.
type detachOptions struct {
	detach, rm bool
	name       string
	logSize    string
}

func (o *detachOptions) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.BoolVarP(&o.detach, "detach", "d", false, "run in the background: print the sandbox's ID once COMMAND runs, and exit")
	f.StringVar(&o.name, "name", "", "name the sandbox `NAME` and keep its state while it runs and after, for nook list, exec, stop, rm... (a detached sandbox always has a state, and an ID)")
	f.BoolVar(&o.rm, "rm", false, "remove the sandbox's state once it stops (with -d or --name)")
	f.StringVar(&o.logSize, "log-size", "1m", "with -d: rotate the output log at `SIZE` (k, m, g); two are kept")
}

// check refuses what detach cannot do (yet) with the other flags.
func (o *detachOptions) check(tty bool, lo *limitOptions) error {
	if o.name != "" {
		if err := state.CheckName(o.name); err != nil {
			return fmt.Errorf("--name: %w", err)
		}
	}
	if !o.detach {
		if o.rm && o.name == "" {
			return errors.New("--rm: only with -d or --name (an unnamed foreground sandbox leaves no state)")
		}
		return nil
	}
	if tty {
		return errors.New("-t with -d: a detached sandbox has no terminal; use nook exec -t to get one in it")
	}
	if lo != nil && (lo.verdictFile != "" || lo.stdin != "" || lo.stdout != "" || lo.stderr != "") {
		return errors.New("--verdict, --stdin, --stdout and --stderr are for the foreground; a detached sandbox's output goes to nook logs")
	}
	return nil
}

// record is what a foreground sandbox with --name keeps in the state
// directory while it runs; nil without --name.
func (o *detachOptions) record(cmd *cobra.Command) (*container.Record, error) {
	if o.name == "" {
		return nil, nil
	}
	s, err := openStore(cmd)
	if err != nil {
		return nil, err
	}
	return &container.Record{Store: s, Name: o.name, AutoRemove: o.rm}, nil
}

// runDetached starts s in the background under nook's monitor and prints
// its ID.
func runDetached(cmd *cobra.Command, o *detachOptions, s *spec.Spec, opts *container.Options, bundle, id string) error {
	return detach(cmd, o, s, opts, bundle, id, nil, nil)
}

// detach starts s under a monitor that attaches net and holds img's
// layers (each may be nil).
func detach(cmd *cobra.Command, o *detachOptions, s *spec.Spec, opts *container.Options, bundle, id string, net *sandbox.Net, img *monitorImage) error {
	store, err := openStore(cmd)
	if err != nil {
		return err
	}
	mon, err := monitorCommand(store.Dir(), net, img)
	if err != nil {
		return err
	}
	size, err := sandbox.ParseSize(o.logSize)
	if err != nil {
		return usageError{fmt.Errorf("--log-size: %w", err)}
	}
	in, err := container.Detach(store, s, &container.DetachOptions{
		ID: id, Name: o.name, Bundle: bundle, Init: opts.Init, DenySetgroups: opts.DenySetgroups, Limits: opts.Limits,
		AutoRemove: o.rm, LogSize: size, Monitor: mon,
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), in.State.ID)
	return nil
}

// detachSandbox runs a sandbox of nook run's flags in the background.
// store is the image store of --image.
func detachSandbox(cmd *cobra.Command, cfg *sandbox.Config, o *detachOptions, store string) error {
	s, err := cfg.Spec()
	if err != nil {
		return flagError(err)
	}
	if sandbox.Rootless() {
		if err := checkUserNamespaces(); err != nil {
			return err
		}
	}
	var net *sandbox.Net
	switch cfg.Net.Mode {
	case sandbox.NetBridge, sandbox.NetPasta, sandbox.NetNamespace:
		// the monitor attaches it: what a network holds on the host is
		// held by the descriptors of the process that runs the sandbox
		net = &cfg.Net
	default:
		// generated /etc files (--dns, --add-host) are bound in by the
		// time Detach returns; they go then
		nw, err := cfg.Network(s)
		if err != nil {
			return flagError(err)
		}
		defer nw.Close()
	}
	var img *monitorImage
	if cfg.Image != nil {
		// the monitor holds the image's layers while the sandbox runs
		img = &monitorImage{Store: store, ID: cfg.Image.ID}
	}
	return detach(cmd, o, s, cfg.Options(), "", "", net, img)
}

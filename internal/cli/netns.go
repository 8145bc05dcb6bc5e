package cli

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/nookrun/nook/netns"
	"github.com/spf13/cobra"
)

func newNetnsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "netns",
		Short: "Manage named network namespaces, as ip netns does",
		Long: `Manage named network namespaces with the files and semantics of
"ip netns": NAME is bound at /run/netns/NAME, on a shared mount. A
namespace made by either tool is seen and used by the other.`,
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "add NAME...",
			Short: "Make named network namespaces",
			Args:  cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				for _, n := range args {
					if err := netns.Add(n); err != nil {
						return err
					}
				}
				return nil
			},
		},
		&cobra.Command{
			Use:     "delete NAME...",
			Aliases: []string{"del"},
			Short:   "Remove named network namespaces",
			Args:    cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				var errs []error
				for _, n := range args {
					errs = append(errs, netns.Delete(n))
				}
				return errors.Join(errs...)
			},
		},
		&cobra.Command{
			Use:     "list",
			Aliases: []string{"ls"},
			Short:   "List named network namespaces",
			Args:    cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				names, err := netns.List()
				for _, n := range names {
					fmt.Fprintln(cmd.OutOrStdout(), n)
				}
				return err
			},
		},
		&cobra.Command{
			Use:   "exec NAME [--] COMMAND [ARG...]",
			Short: "Run a command in a named network namespace",
			Long: `Run COMMAND in the network namespace NAME, as "ip netns exec" runs it:
with /sys showing that namespace, and /etc/netns/NAME/* bound over /etc.
COMMAND replaces nook; it is not sandboxed otherwise (see "nook run
--net ns:NAME" for that).`,
			Args: cobra.MinimumNArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				argv := args[1:]
				if argv[0] == "--" {
					argv = argv[1:]
				}
				if len(argv) == 0 {
					return usageError{errors.New("exec: no command given (nook netns exec NAME -- COMMAND [ARG...])")}
				}
				return netns.Exec(args[0], argv, os.Environ())
			},
		},
		&cobra.Command{
			Use:   "identify [PID]",
			Short: "Print the names of the network namespace of PID (default: nook's)",
			Args:  cobra.MaximumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				pid := os.Getpid()
				if len(args) == 1 {
					var err error
					if pid, err = strconv.Atoi(args[0]); err != nil || pid <= 0 {
						return usageError{fmt.Errorf("identify: %q is not a process ID", args[0])}
					}
				}
				names, err := netns.Identify(pid)
				for _, n := range names {
					fmt.Fprintln(cmd.OutOrStdout(), n)
				}
				return err
			},
		},
		&cobra.Command{
			Use:   "pids NAME",
			Short: "Print the processes in a named network namespace",
			Args:  exactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				pids, err := netns.Pids(args[0])
				for _, p := range pids {
					fmt.Fprintln(cmd.OutOrStdout(), p)
				}
				return err
			},
		},
	)
	for _, c := range cmd.Commands() {
		c.Flags().SetInterspersed(c.Name() != "exec")
	}
	return cmd
}

package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nookrun/nook/container"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

func newKillCmd() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "kill [--all] SANDBOX [SIGNAL]",
		Short: "Send a signal to a sandbox",
		Long: `Send SIGNAL (a name such as TERM or SIGKILL, or a number; default TERM,
as runc's kill) to the sandbox's init, which passes it on to the command.
The signal goes to the process recorded, never to another that has since
been given its PID. With --all it goes to every process of the sandbox.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			sig := unix.SIGTERM
			if len(args) == 2 {
				var err error
				if sig, err = parseSignal(args[1]); err != nil {
					return usageError{err}
				}
			}
			s, err := openStore(cmd)
			if err != nil {
				return err
			}
			in, err := container.LoadIn(s, args[0])
			if err != nil {
				return notFound(err, args[0])
			}
			if all {
				return in.SignalAll(sig)
			}
			return in.Signal(sig)
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "signal every process of the sandbox, not only its init")
	return cmd
}

// parseSignal reads a signal by name (TERM, SIGTERM, term) or number.
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("signal %d: want 1 to 64", n)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q (want a name such as TERM or KILL, or a number)", s)
}

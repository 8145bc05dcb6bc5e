package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/nookrun/nook/container"
	"github.com/nookrun/nook/sandbox"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newExecCmd() *cobra.Command {
	var (
		tty       bool
		env       []string
		cwd, user string
		rt        runtimeExec
	)
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] SANDBOX [--] COMMAND [ARG...]",
		Short: "Run a command in a running sandbox",
		Long: `Run COMMAND in a running sandbox, as docker exec does: in all of its
namespaces (joined with setns by nook's single-threaded child, user and
mount included) and its cgroup, with its root, capabilities, seccomp
filter, no_new_privs, user, working directory and environment, each of the
last three changeable by a flag. As root, COMMAND is cloned straight into
the sandbox's pid namespace; for other users (and with --detach) a small
init outside it waits for COMMAND. nook passes signals on, COMMAND dies
with the sandbox, and nook exits with COMMAND's status.

A plain exec (no option but --root) keeps its plan beside the sandbox's
state, and the next plain one into the same sandbox starts COMMAND from
it before nook's Go runtime starts, in half the time, for as long as the
sandbox's state, nook's binary and the caller's namespaces are those it
was made under; otherwise the exec is made again.`,
		Example: `  nook exec web -- ps
  nook exec -t web -- /bin/sh
  nook exec -e DEBUG=1 -w /srv -u 1000:1000 web -- ./tool`,
		Args: func(cmd *cobra.Command, args []string) error {
			n := len(args)
			if n > 1 && args[1] == "--" {
				// flags end at the sandbox's name; the "--" after it is
				// only a separator
				n--
			}
			if n == 1 && rt.process != "" {
				return nil
			}
			if n < 2 {
				return usageError{errors.New("want a sandbox and a command (nook exec SANDBOX -- COMMAND [ARG...])")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 && args[1] == "--" {
				args = append(args[:1], args[2:]...)
			}
			o := &container.ExecOptions{Args: args[1:], TTY: tty, Cwd: cwd, Warnf: warnf(cmd), Quick: true}
			// the command line that nook's entry point replays has no
			// flag but --root
			cmd.Flags().Visit(func(f *pflag.Flag) {
				if f.Name != rootFlag {
					o.Quick = false
				}
			})
			if err := rt.apply(o, len(args) > 1); err != nil {
				return err
			}
			if tty {
				// the terminal starts at the size of ours
				o.ConsoleSize = container.TerminalSize(os.Stdin)
			}
			for _, e := range env {
				if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
					return usageError{fmt.Errorf("--env %q: want K=V", e)}
				}
				o.Env = append(o.Env, e)
			}
			if user != "" {
				uid, gid, err := sandbox.ParseUser(user)
				if err != nil {
					return usageError{err}
				}
				o.User = &specs.User{UID: uid, GID: gid}
			}
			s, err := openStore(cmd)
			if err != nil {
				return err
			}
			if rt.detach {
				in, err := container.LoadIn(s, args[0])
				if err != nil {
					return notFound(err, args[0])
				}
				return rt.start(in, o)
			}
			if rt.consoleSocket != "" {
				return usageError{errors.New("--console-socket: only with --detach")}
			}
			// the state is read and the command planned while the
			// signals are being caught (Foreground.Exec)
			fg := container.Foreground{ForwardSignals: true}
			return exitStatus(fg.Exec(context.Background(), func(ready func()) (*container.Execution, error) {
				in, err := container.LoadIn(s, args[0])
				if err != nil {
					return nil, notFound(err, args[0])
				}
				o.BeforeStart = ready
				x, err := in.Exec(o)
				if err == nil && rt.pidFile != "" {
					if err = writePidFile(rt.pidFile, x.Pid()); err != nil {
						x.Close()
						return nil, err
					}
				}
				return x, err
			}))
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&tty, "tty", "t", false, "give COMMAND a new pseudo-terminal in the sandbox")
	stringArrayVar(f, &env, "env", "e", "set `K=V` in the sandbox's environment (repeatable)")
	f.StringVarP(&cwd, "workdir", "w", "", "working `DIR` inside (default: the sandbox's)")
	f.StringVarP(&user, "user", "u", "", "run as `UID[:GID]` inside (default: the sandbox's user)")
	f.StringVar(&cwd, "cwd", "", "the same as --workdir (runc's name)")
	rt.flags(cmd)
	return cmd
}

package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nookrun/nook/caps"
	"github.com/nookrun/nook/container"
	"github.com/nookrun/nook/spec"
	"github.com/nookrun/nook/state"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// The OCI runtime commands: runc's command line, for containerd's shim,
// conmon (podman, CRI-O) and the runtime-tools conformance suite. Each is
// a thin layer over package container (Create, Instance.Start,
// Instance.Delete...), the Go API that does the same.

// The global flags runc takes before the command, which engines pass.
const (
	logFlag           = "log"
	logFormatFlag     = "log-format"
	debugFlag         = "debug"
	systemdCgroupFlag = "systemd-cgroup"
	rootlessFlag      = "rootless"
)

func addRuntimeFlags(root *cobra.Command) {
	f := root.PersistentFlags()
	f.String(logFlag, "", "write errors to `FILE` as well (runc's --log; containerd's shim and conmon read it)")
	f.String(logFormatFlag, "text", "`FORMAT` of --log: text or json (one JSON object a line, with level and msg, as runc writes)")
	f.Bool(debugFlag, false, "say what nook decides on its own (whether there is a cgroup and why; a root built without pivot_root), at level debug in --log, or on stderr")
	f.Bool(systemdCgroupFlag, false, "manage cgroups through systemd (runc's flag): refused where systemd is not PID 1")
	f.String(rootlessFlag, "auto", "accepted for runc compatibility (true, false or auto)")
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if sd, _ := cmd.Flags().GetBool(systemdCgroupFlag); sd {
			if _, err := os.Stat("/run/systemd/system"); err != nil {
				return errors.New("--systemd-cgroup: systemd is not running as PID 1 here; nook manages cgroups itself (leave the flag out)")
			}
		}
		if lf, _ := cmd.Flags().GetString(logFormatFlag); lf != "text" && lf != "json" {
			return usageError{fmt.Errorf("--log-format %q: want text or json", lf)}
		}
		return nil
	}
}

// logError writes err to the --log file, in the --log-format; errors of
// its own are dropped, since stderr has the error anyway.
func logError(root *cobra.Command, err error) {
	logLine(root, "error", err.Error())
}

// warnf is container.Options.Warnf for the runtime's commands: what the
// spec asks and nook skips, as runc logs it: a "warning" line in the --log
// file, or on stderr without one.
func warnf(cmd *cobra.Command) func(format string, args ...any) {
	root := cmd.Root()
	return func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if !logLine(root, "warning", msg) {
			fmt.Fprintf(cmd.ErrOrStderr(), "nook: warning: %s\n", msg)
		}
	}
}

// debugf is the global --debug's sink: nil without the flag, else lines
// at level debug in the --log file, or on stderr where there is none.
func debugf(cmd *cobra.Command) func(format string, args ...any) {
	root := cmd.Root()
	if on, _ := root.PersistentFlags().GetBool(debugFlag); !on {
		return nil
	}
	return func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if !logLine(root, "debug", msg) {
			fmt.Fprintf(cmd.ErrOrStderr(), "nook: debug: %s\n", msg)
		}
	}
}

// logLine writes one line of level to the --log file, in the
// --log-format; false when there is no such file to write.
func logLine(root *cobra.Command, level, msg string) bool {
	path, _ := root.PersistentFlags().GetString(logFlag)
	if path == "" {
		return false
	}
	format, _ := root.PersistentFlags().GetString(logFormatFlag)
	f, ferr := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if ferr != nil {
		return false
	}
	defer f.Close()
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if format == "json" {
		b, _ := json.Marshal(struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Time  string `json:"time"`
		}{level, msg, now})
		_, werr := f.Write(append(b, '\n'))
		return werr == nil
	}
	_, werr := fmt.Fprintf(f, "time=%q level=%s msg=%q\n", now, level, msg)
	return werr == nil
}

// ociState is what `state` prints: the OCI runtime spec's state, as runc
// prints it.
type ociState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      state.Status      `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

func stateOf(st *state.State) ociState {
	cur := st.Current()
	o := ociState{
		OCIVersion: st.OCIVersion, ID: st.ID, Status: cur, Bundle: st.Bundle, Rootfs: st.Rootfs,
		Created: st.Created, Annotations: st.Annotations,
	}
	if cur != state.Stopped {
		o.Pid = st.Init.Pid
	}
	return o
}

// loadContainer reads an OCI container's state by ID, with runc's words
// for one that does not exist.
func loadContainer(cmd *cobra.Command, id string) (*container.Instance, error) {
	s, err := openStore(cmd)
	if err != nil {
		return nil, err
	}
	in, err := container.LoadIn(s, id)
	if errors.Is(err, state.ErrNotExist) {
		return nil, fmt.Errorf("container %q does not exist", id)
	}
	return in, err
}

func newCreateCmd() *cobra.Command {
	var (
		bundle, pidFile, consoleSocket string
		preserveFDs                    int
		noPivot, noNewKeyring          bool
	)
	cmd := &cobra.Command{
		Use:   "create [--bundle DIR] [--pid-file FILE] [--console-socket SOCKET] CONTAINER-ID",
		Short: "Create an OCI container from a bundle (runc create); start runs it",
		Long: `Create the container CONTAINER-ID from the OCI bundle in DIR (default the
current directory), as runc create does: its cgroup, namespaces, root file
system and every other step of its config.json are made, and its init
waits just before it executes the command, until "nook start". create
exits then, leaving init to the process that called it (a subreaper such
as containerd's shim or conmon); its standard files are create's own.
--pid-file has init's PID once create exits, and init is in its cgroup by
then. With process.terminal, the terminal's master is sent over
--console-socket. A failure leaves nothing behind.`,
		Args: exactArgsNamed(1, "the container ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			dir, err := filepath.Abs(bundle)
			if err != nil {
				return err
			}
			s, err := spec.Load(dir)
			if err != nil {
				return err
			}
			store, err := openStore(cmd)
			if err != nil {
				return err
			}
			if s.Process != nil && s.Process.Terminal && consoleSocket == "" {
				return usageError{errors.New("--console-socket: the bundle's process.terminal is set: a console socket is needed to pass the terminal on")}
			}
			o := &container.CreateOptions{Bundle: dir, ConsoleSocket: consoleSocket, NoPivot: noPivot, Warnf: warnf(cmd), Debugf: debugf(cmd)}
			if preserveFDs < 0 {
				return usageError{fmt.Errorf("--preserve-fds %d: want 0 or more", preserveFDs)}
			}
			// systemd socket activation, as runc passes it on
			listen := 0
			if n, err := strconv.Atoi(os.Getenv("LISTEN_FDS")); err == nil && n > 0 && os.Getenv("LISTEN_PID") == strconv.Itoa(os.Getpid()) {
				listen = n
				s.Process.Env = append(s.Process.Env, "LISTEN_FDS="+strconv.Itoa(n), "LISTEN_PID=1")
			}
			for fd := 3; fd < 3+listen+preserveFDs; fd++ {
				f := os.NewFile(uintptr(fd), "fd"+strconv.Itoa(fd))
				if _, err := f.Stat(); err != nil {
					return fmt.Errorf("--preserve-fds: fd %d: %w", fd, err)
				}
				o.ExtraFiles = append(o.ExtraFiles, f)
			}
			in, err := container.Create(store, id, s, o)
			if err != nil {
				return err
			}
			if pidFile != "" {
				if err := writePidFile(pidFile, in.State.Init.Pid); err != nil {
					in.Delete(true)
					return err
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&bundle, "bundle", "b", ".", "the OCI bundle `DIR` (config.json and the root file system)")
	f.StringVar(&pidFile, "pid-file", "", "write init's PID to `FILE`")
	f.StringVar(&consoleSocket, "console-socket", "", "send the terminal's master over the unix socket `PATH` (process.terminal)")
	f.IntVar(&preserveFDs, "preserve-fds", 0, "pass `N` more fds, from 3 on, to the container")
	f.BoolVar(&noPivot, "no-pivot", false, "move the new root onto / and chroot instead of pivot_root (automatic where / cannot be pivoted, e.g. an initramfs)")
	f.BoolVar(&noNewKeyring, "no-new-keyring", false, "accepted for runc compatibility: nook gives the container no keyring of its own")
	return cmd
}

// writePidFile writes pid to path atomically, as runc does: readers never
// see an empty file.
func writePidFile(path string, pid int) error {
	path, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("--pid-file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("--pid-file: %w", err)
	}
	return nil
}

func newStartCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "start CONTAINER-ID",
		Short: "Run the command of a created container (runc start)",
		Long: `Run the command of a created container: its startContainer hooks, then
its exec. start returns once the command runs, and fails (with the
error) where a startContainer hook or the exec failed, however quickly
the command ends and whoever reaps the container's init; then its
poststart hooks.`,
		Args: exactArgsNamed(1, "the container ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := loadContainer(cmd, args[0])
			if err != nil {
				return err
			}
			return in.Start()
		},
	}
}

func newStateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "state CONTAINER-ID",
		Short: "Print a container's OCI state as JSON (runc state)",
		Args:  exactArgsNamed(1, "the container ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := loadContainer(cmd, args[0])
			if err != nil {
				return err
			}
			b, err := json.MarshalIndent(stateOf(in.State), "", "  ")
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(b))
			return nil
		},
	}
}

func newDeleteCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "delete [--force] CONTAINER-ID",
		Short: "Delete a container: its state, cgroup and what else it left (runc delete)",
		Long: `Delete the container's state and what it still holds on the host (its
cgroup). A container that is not stopped is refused; with --force it is
killed first. nook rm does the same for several at once.`,
		Args: exactArgsNamed(1, "the container ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openStore(cmd)
			if err != nil {
				return err
			}
			in, err := container.LoadIn(s, args[0])
			var de *state.DamagedError
			if errors.As(err, &de) && force {
				return container.ForceRemove(s, args[0])
			}
			if errors.Is(err, state.ErrNotExist) && force {
				// a create killed before its state's first write
				// leaves its directory (and nothing else: the state
				// is written before anything is made)
				removed, rerr := s.RemoveUnwritten(args[0])
				if removed || rerr != nil {
					return rerr
				}
				// or its creator was still at it, and it is there now
				in, err = container.LoadIn(s, args[0])
			}
			if errors.Is(err, state.ErrNotExist) {
				if force {
					// as runc: deleting what is gone already is done
					return nil
				}
				return fmt.Errorf("container %q does not exist", args[0])
			}
			if err != nil {
				return err
			}
			err = in.Delete(force)
			if errors.Is(err, state.ErrNotExist) {
				return fmt.Errorf("container %q does not exist", args[0])
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "kill a container that is not stopped, then delete it")
	return cmd
}

// notSupported is a command of runc's that nook does not have.
func notSupported(name, why string) *cobra.Command {
	return &cobra.Command{
		Use:                name,
		Short:              "Not supported: " + why,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return fmt.Errorf("%s: not supported: %s", name, why)
		},
	}
}

// exactArgs wants n arguments, and names them when they are missing.
func exactArgsNamed(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("%s: want %s (got %d arguments)", cmd.Name(), what, len(args))}
		}
		return nil
	}
}

func newSpecCmd() *cobra.Command {
	var (
		bundle   string
		rootless bool
	)
	cmd := &cobra.Command{
		Use:   "spec [--bundle DIR] [--rootless]",
		Short: "Write an example OCI config.json to start a bundle from (runc spec)",
		Long: `Write DIR/config.json (default the current directory): sh on a terminal
in the root file system "rootfs", with runc's default namespaces,
capabilities, mounts, masked and read-only paths. --rootless makes one an
unprivileged user can run: a user namespace mapping the caller to root.
An existing config.json is not overwritten.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path := filepath.Join(bundle, "config.json")
			b, err := json.MarshalIndent(spec.Example(rootless), "", "\t")
			if err != nil {
				return err
			}
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
			if err != nil {
				return fmt.Errorf("spec: %w", err)
			}
			_, err = f.Write(append(b, '\n'))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			return err
		},
	}
	cmd.Flags().StringVarP(&bundle, "bundle", "b", ".", "write config.json into `DIR`")
	cmd.Flags().BoolVar(&rootless, "rootless", false, "a spec for an unprivileged user (a user namespace)")
	return cmd
}

// runtimeCommands are runc's commands that nook's own do not cover (its
// kill, list, ps and exec take runc's flags too).
func runtimeCommands() []command {
	return []command{
		{names: []string{"create"}, build: newCreateCmd},
		{names: []string{"start"}, build: newStartCmd},
		{names: []string{"state"}, build: newStateCmd},
		{names: []string{"delete"}, build: newDeleteCmd},
		{names: []string{"spec"}, build: newSpecCmd},
		{names: []string{"features"}, build: newFeaturesCmd},
		{names: []string{"pause"}, build: newPauseCmd},
		{names: []string{"resume"}, build: newResumeCmd},
		{names: []string{"update"}, build: newUpdateCmd},
		{names: []string{"events"}, build: newEventsCmd},
		{names: []string{"checkpoint"}, build: func() *cobra.Command {
			return notSupported("checkpoint", "nook cannot checkpoint a container (CRIU is not used)")
		}},
		{names: []string{"restore"}, build: func() *cobra.Command {
			return notSupported("restore", "nook cannot restore a checkpoint (CRIU is not used)")
		}},
	}
}

// runtimeExec are the flags of runc's exec that nook exec takes as well.
type runtimeExec struct {
	process, pidFile, consoleSocket string
	detach, noNewPrivs              bool
	caps                            []string
}

func (r *runtimeExec) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVarP(&r.process, "process", "p", "", "the process to run, as an OCI process JSON `FILE` (runc's exec --process); no COMMAND then")
	f.BoolVarP(&r.detach, "detach", "d", false, "start the command and exit: it is left to nook's caller (a subreaper such as containerd's shim) to reap")
	f.StringVar(&r.pidFile, "pid-file", "", "write the command's PID to `FILE`")
	f.StringVar(&r.consoleSocket, "console-socket", "", "with --detach and a terminal: send its master over the unix socket `PATH`")
	stringArrayVar(f, &r.caps, "cap", "c", "add capability `CAP` to the command's sets (repeatable)")
	f.BoolVar(&r.noNewPrivs, "no-new-privs", false, "set no_new_privs for the command")
}

// apply puts the runc flags into o; haveArgs says whether a COMMAND was
// given too.
func (r *runtimeExec) apply(o *container.ExecOptions, haveArgs bool) error {
	o.Caps, o.NoNewPrivs, o.Detach = r.caps, r.noNewPrivs, r.detach
	if r.process == "" {
		return nil
	}
	if haveArgs {
		return usageError{errors.New("--process: the command is the file's; give no COMMAND")}
	}
	b, err := os.ReadFile(r.process)
	if err != nil {
		return fmt.Errorf("--process: %w", err)
	}
	var p specs.Process
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("--process: %s: %w", r.process, err)
	}
	o.Process = &p
	return nil
}

// start runs a detached exec: the command outlives nook, its PID goes to
// --pid-file and its terminal to --console-socket.
func (r *runtimeExec) start(in *container.Instance, o *container.ExecOptions) error {
	var console *net.UnixConn
	if r.consoleSocket != "" {
		c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: r.consoleSocket, Net: "unix"})
		if err != nil {
			return fmt.Errorf("--console-socket %s: %w", r.consoleSocket, err)
		}
		defer c.Close()
		console = c
	}
	tty := o.TTY || (o.Process != nil && o.Process.Terminal)
	if tty && console == nil {
		return usageError{errors.New("a terminal with --detach needs --console-socket to pass it on")}
	}
	x, err := in.Exec(o)
	if err != nil {
		return err
	}
	defer x.Close()
	if m := x.TTY(); m != nil {
		if _, _, err := console.WriteMsgUnix([]byte("/dev/ptmx"), unix.UnixRights(int(m.Fd())), nil); err != nil {
			return fmt.Errorf("--console-socket %s: %w", r.consoleSocket, err)
		}
	}
	if r.pidFile != "" {
		return writePidFile(r.pidFile, x.Pid())
	}
	return nil
}

func newFeaturesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "features",
		Short: "Print what this runtime supports, as JSON (runc features; containerd 2 reads it)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			yes := true
			f := features.Features{
				OCIVersionMin: "1.0.0",
				OCIVersionMax: specs.Version,
				Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
				Linux: &features.Linux{
					Namespaces:   []string{"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"},
					Capabilities: caps.All(),
					Cgroup:       &features.Cgroup{V1: &yes, V2: &yes},
					Seccomp:      &features.Seccomp{Enabled: &yes},
				},
			}
			b, err := json.MarshalIndent(f, "", "    ")
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(b))
			return nil
		},
	}
}

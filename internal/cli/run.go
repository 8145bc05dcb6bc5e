package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nookrun/nook/container"
	"github.com/nookrun/nook/image"
	"github.com/nookrun/nook/namespaces"
	"github.com/nookrun/nook/sandbox"
	"github.com/nookrun/nook/spec"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// runOptions are the flags of `nook run`, as typed.
type runOptions struct {
	rootfs, hostname, domainname, workdir, user string
	share, unshare, timeOffset                  string
	uidMaps, gidMaps, binds, tmpfs, env         []string
	readOnly, clearEnv, noInit, tty             bool
	bundle                                      string
	image, keep, store, pull                    string
	capAdd, capDrop                             []string
	privileged, noNewPrivs                      bool
	seccomp                                     string
	noPivot, debug                              bool
	limitOptions
	detachOptions
	netOptions
}

func newRunCmd() *cobra.Command { return runCmd(&runOptions{}) }

// debugf is container.Options.Debugf for --debug: nook's own decisions on
// stderr, nil without --debug.
func (o *runOptions) debugf(cmd *cobra.Command) func(string, ...any) {
	if !o.debug {
		return debugf(cmd) // the global --debug, as runc's callers put it
	}
	w := cmd.ErrOrStderr()
	return func(format string, args ...any) { fmt.Fprintf(w, "nook: debug: "+format+"\n", args...) }
}

// runCmd is `nook run` with its flags read into o.
func runCmd(o *runOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] [--] COMMAND [ARG...]\n  nook run --image REF [OPTIONS] [-- COMMAND [ARG...]]\n  nook run --bundle DIR CONTAINER-ID",
		Short: "Run a command in a sandbox",
		Long: `Run COMMAND isolated, in the foreground, and exit with its exit status
(128+N when signal N killed it; 127 when COMMAND is not found; 125 when
nook itself failed).

By default COMMAND gets new pid, mount, uts, ipc, net and cgroup
namespaces, nook's init as PID 1, and the host's system read-only:
/usr, /bin, /sbin, /lib* and /etc with its secrets (shadow, sudoers, ssh
host keys...) hidden. /home, /root, /run, /var and /srv are not visible
unless bound in. It gets its own /proc, a minimal /dev, /sys read-only
and a private /tmp. Its net namespace has only loopback, up.

Security defaults, each one can be changed by a flag: the capabilities
of Docker's default set but CAP_MKNOD (bounding = effective = permitted;
inheritable and ambient empty), every mount but /dev nodev,
no_new_privs, nook's seccomp profile (no kernel modules, kexec, reboot,
bpf, perf_event_open, keyrings, mounts, new user namespaces,
open_by_handle_at, userfaultfd...), and /proc's and /sys's dangerous
files masked or read-only. Without limits or --verdict the
sandbox gets no cgroup unless something needs one (--debug says why).

Run by a user other than root, nook maps that user to root in a new user
namespace (with the /etc/subuid range when newuidmap allows it).

With --image REF, the root is an image of the store ("nook image"),
pulled first when it is missing: its layers become an overlay mounted
inside the sandbox, with what the sandbox writes on a tmpfs there that
goes away with it (--keep DIR keeps it in DIR/upper; --read-only has
none). The image's Entrypoint, Cmd, Env, WorkingDir and User are the
defaults; COMMAND replaces Cmd, and --env, --workdir and --user change
the rest. The environment is the image's, not nook's.

With --bundle, nook runs an OCI bundle the way "runc run" does: the
bundle's config.json says everything, and COMMAND is the container's ID.
A plain "nook [--root DIR] run --bundle DIR ID" keeps its plan in the
state directory (.quick), and the next one of the same bundle and ID is
started from it before Go's runtime starts, while config.json, the nook
binary and the caller's namespaces and stdio are as they were.

With -d, COMMAND runs in the background under a nook monitor and nook
prints the sandbox's ID once COMMAND runs; its output goes to a log (nook
logs). With --name, or -d, the sandbox is recorded in the state directory
(--root): nook list shows it, nook exec, stop, kill, wait and rm act on it
by ID or name.`,
		Example: `  nook run -- sh -c 'echo $$; hostname; ip addr'
  nook run --rootfs ./rootfs --read-only -- /bin/sh
  nook run --image busybox -- sh -c 'cat /etc/os-release'
  nook run --bind ./src:/src:ro --workdir /src -- make
  nook run --share net -- curl -sI http://localhost:8080
  nook run --unshare user,time --time-offset boottime=86400 -- cat /proc/uptime
  nook run -t -- /bin/bash`,
		DisableFlagsInUseLine: true, // Use says where OPTIONS go
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && o.image == "" {
				return usageError{errors.New("no command given (nook run [OPTIONS] -- COMMAND [ARG...])")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.detachOptions.check(o.tty, &o.limitOptions); err != nil {
				return usageError{err}
			}
			if o.bundle != "" {
				return runBundle(cmd, o, args)
			}
			return runSandbox(cmd, o, args)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false) // flags after COMMAND are COMMAND's
	f.StringVar(&o.rootfs, "rootfs", "", "use `DIR` as the root file system (pivot_root) instead of the host's system")
	f.BoolVar(&o.readOnly, "read-only", false, "make the root file system read-only (the host view always is)")
	f.StringVar(&o.hostname, "hostname", "", "host name inside (default \"nook\")")
	f.StringVar(&o.domainname, "domainname", "", "NIS domain name inside")
	f.StringVar(&o.share, "share", "", "keep the host's namespaces of these `TYPES` (comma-separated: pid,net,ipc,uts,cgroup)")
	f.StringVar(&o.unshare, "unshare", "", "also create namespaces of these `TYPES`, off by default (user,time)")
	stringArrayVar(f, &o.uidMaps, "uid-map", "", "map user IDs `CONTAINER:HOST:SIZE` in the user namespace (repeatable)")
	stringArrayVar(f, &o.gidMaps, "gid-map", "", "map group IDs `CONTAINER:HOST:SIZE` in the user namespace (repeatable)")
	f.StringVar(&o.timeOffset, "time-offset", "", "shift clocks in the time namespace: `monotonic=SECONDS,boottime=SECONDS`")
	stringArrayVar(f, &o.binds, "bind", "", "bind host path `SRC:DST[:ro]` into the sandbox (repeatable)")
	stringArrayVar(f, &o.tmpfs, "tmpfs", "", "mount a fresh tmpfs on `DST[:size=N]` (repeatable; N takes k, m, g)")
	f.StringVarP(&o.workdir, "workdir", "w", "", "working `DIR` inside (default /)")
	stringArrayVar(f, &o.env, "env", "e", "set `K=V` in the environment (repeatable)")
	f.BoolVar(&o.clearEnv, "clear-env", false, "start from an empty environment instead of nook's own")
	f.StringVarP(&o.user, "user", "u", "", "run as `UID[:GID]` inside (default 0:0)")
	f.BoolVar(&o.noInit, "no-init", false, "exec COMMAND as PID 1 instead of under nook's init")
	f.BoolVarP(&o.tty, "tty", "t", false, "give COMMAND a new pseudo-terminal")
	stringSliceVar(f, &o.capAdd, "cap-add", "", "add `CAPS` to the default set (comma-separated or repeated; ALL for every one)")
	stringSliceVar(f, &o.capDrop, "cap-drop", "", "drop `CAPS` from the default set (comma-separated or repeated; ALL for every one)")
	f.BoolVar(&o.privileged, "privileged", false, "every capability, no seccomp filter, no masked or read-only paths (namespaces stay)")
	f.StringVar(&o.seccomp, "seccomp", "", "seccomp profile `FILE` (OCI or Docker format), or \"unconfined\" (default: nook's profile)")
	f.BoolVar(&o.noNewPrivs, "no-new-privs", true, "set no_new_privs, so setuid programs cannot gain privileges (--no-new-privs=false to allow)")
	o.limitOptions.flags(f)
	o.detachOptions.flags(cmd)
	o.netOptions.flags(f)
	f.StringVar(&o.image, "image", "", "run the image `REF` of the store on an overlay root: its Entrypoint, Cmd, Env, WorkingDir and User are the defaults (COMMAND replaces Cmd)")
	f.StringVar(&o.keep, "keep", "", "with --image: keep what the sandbox writes (the overlay's upper directory) in `DIR`/upper; a later run with the same DIR goes on from it")
	f.StringVar(&o.store, "store", "", "with --image: the image store `DIR` (default /var/lib/nook; ~/.local/share/nook unprivileged)")
	f.StringVar(&o.pull, "pull", "missing", "with --image: `WHEN` to pull the image from its registry: missing, or never")
	f.StringVarP(&o.bundle, "bundle", "b", "", "run the OCI bundle in `DIR` (runc-compatible); the argument is the container ID")
	f.BoolVar(&o.noPivot, "no-pivot", false, "move the new root onto / and chroot instead of pivot_root (automatic where / cannot be pivoted, e.g. an initramfs)")
	f.BoolVar(&o.debug, "debug", false, "say on stderr what nook decides on its own (whether the sandbox gets a cgroup and why; building the root without pivot_root)")
	return cmd
}

// config turns the flags into a sandbox configuration, reading them but
// leaving what they mean to the library. Every error names the flag it
// is about.
func (o *runOptions) config(args []string) (*sandbox.Config, error) {
	c := &sandbox.Config{
		Args: args, Rootfs: o.rootfs, ReadOnly: o.readOnly,
		Hostname: o.hostname, Domainname: o.domainname, Workdir: o.workdir,
		ClearEnv: o.clearEnv, NoInit: o.noInit, TTY: o.tty,
		CapAdd: o.capAdd, CapDrop: o.capDrop, Privileged: o.privileged,
		Seccomp: o.seccomp, AllowNewPrivs: !o.noNewPrivs, NoPivot: o.noPivot,
	}
	var err error
	if c.Share, err = namespaces.ParseList(o.share); err != nil {
		return nil, fmt.Errorf("--share: %w", err)
	}
	if c.Unshare, err = namespaces.ParseList(o.unshare); err != nil {
		return nil, fmt.Errorf("--unshare: %w", err)
	}
	for _, m := range o.uidMaps {
		x, err := namespaces.ParseIDMap(m)
		if err != nil {
			return nil, fmt.Errorf("--uid-map: %w", err)
		}
		c.UIDMap = append(c.UIDMap, x)
	}
	for _, m := range o.gidMaps {
		x, err := namespaces.ParseIDMap(m)
		if err != nil {
			return nil, fmt.Errorf("--gid-map: %w", err)
		}
		c.GIDMap = append(c.GIDMap, x)
	}
	if o.timeOffset != "" {
		if c.TimeOffsets, err = namespaces.ParseTimeOffsets(o.timeOffset); err != nil {
			return nil, fmt.Errorf("--time-offset: %w", err)
		}
	}
	for _, b := range o.binds {
		x, err := sandbox.ParseBind(b)
		if err != nil {
			return nil, fmt.Errorf("--bind %w", err)
		}
		c.Binds = append(c.Binds, x)
	}
	for _, t := range o.tmpfs {
		x, err := sandbox.ParseTmpfs(t)
		if err != nil {
			return nil, fmt.Errorf("--tmpfs %w", err)
		}
		c.Tmpfs = append(c.Tmpfs, x)
	}
	c.Env = o.env
	if o.user != "" {
		if c.UID, c.GID, err = sandbox.ParseUser(o.user); err != nil {
			return nil, fmt.Errorf("--user %w", err)
		}
		c.UserSet = true
	}
	if o.image == "" {
		for flag, v := range map[string]string{"--keep": o.keep, "--store": o.store} {
			if v != "" {
				return nil, fmt.Errorf("%s: only with --image", flag)
			}
		}
	} else if o.rootfs != "" {
		return nil, errors.New("--rootfs and --image: give one root")
	}
	if o.pull != "missing" && o.pull != "never" {
		return nil, fmt.Errorf("--pull %q: want missing or never", o.pull)
	}
	c.Keep = o.keep
	return c, nil
}

// runSandbox is `nook run` from flags: a sandbox.Config run as sandbox.Run
// runs it, with signals forwarded, and a verdict when asked for.
func runSandbox(cmd *cobra.Command, o *runOptions, args []string) error {
	cfg, err := o.config(args)
	if err != nil {
		return usageError{err}
	}
	if err := o.limitOptions.apply(cfg); err != nil {
		return usageError{err}
	}
	if err := o.netOptions.apply(cfg); err != nil {
		return usageError{err}
	}
	cfg.ForwardSignals = true
	if o.image != "" {
		release, err := o.useImage(cmd, cfg)
		if err != nil {
			return err
		}
		// held until the sandbox runs; a detached one's monitor holds
		// the layers from then on
		defer release()
	}
	if o.detach {
		return detachSandbox(cmd, cfg, &o.detachOptions, o.store)
	}
	rec, err := o.detachOptions.record(cmd)
	if err != nil {
		return err
	}
	// sandbox.Run, step by step: the configuration is checked before
	// --stdout truncates a file
	s, err := cfg.Spec()
	if err != nil {
		return flagError(err)
	}
	if err := o.limitOptions.openIO(cfg); err != nil {
		return usageError{err}
	}
	defer closeFiles(cfg)
	// the output limit is one byte above --file-size when --stdout or
	// --stderr is a file, so that OL can be seen in it after the run
	cfg.ApplyOutputLimit(s)
	if sandbox.Rootless() {
		if err := checkUserNamespaces(); err != nil {
			return err
		}
	}
	nw, err := cfg.Network(s)
	if err != nil {
		return flagError(err)
	}
	defer nw.Close()
	opts := nw.Options(cfg.Options())
	opts.Record = rec
	opts.Debugf = o.debugf(cmd)
	r, err := container.Run(context.Background(), "", s, opts)
	if err != nil && cfg.Image != nil && sandbox.Rootless() && strings.Contains(err.Error(), "mount overlay") {
		err = fmt.Errorf("%w (an unprivileged overlay root needs overlayfs in user namespaces: Linux 5.11 or later; or run nook as root)", err)
	}
	err = flagError(err)
	var ue usageError
	if errors.As(err, &ue) {
		return err // the command line was wrong: there was no run to judge
	}
	// the output limit: a --stdout or --stderr file written past it is
	// cut back to it, and the verdict is OL whatever the exit
	var over error
	if r != nil {
		over = cfg.CheckOutput()
	}
	if o.verdictFile != "" {
		v := cfg.Verdict(r, err)
		if over != nil {
			v.OverOutput(over.Error())
		}
		if werr := o.writeVerdict(v); werr != nil {
			return werr
		}
	}
	if r != nil {
		for _, w := range r.Warnings {
			fmt.Fprintf(cmd.ErrOrStderr(), "nook: warning: %s\n", w)
		}
	}
	return exitStatus(r, err)
}

// exitStatus is nook's exit: the command's, as a shell reports it.
func exitStatus(r *container.Result, err error) error {
	if err != nil {
		return err
	}
	if r.ExitCode != 0 {
		return exitError{r.ExitCode}
	}
	return nil
}

// runBundle is `nook run --bundle`: the bundle's spec, in the foreground.
// Its errors name the spec's fields, as they are the bundle's.
func runBundle(cmd *cobra.Command, o *runOptions, args []string) error {
	if len(args) != 1 {
		return usageError{errors.New("--bundle: want exactly one argument, the container ID")}
	}
	dir, err := filepath.Abs(o.bundle)
	if err != nil {
		return err
	}
	// the command line that nook's entry point replays: no flag but
	// --root and --bundle; its config.json noted before it is read
	var quick *container.QuickRun
	plain := true
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if f.Name != rootFlag && f.Name != "bundle" {
			plain = false
		}
	})
	if plain {
		root, _ := cmd.Flags().GetString(rootFlag)
		quick = container.NewQuickRun(root, dir)
	}
	s, err := spec.Load(dir)
	if err != nil {
		return err
	}
	if o.detach {
		return runDetached(cmd, &o.detachOptions, s, &container.Options{Bundle: dir, NoPivot: o.noPivot, Warnf: warnf(cmd)}, dir, args[0])
	}
	rec, err := o.detachOptions.record(cmd)
	if err != nil {
		return err
	}
	return exitStatus(container.Run(context.Background(), args[0], s, &container.Options{Bundle: dir, Record: rec, ForwardSignals: true, NoPivot: o.noPivot, Debugf: o.debugf(cmd), Warnf: warnf(cmd), QuickRun: quick}))
}

// checkUserNamespaces tells an unprivileged user what to do when the
// kernel does not let it create user namespaces.
func checkUserNamespaces() error {
	for _, f := range []struct{ path, bad, fix string }{
		{"/proc/sys/kernel/unprivileged_userns_clone", "0", "sysctl -w kernel.unprivileged_userns_clone=1"},
		{"/proc/sys/user/max_user_namespaces", "0", "sysctl -w user.max_user_namespaces=15000"},
		{"/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1", "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"},
	} {
		b, err := os.ReadFile(f.path)
		if err == nil && strings.TrimSpace(string(b)) == f.bad {
			return fmt.Errorf("unprivileged user namespaces are off on this host (%s is %s): run nook as root, or ask an administrator to run '%s'", f.path, f.bad, f.fix)
		}
	}
	return nil
}

// useImage finds --image in the store (pulling it when it is missing and
// --pull allows) and holds its layers until release.
func (o *runOptions) useImage(cmd *cobra.Command, cfg *sandbox.Config) (release func(), err error) {
	st, err := (&imageOptions{store: o.store}).open(cmd)
	if err != nil {
		return nil, err
	}
	img, err := st.Get(o.image)
	if errors.Is(err, image.ErrNotFound) && o.pull == "missing" {
		p := newProgress(cmd.ErrOrStderr(), false)
		img, err = st.Pull(cmd.Context(), o.image, &image.PullOptions{Progress: p.report})
		p.finish()
	}
	if err != nil {
		return nil, err
	}
	if release, err = img.Use(cmd.Context()); err != nil {
		return nil, err
	}
	cfg.Image = img
	return release, nil
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/nookrun/nook/container"
	"github.com/nookrun/nook/namespaces"
	"github.com/spf13/cobra"
)

// fromTarget is the value of a namespace flag given without a file: the
// target's namespace of that type (a file must be given with =, so "-n
// x" is -n and the command x).
const fromTarget = "@target"

// nsFlags are enter's namespace flags, named as nsenter names them.
var nsFlags = []struct {
	t           namespaces.Type
	long, short string
}{
	{namespaces.Mount, "mount", "m"}, {namespaces.UTS, "uts", "u"}, {namespaces.IPC, "ipc", "i"},
	{namespaces.Network, "net", "n"}, {namespaces.PID, "pid", "p"}, {namespaces.Cgroup, "cgroup", "C"},
	{namespaces.User, "user", "U"}, {namespaces.Time, "time", "T"},
}

type enterFlags struct {
	target, sandbox   string
	all, noFork, pres bool
	ns                map[namespaces.Type]*string
	uid, gid          int
	root, wd, wdns    string
}

func newEnterCmd() *cobra.Command {
	o := &enterFlags{ns: map[namespaces.Type]*string{}}
	cmd := &cobra.Command{
		Use:     "enter [OPTIONS] [--] [COMMAND [ARG...]]",
		Aliases: []string{"nsenter"},
		Short:   "Run a command in other namespaces, as nsenter does",
		Long: `Run COMMAND (default $SHELL, or /bin/sh) in the namespaces of process PID
(-t) or sandbox NAME (--sandbox), or in namespaces named by file
(--net=/run/netns/NAME), with nsenter's flags and meaning. All eight types,
user, mount and time included, are entered with setns by nook's
single-threaded child, with no re-exec.

Each type flag takes an optional file: -n alone is the target's net
namespace, --net=FILE (or -n=FILE) the one FILE opens. -a enters every
namespace of the target that nook is not in already. Entering a user
namespace makes COMMAND uid 0 and gid 0 there with no supplementary groups,
unless --preserve-credentials (or -S, -G). The user namespace is entered
first when that gains privilege (nook run by another user) and last when it
drops it (root). With a pid namespace nook forks, so that COMMAND is in it
(-F: no fork; then only COMMAND's children are).

One difference from nsenter: -r=DIR and -w=DIR name directories in the
entered mount namespace (nsenter opens -r's before entering).`,
		Example: `  nook enter -t 1234 -a -- ps
  nook enter --sandbox web -n -u -- hostname
  nook enter --net=/run/netns/blue -- ip address`,
		RunE: func(cmd *cobra.Command, args []string) error {
			eo, err := o.options(cmd, args)
			if err != nil {
				return err
			}
			fg := container.Foreground{ForwardSignals: true}
			return exitStatus(fg.Exec(context.Background(), func(ready func()) (*container.Execution, error) {
				eo.BeforeStart = ready
				return container.Enter(eo)
			}))
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.StringVarP(&o.target, "target", "t", "", "enter the namespaces of process `PID`")
	f.StringVar(&o.sandbox, "sandbox", "", "enter the namespaces of sandbox `NAME` (its init)")
	f.BoolVarP(&o.all, "all", "a", false, "enter every namespace of the target that nook is not in")
	for _, x := range nsFlags {
		v := new(string)
		o.ns[x.t] = v
		f.StringVarP(v, x.long, x.short, "", fmt.Sprintf("enter the %s namespace: the target's, or the one `FILE` opens (--%s=FILE)", namespaces.ProcName(x.t), x.long))
		f.Lookup(x.long).NoOptDefVal = fromTarget
	}
	f.IntVarP(&o.uid, "setuid", "S", -1, "run as `UID`")
	f.IntVarP(&o.gid, "setgid", "G", -1, "run as `GID`")
	f.BoolVar(&o.pres, "preserve-credentials", false, "keep nook's uid and gid in the user namespace")
	// nsenter's --root; named otherwise, since nook's global --root is
	// the state directory
	f.StringVarP(&o.root, "rootdir", "r", "", "the root: the target's (its mount namespace's), or `DIR` (-r=DIR, in the entered mount namespace)")
	f.Lookup("rootdir").NoOptDefVal = fromTarget
	f.StringVarP(&o.wd, "wd", "w", "", "the working directory: the target's, or `DIR`")
	f.Lookup("wd").NoOptDefVal = fromTarget
	f.StringVarP(&o.wdns, "wdns", "W", "", "the working `DIR` in the entered mount namespace")
	f.BoolVarP(&o.noFork, "no-fork", "F", false, "do not fork before exec (with -p, only COMMAND's children are in the pid namespace)")
	return cmd
}

func (o *enterFlags) options(cmd *cobra.Command, args []string) (*container.EnterOptions, error) {
	eo := &container.EnterOptions{All: o.all, NoFork: o.noFork, PreserveCredentials: o.pres, Files: map[namespaces.Type]string{}}
	switch {
	case o.target != "" && o.sandbox != "":
		return nil, usageError{errors.New("-t and --sandbox: give one target")}
	case o.target != "":
		pid, err := strconv.Atoi(o.target)
		if err != nil || pid <= 0 {
			return nil, usageError{fmt.Errorf("-t %q: want a PID", o.target)}
		}
		eo.Target = pid
	case o.sandbox != "":
		pid, err := targetPid(cmd, o.sandbox)
		if err != nil {
			return nil, err
		}
		eo.Target = pid
	}
	if o.all && eo.Target == 0 {
		return nil, usageError{errors.New("--all: needs a target (-t PID or --sandbox NAME)")}
	}
	for _, x := range nsFlags {
		if !cmd.Flags().Changed(x.long) {
			continue
		}
		eo.Namespaces = append(eo.Namespaces, x.t)
		if v := *o.ns[x.t]; v != fromTarget && v != "" {
			eo.Files[x.t] = v
		}
	}
	if o.uid >= 0 {
		u := uint32(o.uid)
		eo.UID = &u
	}
	if o.gid >= 0 {
		g := uint32(o.gid)
		eo.GID = &g
	}
	if o.root != "" && o.root != fromTarget {
		if !filepath.IsAbs(o.root) {
			return nil, usageError{fmt.Errorf("-r %s: want an absolute path", o.root)}
		}
		eo.Root = o.root
	}
	switch {
	case o.wdns != "":
		eo.Cwd = o.wdns
	case o.wd == fromTarget:
		if eo.Target == 0 {
			return nil, usageError{errors.New("-w without a directory needs a target (-t)")}
		}
		if l, err := os.Readlink("/proc/" + strconv.Itoa(eo.Target) + "/cwd"); err == nil {
			eo.Cwd = l
		}
	case o.wd != "":
		eo.Cwd = o.wd
	}
	eo.Args = args
	if len(eo.Args) == 0 {
		sh := os.Getenv("SHELL")
		if sh == "" {
			sh = "/bin/sh"
		}
		eo.Args = []string{sh}
	}
	return eo, nil
}

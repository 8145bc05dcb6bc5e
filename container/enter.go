package container

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/nookrun/nook/namespaces"
	"github.com/nookrun/nook/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// EnterOptions say which namespaces to enter and what to run there, with
// nsenter(1)'s meaning.
type EnterOptions struct {
	// Target is the process whose namespaces are entered (nsenter -t);
	// 0 when every namespace is given by a file.
	Target int
	// Namespaces are the types to enter, each from Files[type] when set,
	// else from Target.
	Namespaces []namespaces.Type
	Files      map[namespaces.Type]string
	// All enters every namespace of Target that nook is not in already
	// (nsenter -a).
	All bool
	// UID and GID are who the command runs as (nsenter -S, -G); without
	// them, entering a user namespace makes it uid and gid 0 with no
	// supplementary groups, unless PreserveCredentials is set.
	UID, GID            *uint32
	PreserveCredentials bool
	// Root, when set, becomes the root directory after entering (nsenter
	// -r DIR; a path in the entered mount namespace). Without it, the
	// entered mount namespace's root is the root.
	Root string
	// Cwd is the working directory after entering; "" keeps the one the
	// mount namespace gives (its root, or Root) or nook's when it is not
	// entered.
	Cwd string
	// NoFork execs the command in nook's child itself even when a pid
	// namespace is entered (nsenter -F): then only its children are in it.
	NoFork bool
	Args   []string
	// Env is the command's environment; nil means nook's.
	Env                   []string
	TTY                   bool
	Stdin, Stdout, Stderr *os.File
	// BeforeStart is ExecOptions.BeforeStart.
	BeforeStart func()
}

// Enter starts a command in existing namespaces, as nsenter does, through
// the same single-threaded child as a sandbox: any of the eight types,
// user, mount and time included, with no re-exec.
func Enter(o *EnterOptions) (*Execution, error) {
	if len(o.Args) == 0 || o.Args[0] == "" {
		return nil, errors.New("enter: no command given")
	}
	if o.Target < 0 {
		return nil, fmt.Errorf("enter: pid %d: want a positive number", o.Target)
	}
	if o.Target > 0 {
		if _, err := namespaces.Of(o.Target); err != nil {
			return nil, err
		}
	}
	var joins joinList
	seen := map[namespaces.Type]bool{}
	if o.All {
		if o.Target == 0 {
			return nil, spec.FieldErrorf("EnterOptions.All", "needs EnterOptions.Target")
		}
		l, err := sandboxJoins(o.Target)
		if err != nil {
			return nil, err
		}
		for _, j := range l {
			if f := o.Files[j.typ]; f != "" {
				j.path = f
			}
			joins = append(joins, j)
			seen[j.typ] = true
		}
	}
	for _, t := range o.Namespaces {
		if seen[t] {
			continue
		}
		seen[t] = true
		path := o.Files[t]
		if path == "" {
			if o.Target == 0 {
				return nil, fmt.Errorf("enter: %s namespace: no file and no target (-t PID)", namespaces.ProcName(t))
			}
			path = "/proc/" + strconv.Itoa(o.Target) + "/ns/" + namespaces.ProcName(t)
		}
		if err := checkNSFile(path, t); err != nil {
			return nil, err
		}
		joins = append(joins, nsJoin{t, path})
	}
	if len(joins) == 0 && o.UID == nil && o.GID == nil {
		return nil, errors.New("enter: no namespace to enter (name types such as -m -n -p, or -a with -t)")
	}
	env := o.Env
	if env == nil {
		env = os.Environ()
	}
	e := &enterPlan{
		joins: joins, target: o.Target, args: o.Args, env: env, root: o.Root, cwd: o.Cwd,
		fork: joins.has(namespaces.PID) && !o.NoFork, tty: o.TTY,
		files: []*os.File{o.Stdin, o.Stdout, o.Stderr}, setGroups: true, beforeStart: o.BeforeStart,
		// gaining privilege (an unprivileged caller entering its own user
		// namespace): the user namespace first; dropping it (root): last
		userFirst: os.Geteuid() != 0,
	}
	if joins.has(namespaces.User) || o.UID != nil || o.GID != nil {
		creds := &specs.User{}
		if o.PreserveCredentials {
			creds.UID, creds.GID = uint32(os.Getuid()), uint32(os.Getgid())
		}
		if o.UID != nil {
			creds.UID = *o.UID
		}
		if o.GID != nil {
			creds.GID = *o.GID
		}
		if !o.PreserveCredentials || o.UID != nil || o.GID != nil {
			e.creds = creds
		}
		// a user namespace whose setgroups is "deny" keeps the groups
		if o.Target > 0 {
			if b, err := os.ReadFile("/proc/" + strconv.Itoa(o.Target) + "/setgroups"); err == nil && string(b) == "deny\n" {
				e.setGroups = false
			}
		}
		if o.PreserveCredentials {
			e.setGroups = false
		}
	}
	return start(e)
}

// checkNSFile makes sure path opens a namespace of type t, with an error
// that names the file.
func checkNSFile(path string, t namespaces.Type) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("enter: %s namespace: open %s: %w", namespaces.ProcName(t), path, err)
	}
	defer unix.Close(fd)
	got, err := namespaces.TypeOf(fd)
	if err != nil {
		return fmt.Errorf("enter: %s is not a namespace file: %w", path, err)
	}
	if got != t {
		return fmt.Errorf("enter: %s is a %s namespace, not %s", path, namespaces.ProcName(got), namespaces.ProcName(t))
	}
	return nil
}

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/nookrun/nook/caps"
	"github.com/nookrun/nook/container"
	"github.com/nookrun/nook/image"
	"github.com/nookrun/nook/namespaces"
	"github.com/nookrun/nook/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Config is a sandbox as `nook run` describes it. The zero value plus Args
// is a complete sandbox: the host's system read-only, new pid, mount, uts,
// ipc, net and cgroup namespaces, nook's init as PID 1.
type Config struct {
	// Args is the command and its arguments. Required.
	Args []string
	// Rootfs is the directory that becomes "/"; empty means the host's
	// system read-only (see HostView).
	Rootfs string
	// Image runs an image of the store (image.Store.Get): its layers
	// become an overlay root, and its Entrypoint, Cmd, Env, WorkingDir and
	// User are the defaults of Args, Env, Workdir and UID/GID. The caller
	// holds the image's layers while the sandbox runs (image.Image.Use;
	// Run does).
	Image *image.Image
	// Keep puts the overlay's upper directory (what the sandbox writes)
	// in Keep/upper on the host, and keeps it; by default it is a tmpfs
	// in the sandbox's mount namespace and goes away with it.
	Keep string
	// ReadOnly makes the root read-only (always so for the host view); an
	// image's overlay then has no upper directory at all.
	ReadOnly bool
	// Hostname defaults to "nook"; Domainname to none.
	Hostname, Domainname string
	// Share keeps the host's namespaces of these types.
	Share []namespaces.Type
	// Unshare adds types that are off by default (user, time).
	Unshare []namespaces.Type
	// UIDMap and GIDMap map IDs in a user namespace. Empty maps map the
	// caller to root inside.
	UIDMap, GIDMap []specs.LinuxIDMapping
	// TimeOffsets shift CLOCK_MONOTONIC ("monotonic") and
	// CLOCK_BOOTTIME ("boottime") in a time namespace.
	TimeOffsets map[string]specs.LinuxTimeOffset
	// Binds are host paths made visible inside.
	Binds []Bind
	// Tmpfs are fresh tmpfs mounts inside.
	Tmpfs []Tmpfs
	// Workdir is the command's working directory inside (default "/").
	Workdir string
	// Env is added to the environment: the caller's, or none with
	// ClearEnv.
	Env      []string
	ClearEnv bool
	// User is who the command runs as inside (default root, 0:0, or the
	// image's User).
	UID, GID uint32
	// UserSet says UID and GID were given: they override the image's
	// User, even as 0:0.
	UserSet bool
	// NoInit runs the command as PID 1 instead of under nook's init.
	NoInit bool
	// TTY gives the command a new pseudo-terminal.
	TTY bool

	// CapAdd and CapDrop adjust the default capability set (caps.Default);
	// "ALL" names every capability.
	CapAdd, CapDrop []string
	// Privileged gives every capability and turns off seccomp and the
	// masked and read-only paths. The namespaces stay.
	Privileged bool
	// Seccomp is a profile file (OCI or Docker format), "unconfined" for
	// none, or empty for nook's default profile.
	Seccomp string
	// AllowNewPrivs leaves no_new_privs off, so setuid programs inside
	// can gain privileges.
	AllowNewPrivs bool

	// Resources are the cgroup limits (linux.resources); nil for none.
	Resources *specs.LinuxResources
	// Rlimits are set on the command (process.rlimits).
	Rlimits []specs.POSIXRlimit
	// Limits are the time limits of the run.
	Limits container.Limits
	// Stdin, Stdout and Stderr are the command's; nil means nook's own.
	// They are opened outside the sandbox, so the sandbox needs no
	// access to their paths.
	Stdin, Stdout, Stderr *os.File

	// Net is the sandbox's network; the zero value is a namespace of
	// its own with loopback only. See Network.
	Net Net
}

// Bind is a bind mount of a host path.
type Bind struct {
	Source, Dest string
	ReadOnly     bool
}

// Tmpfs is a tmpfs mount; Size in bytes, 0 for the kernel's default.
type Tmpfs struct {
	Dest string
	Size int64
}

// Rootless reports whether the sandbox runs without privileges, with the
// caller mapped to root in a user namespace of its own.
func Rootless() bool { return os.Geteuid() != 0 }

// Spec builds the OCI runtime spec that runs this sandbox. Every sandbox,
// from `nook run` or from Go, starts from one.
func (c *Config) Spec() (*specs.Spec, error) {
	c, err := c.withImage()
	if err != nil {
		return nil, err
	}
	if len(c.Args) == 0 || c.Args[0] == "" {
		return nil, errors.New("no command given")
	}
	if err := c.checkNet(); err != nil {
		return nil, err
	}
	ns, err := c.namespaces()
	if err != nil {
		return nil, err
	}
	has := func(t namespaces.Type) bool {
		return slices.ContainsFunc(ns, func(n specs.LinuxNamespace) bool { return n.Type == t })
	}
	s := &specs.Spec{
		Version:  specs.Version,
		Hostname: c.Hostname,
		Process: &specs.Process{
			Args: c.Args,
			Cwd:  "/",
			User: specs.User{UID: c.UID, GID: c.GID},
			Env:  c.env(),
		},
		Root: &specs.Root{Readonly: c.ReadOnly},
		Linux: &specs.Linux{
			Namespaces:    ns,
			MaskedPaths:   MaskedPaths(),
			ReadonlyPaths: ReadonlyPaths(),
		},
	}
	if c.Resources != nil {
		r := *c.Resources
		s.Linux.Resources = &r
	}
	s.Process.Rlimits = c.outputRlimits()
	if err := c.security(s); err != nil {
		return nil, err
	}
	if s.Hostname == "" && has(namespaces.UTS) {
		s.Hostname = "nook"
	}
	if c.Domainname != "" {
		if !has(namespaces.UTS) {
			return nil, errors.New("--domainname: needs a uts namespace of its own")
		}
		s.Domainname = c.Domainname
	}
	if c.Workdir != "" {
		if !filepath.IsAbs(c.Workdir) {
			return nil, fmt.Errorf("--workdir %q: not an absolute path", c.Workdir)
		}
		s.Process.Cwd = c.Workdir
	}
	if c.TTY {
		s.Process.Terminal = true
	}
	if c.Image != nil {
		m, err := c.overlayRoot()
		if err != nil {
			return nil, err
		}
		s.Mounts = append(s.Mounts, m)
	} else if c.Rootfs != "" {
		abs, err := filepath.Abs(c.Rootfs)
		if err != nil {
			return nil, fmt.Errorf("--rootfs %q: %w", c.Rootfs, err)
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return nil, fmt.Errorf("--rootfs: %w", err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("--rootfs %q: not a directory", c.Rootfs)
		}
		s.Root.Path = abs
	} else {
		// the host view: an empty root that only the whitelisted
		// system directories are bound into
		s.Root.Readonly = true
		s.Mounts = append(s.Mounts, HostView()...)
		// secrets stay hidden even in a privileged sandbox
		s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, HostSecrets()...)
	}
	s.Mounts = append(s.Mounts, systemMounts(has(namespaces.IPC), has(namespaces.User))...)
	for _, b := range c.Binds {
		if !filepath.IsAbs(b.Dest) {
			return nil, fmt.Errorf("--bind %s:%s: destination is not an absolute path", b.Source, b.Dest)
		}
		src, err := filepath.Abs(b.Source)
		if err != nil {
			return nil, fmt.Errorf("--bind %s: %w", b.Source, err)
		}
		if _, err := os.Stat(src); err != nil {
			return nil, fmt.Errorf("--bind: source: %w", err)
		}
		opts := []string{"rbind", "nosuid", "nodev"}
		if b.ReadOnly {
			opts = append(opts, "ro")
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: b.Dest, Type: "bind", Source: src, Options: opts})
	}
	for _, t := range c.Tmpfs {
		if !filepath.IsAbs(t.Dest) {
			return nil, fmt.Errorf("--tmpfs %s: not an absolute path", t.Dest)
		}
		opts := []string{"nosuid", "nodev", "mode=1777"}
		if t.Size > 0 {
			opts = append(opts, "size="+strconv.FormatInt(t.Size, 10))
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: t.Dest, Type: "tmpfs", Source: "tmpfs", Options: opts})
	}
	if has(namespaces.User) {
		s.Linux.UIDMappings, s.Linux.GIDMappings = c.idMaps()
	} else if len(c.UIDMap) > 0 || len(c.GIDMap) > 0 {
		return nil, errors.New("--uid-map/--gid-map: need a user namespace (--unshare user)")
	}
	if len(c.TimeOffsets) > 0 {
		if !has(namespaces.Time) {
			return nil, errors.New("--time-offset: needs a time namespace (--unshare time)")
		}
		s.Linux.TimeOffsets = c.TimeOffsets
	}
	return s, nil
}

func (c *Config) namespaces() ([]specs.LinuxNamespace, error) {
	want := namespaces.Default()
	for _, t := range c.Unshare {
		if !slices.Contains(want, t) {
			want = append(want, t)
		}
	}
	if Rootless() && !slices.Contains(want, namespaces.User) {
		want = append(want, namespaces.User)
	}
	var out []specs.LinuxNamespace
	for _, t := range want {
		if slices.Contains(c.Share, t) {
			if t == namespaces.Mount {
				return nil, errors.New("--share mnt: a sandbox needs a mount namespace of its own")
			}
			if t == namespaces.User && Rootless() {
				return nil, errors.New("--share user: an unprivileged sandbox needs a user namespace of its own")
			}
			continue
		}
		if t == namespaces.Network {
			if n := c.netNamespace(); n != nil {
				out = append(out, *n)
			}
			continue
		}
		out = append(out, specs.LinuxNamespace{Type: t})
	}
	return out, nil
}

func (c *Config) env() []string {
	var env []string
	if !c.ClearEnv {
		env = os.Environ()
	}
	return mergeEnv(env, c.Env)
}

// mergeEnv appends add to env, a later KEY= replacing an earlier one.
func mergeEnv(env, add []string) []string {
	out := slices.Clone(env)
	for _, kv := range add {
		k, _, _ := strings.Cut(kv, "=")
		out = slices.DeleteFunc(out, func(e string) bool { return strings.HasPrefix(e, k+"=") })
		out = append(out, kv)
	}
	return out
}

// idMaps returns the maps to write: the caller's own, or, by default, the
// caller as root inside, plus the subordinate ranges where
// /etc/subuid and newuidmap(1) provide them.
func (c *Config) idMaps() (uid, gid []specs.LinuxIDMapping) {
	uid, gid = c.UIDMap, c.GIDMap
	if len(uid) == 0 {
		uid = defaultMap(os.Geteuid(), "/etc/subuid", "newuidmap")
	}
	if len(gid) == 0 {
		gid = defaultMap(os.Getegid(), "/etc/subgid", "newgidmap")
	}
	return uid, gid
}

// DenySetgroups reports whether the maps are written without the setuid
// helpers, so that setgroups(2) must be denied inside.
func (c *Config) DenySetgroups() bool {
	if !Rootless() {
		return false
	}
	uid, gid := c.idMaps()
	return len(uid) == 1 && len(gid) == 1 && uid[0].Size == 1 && gid[0].Size == 1
}

// Options returns the container options this sandbox runs with.
func (c *Config) Options() *container.Options {
	return &container.Options{
		Init: !c.NoInit, DenySetgroups: c.DenySetgroups(), Limits: c.Limits,
		Accounting: c.Resources != nil, // the caller set limits
		Stdin:      c.Stdin, Stdout: c.Stdout, Stderr: c.Stderr,
	}
}

// Run runs the sandbox to completion, with nook's stdin, stdout and stderr.
func Run(ctx context.Context, c *Config) (*container.Result, error) {
	p, err := c.prepare(ctx, c.Resources != nil)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	return p.run(ctx)
}

// Prepared is a sandbox made up to its first process, which waits before
// its first step (container.Prepare): its spec built, its cgroup and
// namespaces made. Judge runs it; Close removes it, run or not.
type Prepared struct {
	c    *Config
	ct   *container.Container
	nw   *Network
	done []func()
}

// Prepare makes the sandbox up to its first process. A judge prepares
// the next sandbox while others run, so that the start of one overlaps
// the runs of the others.
func (c *Config) Prepare(ctx context.Context) (*Prepared, error) {
	return c.prepare(ctx, true)
}

func (c *Config) prepare(ctx context.Context, accounting bool) (_ *Prepared, err error) {
	p := &Prepared{c: c}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	if c.Image != nil {
		release, err := c.Image.Use(ctx)
		if err != nil {
			return nil, err
		}
		p.done = append(p.done, release)
	}
	s, err := c.Spec()
	if err != nil {
		return nil, err
	}
	nw, err := c.Network(s)
	if err != nil {
		return nil, err
	}
	p.done = append(p.done, func() { nw.Close() })
	p.nw = nw
	opts := c.Options()
	opts.Accounting = accounting
	ct, err := container.New("", s, nw.Options(opts))
	if err != nil {
		return nil, err
	}
	p.done = append(p.done, func() { ct.Close() })
	if err := ct.Prepare(); err != nil {
		return nil, err
	}
	p.ct = ct
	return p, nil
}

// run starts the command and waits until the sandbox's last process is
// gone.
func (p *Prepared) run(ctx context.Context) (*container.Result, error) {
	if p.ct == nil {
		return nil, errors.New("sandbox: not prepared, or already run")
	}
	ct := p.ct
	p.ct = nil
	if err := ct.Start(); err != nil {
		return nil, err
	}
	p.nw.Started()
	return ct.Wait(ctx)
}

// Close removes the sandbox, if it is still there, and waits for its
// clean-up: the cgroup removed, the janitor reaped, the network and the
// image let go.
func (p *Prepared) Close() {
	for i := len(p.done) - 1; i >= 0; i-- {
		p.done[i]()
	}
	p.done = nil
}

// security sets the capabilities, no_new_privs, seccomp and the masked
// and read-only paths.
func (c *Config) security(s *specs.Spec) error {
	base := caps.Default()
	if c.Privileged {
		base = heldCaps()
	}
	names, err := caps.Adjust(base, c.CapAdd, c.CapDrop)
	if err != nil {
		return fmt.Errorf("--cap-add/--cap-drop: %w", err)
	}
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: names, Effective: names, Permitted: names}
	s.Process.NoNewPrivileges = !c.AllowNewPrivs
	switch {
	case c.Privileged && c.Seccomp == "", c.Seccomp == "unconfined":
	case c.Seccomp != "":
		p, err := seccomp.LoadWithCaps(c.Seccomp, names)
		if err != nil {
			return fmt.Errorf("--seccomp: %w", err)
		}
		s.Linux.Seccomp = p
	default:
		s.Linux.Seccomp = seccomp.DefaultFor(names)
	}
	if c.Privileged {
		s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
	} else if !Rootless() {
		// the device cgroup (v1) or device program (v2) allows only the
		// nodes nook binds in, whatever else the sandbox manages to
		// create or reach. An unprivileged sandbox has no cgroup of its
		// own; there the seccomp filter and nodev mounts stand alone.
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		s.Linux.Resources.Devices = DeviceRules()
	}
	return nil
}

// DeviceRules are the device cgroup rules of a sandbox: everything denied
// but the nodes every sandbox gets (/dev/null, zero, full, random,
// urandom, tty, ptmx and the pty instances).
func DeviceRules() []specs.LinuxDeviceCgroup {
	dev := func(major, minor int64) specs.LinuxDeviceCgroup {
		r := specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: &major, Access: "rwm"}
		if minor >= 0 {
			r.Minor = &minor
		}
		return r
	}
	return []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		dev(1, 3), dev(1, 5), dev(1, 7), dev(1, 8), dev(1, 9), // null zero full random urandom
		dev(5, 0), dev(5, 2), dev(136, -1), // tty, ptmx, pts
	}
}

// heldCaps lists the capabilities in nook's own bounding set: a privileged
// sandbox gets all of them, and no more can be had.
func heldCaps() []string {
	var out []string
	for _, name := range caps.All() {
		n, err := caps.Number(name)
		if err != nil {
			continue
		}
		if r, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(n), 0, 0, 0); err == nil && r == 1 {
			out = append(out, name)
		}
	}
	return out
}

// Memory returns resources that limit a sandbox's memory to limit bytes.
func Memory(limit int64) *specs.LinuxResources {
	return &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}
}

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
	"time"

	"github.com/nookrun/nook/caps"
	"github.com/nookrun/nook/container"
	"github.com/nookrun/nook/image"
	"github.com/nookrun/nook/namespaces"
	"github.com/nookrun/nook/seccomp"
	"github.com/nookrun/nook/spec"
	"github.com/nookrun/nook/verdict"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Config is a sandbox as `nook run` describes it. The zero value plus Args
// is a complete sandbox: the host's system read-only, new pid, mount, uts,
// ipc, net and cgroup namespaces, nook's init as PID 1.
//
// Every field means what the `nook run` flag of the same name means: the
// command line only turns its flags into a Config. Errors from Spec and
// Run are *spec.FieldError naming the field ("Config.Workdir",
// "Config.Binds[1]").
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
	// Env is added to the environment, K=V each: to the caller's, or to
	// none with ClearEnv.
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
	// NoPivot builds the root without pivot_root: see
	// container.Options.NoPivot.
	NoPivot bool
	// TTY gives the command a new pseudo-terminal. Run copies it to and
	// from Stdin and Stdout; when Stdin is a terminal, in raw mode and
	// following the window's size, as `nook run -t` does.
	TTY bool
	// ForwardSignals passes the signals this program gets while the
	// sandbox runs (container.ForwardedSignals: SIGTERM, SIGINT, SIGHUP,
	// SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH) on to the command, as `nook
	// run` does, instead of their usual effect on this program.
	ForwardSignals bool

	// CapAdd and CapDrop adjust the default capability set (DefaultCaps);
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

	// Memory limits the memory of the whole sandbox, in bytes; 0 for
	// none.
	Memory int64
	// MemorySwap limits memory plus swap, in bytes, at least Memory; -1
	// for unlimited swap; 0 for no swap beyond Memory where the kernel
	// allows. It needs Memory.
	MemorySwap int64
	// Pids limits the processes and threads alive at once; 0 for none.
	Pids int64
	// CPUs limits the CPU bandwidth, in CPUs: 1.5 is one and a half
	// CPUs' time per period, at least 0.01; 0 for none.
	CPUs float64
	// CPUWeight is the relative CPU weight, 1-10000 (cgroup v2's
	// cpu.weight; the matching shares on v1); 0 for the default.
	CPUWeight uint64
	// CPUSet restricts the sandbox to these CPUs ("0-1,3").
	CPUSet string
	// Resources are further cgroup settings (linux.resources), with the
	// fields above applied on top; nil for none.
	Resources *specs.LinuxResources
	// Rlimits are set on the command (process.rlimits); RLIMIT_FSIZE is
	// the output limit a verdict reports.
	Rlimits []specs.POSIXRlimit
	// Limits are the time limits of the run.
	Limits container.Limits
	// Accounting reads the cgroup's account of the run (memory peak,
	// OOM kills, pids peak, CPU time) into Result.Cgroup, for a verdict.
	// A CPU-time limit reads the CPU account anyway.
	Accounting bool
	// SeccompCache, where set, keeps the compiled seccomp filter for
	// the next sandbox with the same profile (a judge's Runner owns
	// one); nil compiles it every time.
	SeccompCache *seccomp.Cache

	// Stdin, Stdout and Stderr are the command's; nil means this
	// program's own. They are opened outside the sandbox, so the sandbox
	// needs no access to their paths.
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

// fieldErr is a mistake in the Config field named, as a *spec.FieldError.
func fieldErr(field, format string, args ...any) error {
	return spec.FieldErrorf("Config."+field, format, args...)
}

// Spec builds the OCI runtime spec that runs this sandbox. Every sandbox,
// from `nook run` or from Go, starts from one. Errors are
// *spec.FieldError.
func (c *Config) Spec() (*specs.Spec, error) {
	c, err := c.withImage()
	if err != nil {
		return nil, err
	}
	if len(c.Args) == 0 || c.Args[0] == "" {
		return nil, fieldErr("Args", "no command given")
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
	env, err := c.env()
	if err != nil {
		return nil, err
	}
	s := &specs.Spec{
		Version:  specs.Version,
		Hostname: c.Hostname,
		Process: &specs.Process{
			Args: c.Args,
			Cwd:  "/",
			User: specs.User{UID: c.UID, GID: c.GID},
			Env:  env,
		},
		Root: &specs.Root{Readonly: c.ReadOnly},
		Linux: &specs.Linux{
			Namespaces:    ns,
			MaskedPaths:   MaskedPaths(),
			ReadonlyPaths: ReadonlyPaths(),
		},
	}
	if s.Linux.Resources, err = c.resources(); err != nil {
		return nil, err
	}
	if err := c.checkLimits(); err != nil {
		return nil, err
	}
	for i, r := range c.Rlimits {
		if !slices.Contains(container.RlimitNames(), r.Type) {
			return nil, fieldErr(fmt.Sprintf("Rlimits[%d]", i), "unknown type %q", r.Type)
		}
		if r.Soft > r.Hard {
			return nil, fieldErr(fmt.Sprintf("Rlimits[%d]", i), "%s: soft limit above hard limit", r.Type)
		}
	}
	s.Process.Rlimits = c.outputRlimits()
	if err := c.security(s); err != nil {
		return nil, err
	}
	if c.Hostname != "" && !has(namespaces.UTS) {
		return nil, fieldErr("Hostname", "needs a uts namespace of its own (uts is in Config.Share)")
	}
	if s.Hostname == "" && has(namespaces.UTS) {
		s.Hostname = "nook"
	}
	if c.Domainname != "" {
		if !has(namespaces.UTS) {
			return nil, fieldErr("Domainname", "needs a uts namespace of its own (uts is in Config.Share)")
		}
		s.Domainname = c.Domainname
	}
	if c.Workdir != "" {
		if !filepath.IsAbs(c.Workdir) {
			return nil, fieldErr("Workdir", "%q is not an absolute path", c.Workdir)
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
		c.rootNodev(s)
	} else if c.Rootfs != "" {
		abs, err := filepath.Abs(c.Rootfs)
		if err != nil {
			return nil, fieldErr("Rootfs", "%q: %w", c.Rootfs, err)
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return nil, fieldErr("Rootfs", "%w", err)
		}
		if !fi.IsDir() {
			return nil, fieldErr("Rootfs", "%q is not a directory", c.Rootfs)
		}
		s.Root.Path = abs
		c.rootNodev(s)
	} else {
		// the host view: an empty root that only the whitelisted
		// system directories are bound into
		s.Root.Readonly = true
		s.Mounts = append(s.Mounts, HostView()...)
		// secrets stay hidden even in a privileged sandbox
		s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, HostSecrets()...)
	}
	s.Mounts = append(s.Mounts, systemMounts(has(namespaces.IPC), has(namespaces.User))...)
	for i, b := range c.Binds {
		field := fmt.Sprintf("Binds[%d]", i)
		if b.Source == "" {
			return nil, fieldErr(field, "no source")
		}
		if !filepath.IsAbs(b.Dest) {
			return nil, fieldErr(field, "%s:%s: destination is not an absolute path", b.Source, b.Dest)
		}
		src, err := filepath.Abs(b.Source)
		if err != nil {
			return nil, fieldErr(field, "source %q: %w", b.Source, err)
		}
		if _, err := os.Stat(src); err != nil {
			return nil, fieldErr(field, "source: %w", err)
		}
		opts := []string{"rbind", "nosuid", "nodev"}
		if b.ReadOnly {
			opts = append(opts, "ro")
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: b.Dest, Type: "bind", Source: src, Options: opts})
	}
	for i, t := range c.Tmpfs {
		field := fmt.Sprintf("Tmpfs[%d]", i)
		if !filepath.IsAbs(t.Dest) {
			return nil, fieldErr(field, "%q is not an absolute path", t.Dest)
		}
		if t.Size < 0 {
			return nil, fieldErr(field, "%s: negative size %d", t.Dest, t.Size)
		}
		opts := []string{"nosuid", "nodev", "mode=1777"}
		if t.Size > 0 {
			opts = append(opts, "size="+strconv.FormatInt(t.Size, 10))
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: t.Dest, Type: "tmpfs", Source: "tmpfs", Options: opts})
	}
	if err := c.checkIDMaps(); err != nil {
		return nil, err
	}
	if has(namespaces.User) {
		s.Linux.UIDMappings, s.Linux.GIDMappings = c.idMaps()
	} else if len(c.UIDMap) > 0 {
		return nil, fieldErr("UIDMap", "needs a user namespace of its own (user in Config.Unshare)")
	} else if len(c.GIDMap) > 0 {
		return nil, fieldErr("GIDMap", "needs a user namespace of its own (user in Config.Unshare)")
	}
	if len(c.TimeOffsets) > 0 {
		for clock := range c.TimeOffsets {
			if clock != "monotonic" && clock != "boottime" {
				return nil, fieldErr("TimeOffsets", "unknown clock %q (want monotonic or boottime)", clock)
			}
		}
		if !has(namespaces.Time) {
			return nil, fieldErr("TimeOffsets", "needs a time namespace of its own (time in Config.Unshare)")
		}
		s.Linux.TimeOffsets = c.TimeOffsets
	}
	return s, nil
}

// cpuPeriod is the CFS period CPUs is a share of: the kernel's default,
// 100ms.
const cpuPeriod = 100000

// minCPUQuota is the kernel's least CFS quota, 1ms (0.01 CPUs).
const minCPUQuota = 1000

// maxCPUWeight is cgroup v2's greatest cpu.weight; v1's shares go from
// 2 to maxCPUShares.
const (
	maxCPUWeight = 10000
	maxCPUShares = 262144
)

// resources builds linux.resources: Resources, copied, with the typed
// limits on top.
func (c *Config) resources() (*specs.LinuxResources, error) {
	var r specs.LinuxResources
	if c.Resources != nil {
		r = *c.Resources
	}
	// what is changed below is the copy's own
	if r.Memory != nil {
		m := *r.Memory
		r.Memory = &m
	}
	if r.CPU != nil {
		x := *r.CPU
		r.CPU = &x
	}
	memory := func() *specs.LinuxMemory {
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		return r.Memory
	}
	cpu := func() *specs.LinuxCPU {
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		return r.CPU
	}
	if c.Memory < 0 {
		return nil, fieldErr("Memory", "%d: want a positive size in bytes", c.Memory)
	}
	if c.Memory > 0 {
		n := c.Memory
		memory().Limit = &n
	}
	if c.MemorySwap != 0 {
		switch {
		case c.MemorySwap < -1:
			return nil, fieldErr("MemorySwap", "%d: want a positive size in bytes, or -1", c.MemorySwap)
		case c.Memory == 0:
			return nil, fieldErr("MemorySwap", "needs Config.Memory")
		case c.MemorySwap != -1 && c.MemorySwap < c.Memory:
			return nil, fieldErr("MemorySwap", "%d: must be at least Config.Memory (%d)", c.MemorySwap, c.Memory)
		}
		n := c.MemorySwap
		memory().Swap = &n
	}
	if c.Pids < 0 {
		return nil, fieldErr("Pids", "%d: want a positive number", c.Pids)
	}
	if c.Pids > 0 {
		n := c.Pids
		r.Pids = &specs.LinuxPids{Limit: &n}
	}
	if c.CPUs != 0 {
		if !(c.CPUs > 0) || c.CPUs > 1<<20 {
			return nil, fieldErr("CPUs", "%v: want a positive number of CPUs", c.CPUs)
		}
		period := uint64(cpuPeriod)
		quota := int64(c.CPUs * cpuPeriod)
		if quota < minCPUQuota {
			return nil, fieldErr("CPUs", "%v: below the kernel's minimum of %v", c.CPUs, float64(minCPUQuota)/cpuPeriod)
		}
		cpu().Period, cpu().Quota = &period, &quota
	}
	if c.CPUWeight > 0 {
		if c.CPUWeight > maxCPUWeight {
			return nil, fieldErr("CPUWeight", "%d: want 1-%d", c.CPUWeight, maxCPUWeight)
		}
		// the inverse of the kernel's shares-to-weight mapping, so the
		// value is exact on v2 and proportional on v1
		shares := 2 + ((c.CPUWeight-1)*(maxCPUShares-2))/(maxCPUWeight-1)
		cpu().Shares = &shares
	}
	if c.CPUSet != "" {
		cpu().Cpus = c.CPUSet
	}
	if r.Memory == nil && r.CPU == nil && r.Pids == nil && c.Resources == nil {
		return nil, nil
	}
	return &r, nil
}

// checkLimits checks the time limits.
func (c *Config) checkLimits() error {
	for _, l := range []struct {
		field string
		d     time.Duration
	}{{"CPUTime", c.Limits.CPUTime}, {"WallTime", c.Limits.WallTime}, {"Extra", c.Limits.Extra}} {
		if l.d < 0 {
			return fieldErr("Limits."+l.field, "%v is negative", l.d)
		}
	}
	return nil
}

// checkIDMaps checks the ID maps the caller gave.
func (c *Config) checkIDMaps() error {
	for name, maps := range map[string][]specs.LinuxIDMapping{"UIDMap": c.UIDMap, "GIDMap": c.GIDMap} {
		for i, m := range maps {
			if m.Size == 0 {
				return fieldErr(fmt.Sprintf("%s[%d]", name, i), "%d:%d:0: the size is 0", m.ContainerID, m.HostID)
			}
			if uint64(m.ContainerID)+uint64(m.Size) > 1<<32 || uint64(m.HostID)+uint64(m.Size) > 1<<32 {
				return fieldErr(fmt.Sprintf("%s[%d]", name, i), "%d:%d:%d: past the last ID", m.ContainerID, m.HostID, m.Size)
			}
		}
	}
	return nil
}

func (c *Config) namespaces() ([]specs.LinuxNamespace, error) {
	for _, l := range []struct {
		field string
		types []namespaces.Type
	}{{"Share", c.Share}, {"Unshare", c.Unshare}} {
		for _, t := range l.types {
			if namespaces.CloneFlag(t) == 0 {
				return nil, fieldErr(l.field, "unknown namespace type %q", t)
			}
		}
	}
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
				return nil, fieldErr("Share", "mnt: a sandbox needs a mount namespace of its own")
			}
			if t == namespaces.User && Rootless() {
				return nil, fieldErr("Share", "user: an unprivileged sandbox needs a user namespace of its own")
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

func (c *Config) env() ([]string, error) {
	for i, e := range c.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return nil, fieldErr(fmt.Sprintf("Env[%d]", i), "%q: want K=V", e)
		}
	}
	var env []string
	if !c.ClearEnv {
		env = os.Environ()
	}
	return mergeEnv(env, c.Env), nil
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
// /etc/subuid, /etc/subgid and the setuid helpers provide them. The
// helpers look the ranges up by the real user who runs them; so does this.
func (c *Config) idMaps() (uid, gid []specs.LinuxIDMapping) {
	uid, gid = c.UIDMap, c.GIDMap
	if len(uid) == 0 {
		uid = defaultMap(os.Geteuid(), os.Getuid(), "/etc/subuid", "newuidmap")
	}
	if len(gid) == 0 {
		gid = defaultMap(os.Getegid(), os.Getuid(), "/etc/subgid", "newgidmap")
	}
	return uid, gid
}

// DenySetgroups reports whether setgroups(2) must be denied in the new
// user namespace: rootless, with a group map of one group. The kernel
// lets an unprivileged process write such a map only once setgroups is
// denied, and newgidmap(1) denies it itself for a map with no subordinate
// range, whatever the user map holds; the sandbox then cannot set its
// groups, so it must not try.
func (c *Config) DenySetgroups() bool {
	if !Rootless() {
		return false
	}
	_, gid := c.idMaps()
	return len(gid) == 1 && gid[0].Size == 1
}

// Options returns the container options this sandbox runs with.
func (c *Config) Options() *container.Options {
	return &container.Options{
		Init: !c.NoInit, DenySetgroups: c.DenySetgroups(), Limits: c.Limits,
		Accounting: c.Accounting, ForwardSignals: c.ForwardSignals, NoPivot: c.NoPivot,
		Stdin: c.Stdin, Stdout: c.Stdout, Stderr: c.Stderr, SeccompCache: c.SeccompCache,
	}
}

// Run runs the sandbox to completion in the foreground, as `nook run`
// does: with this program's stdin, stdout and stderr unless the Config
// names others, its pty wired to them with TTY, and signals passed on
// with ForwardSignals. The Result says how the command ended; Verdict
// judges it.
func Run(ctx context.Context, c *Config) (*container.Result, error) {
	if c.Image != nil {
		release, err := c.Image.Use(ctx)
		if err != nil {
			return nil, err
		}
		defer release()
	}
	s, err := c.Spec()
	if err != nil {
		return nil, err
	}
	nw, err := c.Network(s)
	if err != nil {
		return nil, err
	}
	defer nw.Close()
	return container.Run(ctx, "", s, nw.Options(c.Options()))
}

// Prepared is a sandbox made up to its first process, which waits before
// its first step (container.Prepare): its spec built, its cgroup and
// namespaces made. Judge runs it; Close removes it, run or not.
type Prepared struct {
	c    *Config
	ct   *container.Container
	done []func()
}

// Prepare makes the sandbox up to its first process, to run in the
// background (no terminal, no signals passed on) with the cgroup's
// account read after the run. A judge prepares the next sandbox while
// others run, so that the start of one overlaps the runs of the others.
func (c *Config) Prepare(ctx context.Context) (_ *Prepared, err error) {
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
	opts := c.Options()
	opts.Accounting = true
	opts.ForwardSignals = false
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
	if err := ct.Start(); err != nil { // the network's Started, through its Options
		return nil, err
	}
	return ct.Wait(ctx)
}

// VerdictLimits are the Config's limits as a verdict reports them.
func (c *Config) VerdictLimits() verdict.Limits {
	l := verdict.Limits{
		CPUTimeMS:   c.Limits.CPUTime.Milliseconds(),
		WallTimeMS:  c.Limits.WallTime.Milliseconds(),
		ExtraTimeMS: c.Limits.Extra.Milliseconds(),
		MemoryBytes: c.Memory,
		Pids:        c.Pids,
	}
	if r := c.Resources; r != nil {
		if l.MemoryBytes == 0 && r.Memory != nil && r.Memory.Limit != nil {
			l.MemoryBytes = *r.Memory.Limit
		}
		if l.Pids == 0 && r.Pids != nil && r.Pids.Limit != nil {
			l.Pids = *r.Pids.Limit
		}
	}
	for _, rl := range c.Rlimits {
		if rl.Type == "RLIMIT_FSIZE" {
			l.FileSize = rl.Soft
		}
	}
	return l
}

// Verdict judges a run of this sandbox, Run's result and error, against
// its limits, as `nook run --verdict` does. With Accounting the verdict
// has the memory peak and knows an OOM kill.
func (c *Config) Verdict(r *container.Result, err error) *verdict.Verdict {
	var run *verdict.Run
	if r != nil {
		run = (*verdict.Run)(r)
	}
	return verdict.Judge(run, err, c.VerdictLimits())
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
	base := DefaultCaps()
	if c.Privileged {
		base = heldCaps()
	}
	for _, l := range []struct {
		field string
		names []string
	}{{"CapAdd", c.CapAdd}, {"CapDrop", c.CapDrop}} {
		for _, n := range l.names {
			if strings.EqualFold(strings.TrimSpace(n), "ALL") {
				continue
			}
			if _, err := caps.Normalize(n); err != nil {
				return fieldErr(l.field, "%w", err)
			}
		}
	}
	names, err := caps.Adjust(base, c.CapAdd, c.CapDrop)
	if err != nil {
		return fieldErr("CapAdd", "%w", err)
	}
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: names, Effective: names, Permitted: names}
	s.Process.NoNewPrivileges = !c.AllowNewPrivs
	switch {
	case c.Privileged && c.Seccomp == "", c.Seccomp == "unconfined":
	case c.Seccomp != "":
		p, err := seccomp.LoadWithCaps(c.Seccomp, names)
		if err != nil {
			return fieldErr("Seccomp", "%w", err)
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

// rootNodev asks for a nodev root (a rootfs or an image): no device node
// of it opens, and with the nodev mounts Spec makes, the device rules need
// no cgroup (container.CgroupNeed). A privileged sandbox, which has no
// device rules, keeps its root's nodes, as before.
func (c *Config) rootNodev(s *specs.Spec) {
	if !c.Privileged {
		s.Annotations = map[string]string{container.AnnotationRootNodev: "true"}
	}
}

// DefaultCaps is a sandbox's capability set unless CapAdd and CapDrop
// change it: Docker's default (caps.Default) without CAP_MKNOD, as
// bubblewrap keeps none. Docker keeps MKNOD because its device cgroup
// stops every node but its own; without it no process of the sandbox can
// make a node at all, and a sandbox that can neither make nor mount one
// and whose mounts are nodev needs no device cgroup, and often no cgroup
// (container.CgroupNeed). --cap-add MKNOD gives it back, with the cgroup.
func DefaultCaps() []string {
	return slices.DeleteFunc(caps.Default(), func(n string) bool { return n == "CAP_MKNOD" })
}

// DeviceRules are the device cgroup rules of a sandbox: everything denied
// but the nodes every sandbox gets (container.StandardDevices: /dev/null,
// zero, full, random, urandom, tty, ptmx and the pty instances).
func DeviceRules() []specs.LinuxDeviceCgroup {
	return append([]specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}, container.StandardDevices()...)
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

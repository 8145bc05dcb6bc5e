package spawn

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"unsafe"
)

// Op is one kind of step of a plan. The numbers are spawn.h's enum
// nook_op (child steps) and enum nook_janitor_op (janitor steps);
// TestLayoutMatchesC checks that they agree.
type Op uint32

// The steps a child can take, in the order a plan usually lists them.
const (
	OpSetsid       Op = iota + 1 // start a new session
	OpUnshare                    // unshare(flags)
	OpSetns                      // setns(open(path), nstype)
	OpWrite                      // write data to a procfs file
	OpHostname                   // sethostname
	OpDomainname                 // setdomainname
	OpLoopback                   // bring lo up
	OpPropagation                // mount(NULL, "/", NULL, flags): make the tree private or slave
	OpBasePivot                  // tmpfs on dir becomes "/", the host's "/" moves to /oldroot
	OpRoot                       // bind (or tmpfs) path becomes the root under construction
	OpMount                      // mount inside the root under construction
	OpSymlink                    // symlink inside the root under construction
	OpMask                       // hide a path of the new root
	OpReadonly                   // make a path of the new root read-only
	OpTTY                        // open a pty in the new root and send its master to the parent
	OpPivot                      // the root under construction becomes "/"; the old one is detached
	OpRootReadonly               // make "/" read-only
	OpChdir                      // chdir, inside the new root
	OpRlimit                     // setrlimit
	OpUser                       // groups, ids and capabilities
	OpNoNewPrivs                 // prctl(PR_SET_NO_NEW_PRIVS)
	OpSeccomp                    // load a BPF filter
	OpArg                        // append to argv
	OpEnv                        // append to the environment
	OpExec                       // exec the command (as PID 1, or under nook's init)
	OpDevice                     // a device node in the new root: mknod, or a bind of the host's
	OpOverlayRoot                // an overlay of an image's layers becomes the root under construction
	OpChroot                     // chroot to a directory, then chdir "/" (nsenter -r)
	OpNoPivot                    // BasePivot and Pivot move mounts and chroot instead of pivot_root
	OpDetach                     // detach (or cover) a mount of the host's, before a NoPivot Pivot
	OpHook                       // run a hook of the spec in the sandbox's namespaces and wait for it
	OpRootNodev                  // make the root under construction, and every mount under it so far, nodev
	OpSetnsPidfd                 // setns(Config.NSProcess, nstypes): several namespaces at once
	opMax
)

// Janitor steps, run on the host after the sandbox is gone.
const (
	JanitorRmdir  Op = iota + 1 // rmdir, retrying while the cgroup is busy
	JanitorUnlink               // unlink a file
	JanitorUmount               // detach a mount (MNT_DETACH)
	JanitorKill                 // kill every process of a cgroup (cgroup.kill, or its procs)
	janitorMax
)

// MountPoint says what OpMount creates at a destination that is missing.
type MountPoint uint32

const (
	MountPointAuto MountPoint = iota // a bind's source decides; a directory otherwise
	MountPointDir
	MountPointFile
)

// Plan is a list of steps, encoded as the C side reads it (spawn.h): for
// each step a header (op, size), the step's record of fixed fields, then
// its strings and blobs, each record 8-byte aligned. Host byte order: the
// plan never leaves the machine. The zero Plan is empty and ready.
type Plan struct {
	e          encoder
	argc, envc int
}

// Cleanup is a list of janitor steps, encoded as Plan is.
type Cleanup struct{ e encoder }

type encoder struct {
	buf     []byte
	n       int
	err     error
	janitor bool // a Cleanup: every record is a pathRec
}

// Len reports the number of steps.
func (p *Plan) Len() int { return p.e.n }

// Bytes returns the encoded plan.
func (p *Plan) Bytes() []byte { return p.e.buf }

// Err reports the first step that could not be encoded (a string with a
// NUL byte in it); a plan with an error is refused by Start.
func (p *Plan) Err() error { return p.e.err }

// Len reports the number of steps.
func (c *Cleanup) Len() int { return c.e.n }

// Bytes returns the encoded steps.
func (c *Cleanup) Bytes() []byte { return c.e.buf }

// Err reports the first step that could not be encoded.
func (c *Cleanup) Err() error { return c.e.err }

// The records, as spawn.h lays them out. Every field is fixed-size and
// padding is explicit, so that the Go and C layouts are the same bytes.
type (
	ref struct {
		off uint32
		len uint32
	}
	stepHeader struct {
		op   uint32
		size uint32
	}
	unshareRec struct{ flags uint64 }
	setnsRec   struct {
		path   ref
		nstype uint64
	}
	setnsPidfdRec struct{ nstypes uint64 }
	writeRec      struct {
		path ref
		data ref
	}
	nameRec        struct{ name ref }
	propagationRec struct{ flags uint64 }
	pathRec        struct{ path ref }
	rootRec        struct {
		path  ref
		tmpfs uint32
		pad   uint32
	}
	hookRec struct {
		name    ref
		path    ref
		args    ref
		env     ref
		state   ref
		timeout uint32
		start   uint32
	}
	overlayRootRec struct {
		path    ref
		lowers  ref
		options ref
		scratch ref
	}
	mountRec struct {
		source      ref
		target      ref
		fstype      ref
		data        ref
		flags       uint64
		attr        uint64
		propagation uint64
		point       uint32
		pad         uint32
	}
	symlinkRec struct {
		target ref
		link   ref
	}
	deviceRec struct {
		host ref
		path ref
		rdev uint64
		mode uint32
		pad  uint32
	}
	rlimitRec struct {
		name     ref
		resource uint32
		pad      uint32
		soft     uint64
		hard     uint64
	}
	userRec struct {
		uid         uint32
		gid         uint32
		groups      ref
		setGroups   uint32
		setCaps     uint32
		bounding    uint64
		effective   uint64
		permitted   uint64
		inheritable uint64
		ambient     uint64
		lastCap     uint32
		pad         uint32
	}
	seccompRec struct {
		filter ref
		flags  uint32
		pad    uint32
	}
	ttyRec struct {
		rows uint32
		cols uint32
	}
	execRec struct {
		init uint32
		pad  uint32
	}
	// errorRec is what the child writes to the error pipe before its
	// message.
	errorRec struct {
		err  int32
		exit uint32
		len  uint32
		pad  uint32
	}
	// noRec is the record of a step without fields.
	noRec struct{}
)

// records names each op's record type: the encoder checks that a step
// writes it, the decoder reads it, and the layout test compares it with
// C's.
var records = [opMax]any{
	OpSetsid:       noRec{},
	OpUnshare:      unshareRec{},
	OpSetns:        setnsRec{},
	OpWrite:        writeRec{},
	OpHostname:     nameRec{},
	OpDomainname:   nameRec{},
	OpLoopback:     noRec{},
	OpPropagation:  propagationRec{},
	OpBasePivot:    pathRec{},
	OpRoot:         rootRec{},
	OpMount:        mountRec{},
	OpSymlink:      symlinkRec{},
	OpMask:         pathRec{},
	OpReadonly:     pathRec{},
	OpTTY:          ttyRec{},
	OpPivot:        noRec{},
	OpRootReadonly: noRec{},
	OpChdir:        pathRec{},
	OpChroot:       pathRec{},
	OpRlimit:       rlimitRec{},
	OpUser:         userRec{},
	OpNoNewPrivs:   noRec{},
	OpSeccomp:      seccompRec{},
	OpArg:          pathRec{},
	OpEnv:          pathRec{},
	OpExec:         execRec{},
	OpDevice:       deviceRec{},
	OpOverlayRoot:  overlayRootRec{},
	OpNoPivot:      noRec{},
	OpDetach:       pathRec{},
	OpHook:         hookRec{},
	OpRootNodev:    noRec{},
	OpSetnsPidfd:   setnsPidfdRec{},
}

const headerSize = uint32(unsafe.Sizeof(stepHeader{}))

// step is one record being encoded: its fixed part is written last, when
// the refs to its strings are known.
type step struct {
	p     *encoder
	op    Op
	start int
	size  uintptr
}

// begin starts a record of op with a fixed part of size bytes.
func (p *encoder) begin(op Op, size uintptr) step {
	s := step{p: p, op: op, start: len(p.buf), size: size}
	p.buf = binary.NativeEndian.AppendUint32(p.buf, uint32(op))
	p.buf = binary.NativeEndian.AppendUint32(p.buf, 0)
	p.buf = append(p.buf, make([]byte, size)...)
	return s
}

// str appends a string and its NUL to the record.
func (s step) str(v string) ref {
	if strings.IndexByte(v, 0) >= 0 {
		s.p.fail(fmt.Errorf("spawn: %q contains a NUL byte", v))
	}
	r := ref{off: uint32(len(s.p.buf) - s.start), len: uint32(len(v))}
	s.p.buf = append(s.p.buf, v...)
	s.p.buf = append(s.p.buf, 0)
	return r
}

// blob appends bytes to the record.
func (s step) blob(v []byte) ref {
	r := ref{off: uint32(len(s.p.buf) - s.start), len: uint32(len(v))}
	s.p.buf = append(s.p.buf, v...)
	return r
}

// end writes the fixed part and the record's size, and pads the record to
// 8 bytes.
func end[R any](s step, rec *R) {
	p := s.p
	var want any = pathRec{}
	if !p.janitor && s.op < opMax {
		want = records[s.op]
	}
	if t := reflect.TypeOf(*rec); t != reflect.TypeOf(want) || t.Size() != s.size {
		// a bug in this file, not in its caller's input
		p.fail(fmt.Errorf("spawn: step %d written as %v, %d bytes reserved; its record is %T", s.op, t, s.size, want))
	}
	fixed := unsafe.Slice((*byte)(unsafe.Pointer(rec)), unsafe.Sizeof(*rec))
	copy(p.buf[s.start+int(headerSize):], fixed)
	for len(p.buf)%8 != 0 {
		p.buf = append(p.buf, 0)
	}
	binary.NativeEndian.PutUint32(p.buf[s.start+4:], uint32(len(p.buf)-s.start))
	p.n++
}

func add[R any](p *Plan, op Op, rec R) {
	end(p.e.begin(op, unsafe.Sizeof(rec)), &rec)
}

func (p *encoder) path(op Op, path string) {
	s := p.begin(op, unsafe.Sizeof(pathRec{}))
	end(s, &pathRec{path: s.str(path)})
}

func (p *encoder) fail(err error) {
	if p.err == nil {
		p.err = err
	}
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// Setsid starts a new session.
func (p *Plan) Setsid() { add(p, OpSetsid, noRec{}) }

// Unshare unshares the namespaces in flags (CLONE_NEW*).
func (p *Plan) Unshare(flags uint64) { add(p, OpUnshare, unshareRec{flags: flags}) }

// Setns joins the namespace at path; nstype (CLONE_NEW*) makes sure it is
// of that type, 0 takes any.
func (p *Plan) Setns(path string, nstype uint64) {
	s := p.e.begin(OpSetns, unsafe.Sizeof(setnsRec{}))
	end(s, &setnsRec{path: s.str(path), nstype: nstype})
}

// SetnsPidfd joins the namespaces in nstypes (CLONE_NEW*) of the process
// Config.NSProcess names, in one setns(2) (Linux 5.8), where a Setns step
// takes three system calls for each. The kernel joins them all or none,
// the user namespace first. The Setns steps after it for the namespaces it
// joined are skipped; where the kernel refuses it (before 5.8 it takes no
// pidfd), nothing is joined and those steps do the work in their order,
// naming the namespace that fails: they are still needed.
func (p *Plan) SetnsPidfd(nstypes uint64) { add(p, OpSetnsPidfd, setnsPidfdRec{nstypes: nstypes}) }

// Write writes data to path, which must be on procfs.
func (p *Plan) Write(path, data string) {
	s := p.e.begin(OpWrite, unsafe.Sizeof(writeRec{}))
	r := writeRec{path: s.str(path)}
	r.data = s.str(data)
	end(s, &r)
}

// Hostname sets the host name.
func (p *Plan) Hostname(name string) {
	s := p.e.begin(OpHostname, unsafe.Sizeof(nameRec{}))
	end(s, &nameRec{name: s.str(name)})
}

// Domainname sets the NIS domain name.
func (p *Plan) Domainname(name string) {
	s := p.e.begin(OpDomainname, unsafe.Sizeof(nameRec{}))
	end(s, &nameRec{name: s.str(name)})
}

// Loopback brings lo up.
func (p *Plan) Loopback() { add(p, OpLoopback, noRec{}) }

// Propagation sets the propagation of the whole mount tree (MS_PRIVATE,
// MS_SLAVE... with MS_REC).
func (p *Plan) Propagation(flags uint64) { add(p, OpPropagation, propagationRec{flags: flags}) }

// BasePivot makes a tmpfs on dir the root, with the host's root under
// /oldroot, so that a new root can be built from nothing.
func (p *Plan) BasePivot(dir string) { p.e.path(OpBasePivot, dir) }

// Root makes path the root under construction: bound onto itself, or a
// fresh tmpfs.
func (p *Plan) Root(path string, tmpfs bool) {
	s := p.e.begin(OpRoot, unsafe.Sizeof(rootRec{}))
	end(s, &rootRec{path: s.str(path), tmpfs: b2u(tmpfs)})
}

// Overlay is an overlay that becomes the root under construction: an
// image's layers.
type Overlay struct {
	// Path is where it is mounted (the root under construction).
	Path string
	// Lowers are the lower directories, top first, as the child sees
	// them. The child gives them to overlayfs one at a time (the new
	// mount API's "lowerdir+", Linux 6.8), so their number is not bound
	// by a page of mount data; an older kernel gets them in one.
	Lowers []string
	// Options are the others, comma-separated (upperdir=..., userxattr).
	Options string
	// Scratch, when set, is a directory of the base root on which the
	// child mounts a fresh tmpfs for the upper and work directories
	// (Scratch/upper, Scratch/work; Options names them).
	Scratch string
}

// OverlayRoot mounts an overlay as the root under construction.
func (p *Plan) OverlayRoot(o Overlay) {
	s := p.e.begin(OpOverlayRoot, unsafe.Sizeof(overlayRootRec{}))
	r := overlayRootRec{path: s.str(o.Path)}
	var lowers []byte
	for _, l := range o.Lowers {
		if strings.IndexByte(l, 0) >= 0 {
			p.e.fail(fmt.Errorf("spawn: %q contains a NUL byte", l))
		}
		lowers = append(append(lowers, l...), 0)
	}
	r.lowers = s.blob(lowers)
	r.options = s.str(o.Options)
	r.scratch = s.str(o.Scratch)
	end(s, &r)
}

// Mount is a mount inside the root under construction.
type Mount struct {
	// Source is a host path for a bind (as the child sees the host:
	// under /oldroot after BasePivot), else what mount(2) takes.
	Source string
	// Target is the destination inside the new root, resolved there.
	Target string
	// FSType is empty for a bind.
	FSType string
	// Flags are mount(2)'s; MS_BIND makes a bind.
	Flags uint64
	// Data is the file system's options.
	Data string
	// Attr are MOUNT_ATTR_* flags set on the new mount afterwards (for a
	// bind, which ignores most flags at first).
	Attr uint64
	// Propagation (MS_PRIVATE, MS_SHARED...) is set afterwards; 0 leaves it.
	Propagation uint64
	// Point says what to create at a missing Target.
	Point MountPoint
}

// Mount mounts inside the root under construction.
func (p *Plan) Mount(m Mount) {
	s := p.e.begin(OpMount, unsafe.Sizeof(mountRec{}))
	r := mountRec{flags: m.Flags, attr: m.Attr, propagation: m.Propagation, point: uint32(m.Point)}
	r.source = s.str(m.Source)
	r.target = s.str(m.Target)
	r.fstype = s.str(m.FSType)
	r.data = s.str(m.Data)
	end(s, &r)
}

// Symlink makes link, inside the root under construction, point at target.
func (p *Plan) Symlink(target, link string) {
	s := p.e.begin(OpSymlink, unsafe.Sizeof(symlinkRec{}))
	r := symlinkRec{target: s.str(target)}
	r.link = s.str(link)
	end(s, &r)
}

// Device is a device node in the root under construction.
type Device struct {
	// Host is the host's node, as the child sees it: bound in where
	// mknod is refused (in a user namespace).
	Host string
	// Path is where it goes in the new root.
	Path string
	Rdev uint64
	// Mode is the node's file type and permissions.
	Mode uint32
}

// Device makes a device node in the root under construction.
func (p *Plan) Device(d Device) {
	s := p.e.begin(OpDevice, unsafe.Sizeof(deviceRec{}))
	r := deviceRec{rdev: d.Rdev, mode: d.Mode}
	r.host = s.str(d.Host)
	r.path = s.str(d.Path)
	end(s, &r)
}

// Mask hides path in the new root: /dev/null over a file, an empty
// read-only tmpfs over a directory. A missing path is left alone.
func (p *Plan) Mask(path string) { p.e.path(OpMask, path) }

// Readonly makes path in the new root read-only. A missing path is left
// alone.
func (p *Plan) Readonly(path string) { p.e.path(OpReadonly, path) }

// TTY opens a pty in the new root, of rows by cols characters (0 and 0:
// the kernel's default), and sends its master to the parent (Config.TTY);
// the command gets the other end.
func (p *Plan) TTY(rows, cols uint16) {
	add(p, OpTTY, ttyRec{rows: uint32(rows), cols: uint32(cols)})
}

// Pivot makes the root under construction "/" and detaches the old one.
func (p *Plan) Pivot() { add(p, OpPivot, noRec{}) }

// NoPivot makes the BasePivot and Pivot after it do without pivot_root(2),
// for a "/" that it cannot move (the initial ramfs): BasePivot chroots into
// its tmpfs with a clone of the host's tree at /oldroot, and Pivot detaches
// that clone, moves the new root onto "/" (the real one, not the chroot)
// and chroots into it, as runc's --no-pivot does.
func (p *Plan) NoPivot() { add(p, OpNoPivot, noRec{}) }

// Detach takes the host's mount at path (a host path, as "/" is before
// BasePivot) out of the mount namespace, or covers it with an empty tmpfs
// where it cannot be unmounted (a user namespace's locked mounts). Without
// pivot_root the host's mounts stay in the sandbox's namespace, out of
// sight; a full procfs or sysfs among them would let a process that may
// mount (CAP_SYS_ADMIN in a user namespace) mount a fresh one, without the
// masks, so NoPivot plans detach those first, as runc's --no-pivot does.
func (p *Plan) Detach(path string) { p.e.path(OpDetach, path) }

// RootReadonly makes "/" read-only.
func (p *Plan) RootReadonly() { add(p, OpRootReadonly, noRec{}) }

// RootNodev makes the root under construction nodev, with every mount
// below it at that point (a rootfs's own submounts): no device node in
// it can be opened. It comes straight after Root or OverlayRoot, before
// the sandbox's /dev is mounted, which keeps its nodes.
func (p *Plan) RootNodev() { add(p, OpRootNodev, noRec{}) }

// Chdir changes the working directory.
func (p *Plan) Chdir(dir string) { p.e.path(OpChdir, dir) }

// Chroot makes dir the root directory and "/" the working directory, as
// nsenter -r does; it is no new root built (Pivot is).
func (p *Plan) Chroot(dir string) { p.e.path(OpChroot, dir) }

// Rlimit is one resource limit.
type Rlimit struct {
	// Resource is RLIMIT_*'s number; Name its name, for errors.
	Resource   uint32
	Name       string
	Soft, Hard uint64
}

// Rlimit sets a resource limit.
func (p *Plan) Rlimit(r Rlimit) {
	s := p.e.begin(OpRlimit, unsafe.Sizeof(rlimitRec{}))
	end(s, &rlimitRec{name: s.str(r.Name), resource: r.Resource, soft: r.Soft, hard: r.Hard})
}

// Caps are the capability sets, one bit per capability.
type Caps struct {
	Bounding, Effective, Permitted, Inheritable, Ambient uint64
	// Last is the kernel's highest capability: the bounding set drops
	// every one up to it that Bounding does not name.
	Last uint32
}

// User is who the command runs as.
type User struct {
	UID, GID uint32
	// Groups are the supplementary groups, set when SetGroups is true
	// (false where the user namespace denies setgroups).
	Groups    []uint32
	SetGroups bool
	// Caps, when not nil, replace the capabilities; nil leaves them as
	// the user has them.
	Caps *Caps
}

// User switches to the command's user, groups and capabilities.
func (p *Plan) User(u User) {
	s := p.e.begin(OpUser, unsafe.Sizeof(userRec{}))
	if len(u.Groups) > maxGroups {
		p.e.fail(fmt.Errorf("spawn: %d supplementary groups, more than %d", len(u.Groups), maxGroups))
	}
	r := userRec{uid: u.UID, gid: u.GID, setGroups: b2u(u.SetGroups)}
	g := make([]byte, 0, 4*len(u.Groups))
	for _, x := range u.Groups {
		g = binary.NativeEndian.AppendUint32(g, x)
	}
	r.groups = s.blob(g)
	if c := u.Caps; c != nil {
		r.setCaps = 1
		r.bounding, r.effective, r.permitted, r.inheritable, r.ambient = c.Bounding, c.Effective, c.Permitted, c.Inheritable, c.Ambient
		r.lastCap = c.Last
	}
	end(s, &r)
}

// NoNewPrivs sets no_new_privs.
func (p *Plan) NoNewPrivs() { add(p, OpNoNewPrivs, noRec{}) }

// Seccomp loads a BPF filter (struct sock_filter[]) with the given
// SECCOMP_FILTER_FLAG_* flags.
func (p *Plan) Seccomp(filter []byte, flags uint32) {
	if len(filter)%8 != 0 || len(filter) == 0 || len(filter)/8 > 0xffff {
		p.e.fail(fmt.Errorf("spawn: seccomp filter of %d bytes is not 1 to 65535 instructions", len(filter)))
	}
	s := p.e.begin(OpSeccomp, unsafe.Sizeof(seccompRec{}))
	end(s, &seccompRec{filter: s.blob(filter), flags: flags})
}

// Arg appends an argument to the command's argv.
func (p *Plan) Arg(arg string) {
	if p.argc++; p.argc > maxArgv {
		p.e.fail(fmt.Errorf("spawn: more than %d arguments", maxArgv))
	}
	p.e.path(OpArg, arg)
}

// Env appends NAME=VALUE to the command's environment.
func (p *Plan) Env(kv string) {
	if p.envc++; p.envc > maxArgv {
		p.e.fail(fmt.Errorf("spawn: more than %d environment variables", maxArgv))
	}
	p.e.path(OpEnv, kv)
}

// Exec execs the command: as PID 1, or with init as the child of nook's
// init. It is the last step.
func (p *Plan) Exec(init bool) { add(p, OpExec, execRec{init: b2u(init)}) }

// Rmdir removes a directory (a cgroup), retrying while it is busy.
func (c *Cleanup) Rmdir(path string) { c.add(JanitorRmdir, path) }

// Unlink removes a file.
func (c *Cleanup) Unlink(path string) { c.add(JanitorUnlink, path) }

// Umount detaches a mount (MNT_DETACH).
func (c *Cleanup) Umount(path string) { c.add(JanitorUmount, path) }

// Kill kills every process in the cgroup at dir: cgroup.kill, or its
// cgroup.procs until none is left.
func (c *Cleanup) Kill(dir string) { c.add(JanitorKill, dir) }

func (c *Cleanup) add(op Op, path string) {
	c.e.janitor = true
	c.e.path(op, path)
}

// Hook is a hook of the OCI spec that the child runs in the sandbox's
// namespaces (createContainer, startContainer), with the OCI state on
// its stdin, and waits for: one that fails, or outlives its timeout
// (killed then), fails the step.
type Hook struct {
	// Name is the hook's kind, for errors: "createContainer".
	Name string
	// Path is the program, as the child sees it at this step.
	Path      string
	Args, Env []string
	// State is the OCI state as JSON, without its closing brace: the
	// child adds its own pid (in its pid namespace, as runc's init
	// fills it in), which nobody knows before the clone.
	State string
	// Timeout is in seconds; 0 for none.
	Timeout uint32
	// Start: wait for start's byte first (Config.Hold), as the
	// startContainer hooks run at start.
	Start bool
}

// Hook runs a hook of the spec in the sandbox.
func (p *Plan) Hook(h Hook) {
	s := p.e.begin(OpHook, unsafe.Sizeof(hookRec{}))
	r := hookRec{name: s.str(h.Name), path: s.str(h.Path), timeout: h.Timeout}
	if h.Start {
		r.start = 1
	}
	list := func(l []string) []byte {
		var b []byte
		for _, v := range l {
			if strings.IndexByte(v, 0) >= 0 {
				p.e.fail(fmt.Errorf("spawn: hook %s: %q contains a NUL byte", h.Path, v))
			}
			b = append(append(b, v...), 0)
		}
		return b
	}
	r.args = s.blob(list(h.Args))
	r.env = s.blob(list(h.Env))
	r.state = s.str(h.State)
	end(s, &r)
}

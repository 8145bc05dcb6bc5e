package spawn

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A Step is one decoded step of a Plan or a Cleanup: Mount, Device,
// Rlimit and User as they were added, the others as the small types
// below. Steps exist to read a plan back (golden tests, debugging); the
// child reads the encoded bytes.
type Step interface {
	Op() Op
	String() string
}

// The decoded forms of the steps that have no type of their own for
// Plan's methods.
type (
	Setsid  struct{}
	Unshare struct{ Flags uint64 }
	Setns   struct {
		Path   string
		NSType uint64
	}
	SetnsPidfd  struct{ NSTypes uint64 }
	Write       struct{ Path, Data string }
	Hostname    struct{ Name string }
	Domainname  struct{ Name string }
	Loopback    struct{}
	Propagation struct{ Flags uint64 }
	BasePivot   struct{ Dir string }
	Root        struct {
		Path  string
		Tmpfs bool
	}
	Symlink      struct{ Target, Link string }
	Mask         struct{ Path string }
	Readonly     struct{ Path string }
	TTY          struct{ Rows, Cols uint16 }
	Pivot        struct{}
	NoPivot      struct{}
	Detach       struct{ Path string }
	RootReadonly struct{}
	RootNodev    struct{}
	Chdir        struct{ Dir string }
	Chroot       struct{ Dir string }
	NoNewPrivs   struct{}
	Seccomp      struct {
		Filter []byte
		Flags  uint32
	}
	Arg  struct{ Arg string }
	Env  struct{ KV string }
	Exec struct{ Init bool }

	// Janitor steps.
	Rmdir  struct{ Path string }
	Unlink struct{ Path string }
	Umount struct{ Path string }
	Kill   struct{ Dir string }
)

func (Setsid) Op() Op       { return OpSetsid }
func (Unshare) Op() Op      { return OpUnshare }
func (Setns) Op() Op        { return OpSetns }
func (SetnsPidfd) Op() Op   { return OpSetnsPidfd }
func (Write) Op() Op        { return OpWrite }
func (Hostname) Op() Op     { return OpHostname }
func (Domainname) Op() Op   { return OpDomainname }
func (Loopback) Op() Op     { return OpLoopback }
func (Propagation) Op() Op  { return OpPropagation }
func (BasePivot) Op() Op    { return OpBasePivot }
func (Root) Op() Op         { return OpRoot }
func (Mount) Op() Op        { return OpMount }
func (Symlink) Op() Op      { return OpSymlink }
func (Mask) Op() Op         { return OpMask }
func (Readonly) Op() Op     { return OpReadonly }
func (TTY) Op() Op          { return OpTTY }
func (Pivot) Op() Op        { return OpPivot }
func (NoPivot) Op() Op      { return OpNoPivot }
func (Detach) Op() Op       { return OpDetach }
func (RootReadonly) Op() Op { return OpRootReadonly }
func (RootNodev) Op() Op    { return OpRootNodev }
func (Chdir) Op() Op        { return OpChdir }
func (Chroot) Op() Op       { return OpChroot }
func (Rlimit) Op() Op       { return OpRlimit }
func (User) Op() Op         { return OpUser }
func (NoNewPrivs) Op() Op   { return OpNoNewPrivs }
func (Seccomp) Op() Op      { return OpSeccomp }
func (Arg) Op() Op          { return OpArg }
func (Env) Op() Op          { return OpEnv }
func (Exec) Op() Op         { return OpExec }
func (Device) Op() Op       { return OpDevice }
func (Overlay) Op() Op      { return OpOverlayRoot }
func (Hook) Op() Op         { return OpHook }
func (Rmdir) Op() Op        { return JanitorRmdir }
func (Unlink) Op() Op       { return JanitorUnlink }
func (Umount) Op() Op       { return JanitorUmount }
func (Kill) Op() Op         { return JanitorKill }

func (Setsid) String() string        { return "setsid" }
func (s Unshare) String() string     { return "unshare " + cloneFlags(s.Flags) }
func (s Setns) String() string       { return "setns " + s.Path + " " + cloneFlags(s.NSType) }
func (s SetnsPidfd) String() string  { return "setns pidfd " + cloneFlags(s.NSTypes) }
func (s Write) String() string       { return "write " + s.Path + " " + strconv.Quote(s.Data) }
func (s Hostname) String() string    { return "hostname " + s.Name }
func (s Domainname) String() string  { return "domainname " + s.Name }
func (Loopback) String() string      { return "loopback up" }
func (s Propagation) String() string { return "propagation / " + flagNames(s.Flags, msFlags) }
func (s BasePivot) String() string   { return "base-pivot " + s.Dir }
func (s Root) String() string {
	if s.Tmpfs {
		return "root " + s.Path + " tmpfs"
	}
	return "root " + s.Path + " bind"
}
func (s Symlink) String() string  { return "symlink " + s.Link + " -> " + s.Target }
func (s Mask) String() string     { return "mask " + s.Path }
func (s Readonly) String() string { return "readonly " + s.Path }
func (s TTY) String() string {
	if s.Rows == 0 && s.Cols == 0 {
		return "tty"
	}
	return fmt.Sprintf("tty %dx%d", s.Rows, s.Cols)
}
func (Pivot) String() string        { return "pivot" }
func (NoPivot) String() string      { return "no-pivot" }
func (s Detach) String() string     { return "detach " + s.Path }
func (RootReadonly) String() string { return "root-readonly" }
func (RootNodev) String() string    { return "root-nodev" }
func (s Chdir) String() string      { return "chdir " + s.Dir }
func (s Chroot) String() string     { return "chroot " + s.Dir }
func (NoNewPrivs) String() string   { return "no-new-privs" }
func (s Seccomp) String() string {
	return fmt.Sprintf("seccomp %d instructions flags=%#x", len(s.Filter)/8, s.Flags)
}
func (s Arg) String() string { return "arg " + strconv.Quote(s.Arg) }
func (s Env) String() string { return "env " + strconv.Quote(s.KV) }
func (s Exec) String() string {
	if s.Init {
		return "exec under init"
	}
	return "exec as pid 1"
}
func (h Hook) String() string {
	s := "hook " + h.Name + " " + h.Path + " args=" + strconv.Quote(strings.Join(h.Args, " "))
	if h.Timeout > 0 {
		s += fmt.Sprintf(" timeout=%ds", h.Timeout)
	}
	if h.Start {
		s += " at start"
	}
	return s
}
func (s Rmdir) String() string  { return "rmdir " + s.Path }
func (s Unlink) String() string { return "unlink " + s.Path }
func (s Umount) String() string { return "umount " + s.Path }
func (s Kill) String() string   { return "kill cgroup " + s.Dir }

func (m Mount) String() string {
	var b strings.Builder
	if m.Flags&unix.MS_BIND != 0 {
		b.WriteString("bind " + m.Source + " on " + m.Target)
	} else {
		b.WriteString("mount " + m.FSType + " " + m.Source + " on " + m.Target)
	}
	if f := m.Flags &^ unix.MS_BIND; f != 0 {
		b.WriteString(" flags=" + flagNames(f, msFlags))
	}
	if m.Data != "" {
		b.WriteString(" data=" + m.Data)
	}
	if m.Attr != 0 {
		b.WriteString(" attr=" + flagNames(m.Attr, attrFlags))
	}
	if m.Propagation != 0 {
		b.WriteString(" propagation=" + flagNames(m.Propagation, msFlags))
	}
	switch m.Point {
	case MountPointDir:
		b.WriteString(" point=dir")
	case MountPointFile:
		b.WriteString(" point=file")
	}
	return b.String()
}

func (o Overlay) String() string {
	s := "overlay-root " + o.Path + " lowers=" + strings.Join(o.Lowers, ":")
	if o.Options != "" {
		s += " options=" + o.Options
	}
	if o.Scratch != "" {
		s += " scratch=" + o.Scratch
	}
	return s
}

func (d Device) String() string {
	kind := "char"
	if d.Mode&unix.S_IFMT == unix.S_IFBLK {
		kind = "block"
	}
	return fmt.Sprintf("device %s %s %d:%d mode=%#o from %s", d.Path, kind,
		unix.Major(d.Rdev), unix.Minor(d.Rdev), d.Mode&07777, d.Host)
}

func (r Rlimit) String() string {
	return fmt.Sprintf("rlimit %s(%d) soft=%s hard=%s", r.Name, r.Resource, limit(r.Soft), limit(r.Hard))
}

func limit(v uint64) string {
	if v == ^uint64(0) {
		return "unlimited"
	}
	return strconv.FormatUint(v, 10)
}

func (u User) String() string {
	s := fmt.Sprintf("user uid=%d gid=%d", u.UID, u.GID)
	if u.SetGroups {
		s += fmt.Sprintf(" groups=%v", u.Groups)
	} else {
		s += " groups=unchanged"
	}
	if c := u.Caps; c != nil {
		s += fmt.Sprintf(" caps: bounding=%#x effective=%#x permitted=%#x inheritable=%#x ambient=%#x last=%d",
			c.Bounding, c.Effective, c.Permitted, c.Inheritable, c.Ambient, c.Last)
	} else {
		s += " caps=unchanged"
	}
	return s
}

type flagName struct {
	v    uint64
	name string
}

var cloneNames = []flagName{
	{unix.CLONE_NEWNS, "mount"}, {unix.CLONE_NEWUTS, "uts"}, {unix.CLONE_NEWIPC, "ipc"},
	{unix.CLONE_NEWUSER, "user"}, {unix.CLONE_NEWPID, "pid"}, {unix.CLONE_NEWNET, "net"},
	{unix.CLONE_NEWCGROUP, "cgroup"}, {unix.CLONE_NEWTIME, "time"},
}

var msFlags = []flagName{
	{unix.MS_RDONLY, "ro"}, {unix.MS_NOSUID, "nosuid"}, {unix.MS_NODEV, "nodev"},
	{unix.MS_NOEXEC, "noexec"}, {unix.MS_SYNCHRONOUS, "sync"}, {unix.MS_NOATIME, "noatime"},
	{unix.MS_NODIRATIME, "nodiratime"}, {unix.MS_BIND, "bind"}, {unix.MS_REC, "rec"},
	{unix.MS_UNBINDABLE, "unbindable"}, {unix.MS_PRIVATE, "private"}, {unix.MS_SLAVE, "slave"},
	{unix.MS_SHARED, "shared"}, {unix.MS_RELATIME, "relatime"}, {unix.MS_STRICTATIME, "strictatime"},
}

var attrFlags = []flagName{
	{unix.MOUNT_ATTR_RDONLY, "ro"}, {unix.MOUNT_ATTR_NOSUID, "nosuid"}, {unix.MOUNT_ATTR_NODEV, "nodev"},
	{unix.MOUNT_ATTR_NOEXEC, "noexec"}, {unix.MOUNT_ATTR_NOATIME, "noatime"},
}

func cloneFlags(v uint64) string {
	if v == 0 {
		return "any"
	}
	return flagNames(v, cloneNames)
}

func flagNames(v uint64, names []flagName) string {
	var out []string
	for _, n := range names {
		if v&n.v != 0 {
			out = append(out, n.name)
			v &^= n.v
		}
	}
	if v != 0 || len(out) == 0 {
		out = append(out, fmt.Sprintf("%#x", v))
	}
	return strings.Join(out, ",")
}

// Steps decodes the plan.
func (p *Plan) Steps() ([]Step, error) { return decode(p.e.buf, false) }

// Steps decodes the janitor's steps.
func (c *Cleanup) Steps() ([]Step, error) { return decode(c.e.buf, true) }

// String lists the plan's steps, one a line.
func (p *Plan) String() string { return listing(p.Steps()) }

// String lists the janitor's steps, one a line.
func (c *Cleanup) String() string { return listing(c.Steps()) }

func listing(steps []Step, err error) string {
	var b strings.Builder
	for _, s := range steps {
		b.WriteString(s.String())
		b.WriteByte('\n')
	}
	if err != nil {
		b.WriteString("error: " + err.Error() + "\n")
	}
	return b.String()
}

// record is one record being decoded.
type record struct {
	b   []byte
	err error
}

func (r *record) str(x ref) string {
	if uint64(x.off)+uint64(x.len)+1 > uint64(len(r.b)) || r.b[x.off+x.len] != 0 {
		r.err = fmt.Errorf("string at %d+%d outside its record of %d bytes", x.off, x.len, len(r.b))
		return ""
	}
	return string(r.b[x.off : x.off+x.len])
}

func (r *record) blob(x ref) []byte {
	if uint64(x.off)+uint64(x.len) > uint64(len(r.b)) {
		r.err = fmt.Errorf("bytes at %d+%d outside their record of %d bytes", x.off, x.len, len(r.b))
		return nil
	}
	return append([]byte(nil), r.b[x.off:x.off+x.len]...)
}

// fixed reads the record's fixed part into rec.
func fixed[R any](r *record) R {
	var rec R
	n := int(unsafe.Sizeof(rec))
	if len(r.b) < int(headerSize)+n {
		r.err = fmt.Errorf("record of %d bytes is shorter than its %d fixed bytes", len(r.b), int(headerSize)+n)
		return rec
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&rec)), n), r.b[headerSize:])
	return rec
}

func decode(buf []byte, janitor bool) ([]Step, error) {
	var steps []Step
	for off := 0; off < len(buf); {
		if len(buf)-off < int(headerSize) {
			return steps, fmt.Errorf("spawn: step %d: truncated header", len(steps))
		}
		op := Op(binary.NativeEndian.Uint32(buf[off:]))
		size := int(binary.NativeEndian.Uint32(buf[off+4:]))
		if size < int(headerSize) || size%8 != 0 || size > len(buf)-off {
			return steps, fmt.Errorf("spawn: step %d: bad size %d", len(steps), size)
		}
		r := &record{b: buf[off : off+size]}
		s := decodeStep(r, op, janitor)
		if s == nil {
			return steps, fmt.Errorf("spawn: step %d: unknown op %d", len(steps), op)
		}
		if r.err != nil {
			return steps, fmt.Errorf("spawn: step %d (%T): %w", len(steps), s, r.err)
		}
		steps = append(steps, s)
		off += size
	}
	return steps, nil
}

func decodeStep(r *record, op Op, janitor bool) Step {
	if janitor {
		path := r.str(fixed[pathRec](r).path)
		switch op {
		case JanitorRmdir:
			return Rmdir{path}
		case JanitorUnlink:
			return Unlink{path}
		case JanitorUmount:
			return Umount{path}
		case JanitorKill:
			return Kill{path}
		}
		return nil
	}
	switch op {
	case OpSetsid:
		return Setsid{}
	case OpUnshare:
		return Unshare{fixed[unshareRec](r).flags}
	case OpSetns:
		x := fixed[setnsRec](r)
		return Setns{r.str(x.path), x.nstype}
	case OpSetnsPidfd:
		return SetnsPidfd{fixed[setnsPidfdRec](r).nstypes}
	case OpWrite:
		x := fixed[writeRec](r)
		return Write{r.str(x.path), r.str(x.data)}
	case OpHostname:
		return Hostname{r.str(fixed[nameRec](r).name)}
	case OpDomainname:
		return Domainname{r.str(fixed[nameRec](r).name)}
	case OpLoopback:
		return Loopback{}
	case OpPropagation:
		return Propagation{fixed[propagationRec](r).flags}
	case OpBasePivot:
		return BasePivot{r.str(fixed[pathRec](r).path)}
	case OpRoot:
		x := fixed[rootRec](r)
		return Root{r.str(x.path), x.tmpfs != 0}
	case OpMount:
		x := fixed[mountRec](r)
		return Mount{Source: r.str(x.source), Target: r.str(x.target), FSType: r.str(x.fstype), Flags: x.flags,
			Data: r.str(x.data), Attr: x.attr, Propagation: x.propagation, Point: MountPoint(x.point)}
	case OpSymlink:
		x := fixed[symlinkRec](r)
		return Symlink{r.str(x.target), r.str(x.link)}
	case OpMask:
		return Mask{r.str(fixed[pathRec](r).path)}
	case OpReadonly:
		return Readonly{r.str(fixed[pathRec](r).path)}
	case OpTTY:
		x := fixed[ttyRec](r)
		return TTY{uint16(x.rows), uint16(x.cols)}
	case OpPivot:
		return Pivot{}
	case OpNoPivot:
		return NoPivot{}
	case OpDetach:
		return Detach{r.str(fixed[pathRec](r).path)}
	case OpRootReadonly:
		return RootReadonly{}
	case OpRootNodev:
		return RootNodev{}
	case OpChdir:
		return Chdir{r.str(fixed[pathRec](r).path)}
	case OpChroot:
		return Chroot{r.str(fixed[pathRec](r).path)}
	case OpRlimit:
		x := fixed[rlimitRec](r)
		return Rlimit{Resource: x.resource, Name: r.str(x.name), Soft: x.soft, Hard: x.hard}
	case OpUser:
		x := fixed[userRec](r)
		u := User{UID: x.uid, GID: x.gid, SetGroups: x.setGroups != 0}
		g := r.blob(x.groups)
		for i := 0; i+4 <= len(g); i += 4 {
			u.Groups = append(u.Groups, binary.NativeEndian.Uint32(g[i:]))
		}
		if u.Groups == nil {
			u.Groups = []uint32{}
		}
		if x.setCaps != 0 {
			u.Caps = &Caps{Bounding: x.bounding, Effective: x.effective, Permitted: x.permitted,
				Inheritable: x.inheritable, Ambient: x.ambient, Last: x.lastCap}
		}
		return u
	case OpNoNewPrivs:
		return NoNewPrivs{}
	case OpSeccomp:
		x := fixed[seccompRec](r)
		return Seccomp{r.blob(x.filter), x.flags}
	case OpArg:
		return Arg{r.str(fixed[pathRec](r).path)}
	case OpEnv:
		return Env{r.str(fixed[pathRec](r).path)}
	case OpExec:
		return Exec{fixed[execRec](r).init != 0}
	case OpDevice:
		x := fixed[deviceRec](r)
		return Device{Host: r.str(x.host), Path: r.str(x.path), Rdev: x.rdev, Mode: x.mode}
	case OpHook:
		x := fixed[hookRec](r)
		h := Hook{Name: r.str(x.name), Path: r.str(x.path), State: r.str(x.state), Timeout: x.timeout, Start: x.start != 0}
		split := func(b []byte) []string {
			if len(b) == 0 {
				return nil
			}
			return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
		}
		h.Args, h.Env = split(r.blob(x.args)), split(r.blob(x.env))
		return h
	case OpOverlayRoot:
		x := fixed[overlayRootRec](r)
		o := Overlay{Path: r.str(x.path), Options: r.str(x.options), Scratch: r.str(x.scratch)}
		if b := r.blob(x.lowers); len(b) > 0 {
			o.Lowers = strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
		}
		return o
	}
	return nil
}

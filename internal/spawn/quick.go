package spawn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"unsafe"
)

// QuickExec is a plain `nook exec SANDBOX COMMAND...` (no option but the
// state root) as Go worked it out, kept in the sandbox's directory
// (QuickExecFile) for the next such exec to replay before Go's runtime
// starts: nook's ELF entry point hands the process to entry.c, which
// starts the command from this with the same C child that Start uses, or,
// where anything below no longer holds or the child fails, returns and
// lets Go do the exec as usual. That saves the Go runtime's start and
// nook's own work, about half of the exec (README: Speed).
//
// Everything that decides what the command gets (its namespaces, cgroups,
// credentials, capabilities, seccomp filter, environment, working
// directory) is in Steps, compiled by Go as for any exec; the rest is
// what entry.c checks before it trusts them: that the files they came
// from are unchanged, that the caller is where it was, that init is the
// same process.
type QuickExec struct {
	// Init is the sandbox's init, with its start time (field 22 of
	// /proc/PID/stat): the process whose namespaces are joined (a pidfd
	// of it is the child's Config.NSProcess).
	Init      int
	InitStart uint64
	// Files are files of the sandbox's directory as they were when the
	// exec was compiled from them: replaced (a rename over them), they
	// have another inode, and the exec is Go's again.
	Files []QuickFile
	// Exe is the nook binary that compiled it (its Name unused): the
	// plan is this binary's, and another (an upgrade, say) compiles its
	// own.
	Exe QuickFile
	// Namespaces are the caller's (/proc/self/ns/NAME): which namespaces
	// the plan joins depends on which the caller shares with the sandbox.
	Namespaces []QuickNamespace
	// Devices are the character devices the command may be given as its
	// stdin, stdout or stderr without a device cgroup (DevicesHeld) to
	// hold it back; a terminal always may.
	Devices     []QuickDevice
	DevicesHeld bool
	// PidNS: the command is cloned into init's pid namespace
	// (Config.PidNS).
	PidNS bool
	// Signals are passed on to the command while it runs.
	Signals []syscall.Signal
	// CgroupDir is the v2 cgroup the command is cloned into
	// (Config.CgroupFD), CgroupTasks the v1 hierarchies' tasks files it
	// writes itself into (Config.CgroupTasks).
	CgroupDir   string
	CgroupTasks []string
	// Steps is the exec's plan with the command's arguments (OpArg
	// steps, all together) in it; entry.c puts its own in their place.
	Steps *Plan
}

// QuickFile is a file as stat(2) found it.
type QuickFile struct {
	Name             string // in the sandbox's directory, or the bundle
	Dev, Ino, Size   uint64
	MtimeSec, MtimeN int64
	CtimeSec, CtimeN int64
}

// QuickNamespace is a namespace of the caller's, by its /proc/self/ns
// name and inode.
type QuickNamespace struct {
	Name string
	Ino  uint64
}

// QuickDevice is a character device, or every minor of a major
// (AnyMinor).
type QuickDevice struct {
	Major, Minor uint32
}

// AnyMinor is QuickDevice's Minor for every minor (NOOK_QUICK_ANY_MINOR).
const AnyMinor = ^uint32(0)

// The file's format, as spawn.h has it (checked by TestLayoutMatchesC).
const (
	quickMagic       = 0x6b6f6f6e
	quickRunMagic    = 0x6e726b6e
	quickVersion     = 2
	quickMax         = 1 << 20
	quickPidNS       = 1
	quickDevHeld     = 2
	quickShareMemory = 4
)

type (
	// quickRec is struct nook_quick.
	quickRec struct {
		magic       uint32
		version     uint32
		size        uint64
		initPid     int32
		flags       uint32
		initStart   uint64
		signals     uint64
		exe         quickFileRec
		files       ref
		namespaces  ref
		devices     ref
		cgroupDir   ref
		cgroupTasks ref
		head        ref
		tail        ref
	}
	// quickFileRec is struct nook_quick_file.
	quickFileRec struct {
		name      ref
		dev       uint64
		ino       uint64
		size      uint64
		mtimeSec  int64
		mtimeNsec int64
		ctimeSec  int64
		ctimeNsec int64
	}
	// quickNSRec is struct nook_quick_ns.
	quickNSRec struct {
		name ref
		ino  uint64
	}
	// quickDevRec is struct nook_quick_dev.
	quickDevRec struct {
		major uint32
		minor uint32
	}
)

// Encode lays the exec out as entry.c reads it.
func (q *QuickExec) Encode() ([]byte, error) {
	if q.Steps == nil {
		return nil, errors.New("spawn: quick exec: no plan")
	}
	if err := q.Steps.Err(); err != nil {
		return nil, fmt.Errorf("spawn: quick exec: bad plan: %w", err)
	}
	head, tail, err := q.Steps.aroundArgs()
	if err != nil {
		return nil, err
	}
	if q.Init <= 0 || q.Init > 1<<31-1 || q.InitStart == 0 {
		return nil, fmt.Errorf("spawn: quick exec: init %d started at %d", q.Init, q.InitStart)
	}
	if len(q.CgroupTasks) > maxCgroups {
		return nil, fmt.Errorf("spawn: quick exec: %d cgroups to join, more than %d", len(q.CgroupTasks), maxCgroups)
	}
	w := &quickWriter{buf: make([]byte, unsafe.Sizeof(quickRec{}))}
	h := quickRec{magic: quickMagic, version: quickVersion, initPid: int32(q.Init), initStart: q.InitStart}
	if q.PidNS {
		h.flags |= quickPidNS
	}
	if q.DevicesHeld {
		h.flags |= quickDevHeld
	}
	if h.signals, err = signalSet(q.Signals); err != nil {
		return nil, err
	}
	file := func(f QuickFile) quickFileRec {
		return quickFile(w, f)
	}
	h.exe = file(q.Exe)
	files := make([]quickFileRec, len(q.Files))
	for i, f := range q.Files {
		files[i] = file(f)
	}
	nss := make([]quickNSRec, len(q.Namespaces))
	for i, ns := range q.Namespaces {
		nss[i] = quickNSRec{name: w.str(ns.Name), ino: ns.Ino}
	}
	devs := make([]quickDevRec, len(q.Devices))
	for i, d := range q.Devices {
		devs[i] = quickDevRec{major: d.Major, minor: d.Minor}
	}
	h.files = appendRecs(w, files)
	h.namespaces = appendRecs(w, nss)
	h.devices = appendRecs(w, devs)
	h.cgroupDir = w.str(q.CgroupDir)
	h.cgroupTasks = w.blob(strings0(w, q.CgroupTasks))
	h.head = w.blob(head)
	h.tail = w.blob(tail)
	return quickDone(w, &h, &h.size, "exec")
}

// quickDone puts the header h, its size field (*size) set, at the start
// of the file w wrote, and returns the file, or w's first error.
func quickDone[H any](w *quickWriter, h *H, size *uint64, what string) ([]byte, error) {
	if w.err != nil {
		return nil, w.err
	}
	if len(w.buf) > quickMax {
		return nil, fmt.Errorf("spawn: quick %s: %d bytes, more than %d", what, len(w.buf), quickMax)
	}
	*size = uint64(len(w.buf))
	copy(w.buf, unsafe.Slice((*byte)(unsafe.Pointer(h)), unsafe.Sizeof(*h)))
	return w.buf, nil
}

func quickFile(w *quickWriter, f QuickFile) quickFileRec {
	return quickFileRec{name: w.str(f.Name), dev: f.Dev, ino: f.Ino, size: f.Size,
		mtimeSec: f.MtimeSec, mtimeNsec: f.MtimeN, ctimeSec: f.CtimeSec, ctimeNsec: f.CtimeN}
}

func signalSet(sigs []syscall.Signal) (uint64, error) {
	var set uint64
	for _, s := range sigs {
		if s < 1 || s > 64 {
			return 0, fmt.Errorf("spawn: quick: signal %d", s)
		}
		set |= 1 << (s - 1)
	}
	return set, nil
}

// quickWriter appends a QuickExec's parts, each 8-byte aligned, and
// returns refs to them from the start of the file.
type quickWriter struct {
	buf []byte
	err error
}

func (w *quickWriter) align() {
	for len(w.buf)%8 != 0 {
		w.buf = append(w.buf, 0)
	}
}

func (w *quickWriter) blob(b []byte) ref {
	w.align()
	r := ref{off: uint32(len(w.buf)), len: uint32(len(b))}
	w.buf = append(w.buf, b...)
	return r
}

func (w *quickWriter) str(s string) ref {
	if strings.IndexByte(s, 0) >= 0 {
		w.err = fmt.Errorf("spawn: quick exec: %q contains a NUL byte", s)
	}
	r := w.blob([]byte(s))
	w.buf = append(w.buf, 0)
	return r
}

func appendRecs[R any](w *quickWriter, recs []R) ref {
	if len(recs) == 0 {
		return w.blob(nil)
	}
	size := int(unsafe.Sizeof(recs[0])) * len(recs)
	return w.blob(unsafe.Slice((*byte)(unsafe.Pointer(&recs[0])), size))
}

// aroundArgs splits the plan around its arguments: the steps before the
// first OpArg and after the last, which must have nothing else between
// them.
func (p *Plan) aroundArgs() (head, tail []byte, err error) {
	b := p.e.buf
	first, end := -1, -1
	for off := 0; off < len(b); {
		if len(b)-off < int(headerSize) {
			return nil, nil, errors.New("spawn: quick exec: plan cut short")
		}
		op := Op(binary.NativeEndian.Uint32(b[off:]))
		size := int(binary.NativeEndian.Uint32(b[off+4:]))
		if size < int(headerSize) || size > len(b)-off {
			return nil, nil, errors.New("spawn: quick exec: plan cut short")
		}
		switch {
		case op == OpArg && (first < 0 || end == off):
			if first < 0 {
				first = off
			}
			end = off + size
		case op == OpArg:
			return nil, nil, errors.New("spawn: quick exec: the arguments are not together")
		}
		off += size
	}
	if first < 0 {
		return nil, nil, errors.New("spawn: quick exec: no arguments")
	}
	return b[:first], b[end:], nil
}

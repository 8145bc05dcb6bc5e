package spawn

import (
	"errors"
	"fmt"
	"path/filepath"
	"syscall"
	"unsafe"
)

// QuickRun is a plain `nook run --bundle DIR ID` (no option but the state
// root) as Go worked it out, kept in the state root (QuickRunFile) for the
// next run of the same bundle and ID to replay before Go's runtime starts:
// entry.c makes the cgroups as listed here, clones the same C child with
// Steps and the same janitor with Cleanup, waits for the command and exits
// with its status. Where anything below no longer holds, where a cgroup
// cannot be made or the child fails before its command, it cleans up and
// lets Go do the run as usual.
//
// The run's plan depends on config.json (Config: the same inode, size and
// times), on the binary that compiled it (Exe), on the namespaces the
// caller is in and on what its stdin, stdout and stderr are (a device
// among them can decide whether the sandbox needs a device cgroup);
// entry.c checks each before it trusts the rest.
type QuickRun struct {
	// Bundle is the bundle's absolute, clean path, and ID the
	// container's, as the command line gives them.
	Bundle, ID  string
	Exe, Config QuickFile
	Namespaces  []QuickNamespace
	Stdio       [3]QuickStdio
	// Signals are passed on to the command while it runs.
	Signals []syscall.Signal
	// CloneFlags are the child's new namespaces (CLONE_NEW*); with
	// ShareMemory it shares the entry's memory (CLONE_VM).
	CloneFlags  uint64
	ShareMemory bool
	// Checks are files that must hold every (space-separated) word of
	// their Data before anything is made: the shared v2 parent's
	// controllers. Mkdirs are the cgroups made, in order (each must not
	// exist yet), Programs the v2 device programs (struct bpf_insn[])
	// attached to them right after, and Writes the files written in them.
	Checks   []QuickWrite
	Mkdirs   []string
	Programs []QuickWrite
	Writes   []QuickWrite
	// CgroupDir is the v2 cgroup the child is cloned into, CgroupTasks the
	// v1 hierarchies' tasks files it writes itself into.
	CgroupDir   string
	CgroupTasks []string
	Cleanup     *Cleanup
	Steps       *Plan
}

// QuickStdio is what one of fds 0-2 was: a device (Kind StdioChar or
// StdioBlock, and its number) or anything else that is open.
type QuickStdio struct {
	Kind uint32
	Rdev uint64
}

// The kinds of QuickStdio (enum nook_quick_stdio_kind).
const (
	StdioOther = 0
	StdioChar  = 1
	StdioBlock = 2
)

// QuickWrite is a file written while the cgroups are made.
type QuickWrite struct {
	Path string
	Data []byte
}

type (
	// quickRunRec is struct nook_quick_run.
	quickRunRec struct {
		magic       uint32
		version     uint32
		size        uint64
		flags       uint32
		pad         uint32
		cloneFlags  uint64
		signals     uint64
		exe         quickFileRec
		config      quickFileRec
		stdio       [3]quickStdioRec
		bundle      ref
		id          ref
		namespaces  ref
		checks      ref
		mkdirs      ref
		programs    ref
		writes      ref
		cgroupDir   ref
		cgroupTasks ref
		cleanup     ref
		steps       ref
	}
	// quickStdioRec is struct nook_quick_stdio.
	quickStdioRec struct {
		rdev uint64
		kind uint32
		pad  uint32
	}
	// quickWriteRec is struct nook_quick_write.
	quickWriteRec struct {
		path ref
		data ref
	}
)

// quickRunSlots is how many prepared runs a state root keeps: one per
// bundle, in the slot its path hashes to, so that a bundle used once and
// never again costs one file among these, not one more file.
const quickRunSlots = 256

// QuickRunFile is the path, in the state root, of the run entry.c looks
// for when it is given bundle (as entry.c's run_file names it).
func QuickRunFile(root, bundle string) string {
	h := uint64(0xcbf29ce484222325)
	for i := 0; i < len(bundle); i++ {
		h ^= uint64(bundle[i])
		h *= 0x100000001b3
	}
	return filepath.Join(root, QuickRunDir(), fmt.Sprintf("run-%02x", h%quickRunSlots))
}

// QuickRunDir is the directory of a state root that holds prepared runs,
// as entry.c has it.
func QuickRunDir() string { return childString(childText().RunDir) }

// Encode lays the run out as entry.c reads it.
func (q *QuickRun) Encode() ([]byte, error) {
	if q.Steps == nil || q.Cleanup == nil {
		return nil, errors.New("spawn: quick run: no plan or no cleanup")
	}
	if err := q.Steps.Err(); err != nil {
		return nil, fmt.Errorf("spawn: quick run: bad plan: %w", err)
	}
	if err := q.Cleanup.Err(); err != nil {
		return nil, fmt.Errorf("spawn: quick run: bad cleanup: %w", err)
	}
	if len(q.Steps.Bytes()) == 0 || !filepath.IsAbs(q.Bundle) || filepath.Clean(q.Bundle) != q.Bundle || q.ID == "" {
		return nil, fmt.Errorf("spawn: quick run: bundle %q, ID %q", q.Bundle, q.ID)
	}
	if len(q.CgroupTasks) > maxCgroups || len(q.Mkdirs) > maxCgroups {
		return nil, fmt.Errorf("spawn: quick run: %d cgroups to join and %d to make, more than %d", len(q.CgroupTasks), len(q.Mkdirs), maxCgroups)
	}
	w := &quickWriter{buf: make([]byte, unsafe.Sizeof(quickRunRec{}))}
	h := quickRunRec{magic: quickRunMagic, version: quickVersion, cloneFlags: q.CloneFlags}
	if q.ShareMemory {
		h.flags |= quickShareMemory
	}
	var err error
	if h.signals, err = signalSet(q.Signals); err != nil {
		return nil, err
	}
	h.exe = quickFile(w, q.Exe)
	h.config = quickFile(w, q.Config)
	for i, s := range q.Stdio {
		if s.Kind > StdioBlock {
			return nil, fmt.Errorf("spawn: quick run: fd %d of kind %d", i, s.Kind)
		}
		h.stdio[i] = quickStdioRec{rdev: s.Rdev, kind: s.Kind}
	}
	h.bundle = w.str(q.Bundle)
	h.id = w.str(q.ID)
	nss := make([]quickNSRec, len(q.Namespaces))
	for i, ns := range q.Namespaces {
		nss[i] = quickNSRec{name: w.str(ns.Name), ino: ns.Ino}
	}
	h.namespaces = appendRecs(w, nss)
	h.checks = quickWrites(w, q.Checks)
	h.mkdirs = w.blob(strings0(w, q.Mkdirs))
	for _, p := range q.Programs {
		if len(p.Data) == 0 || len(p.Data)%8 != 0 {
			return nil, fmt.Errorf("spawn: quick run: a device program of %d bytes", len(p.Data))
		}
	}
	h.programs = quickWrites(w, q.Programs)
	h.writes = quickWrites(w, q.Writes)
	h.cgroupDir = w.str(q.CgroupDir)
	h.cgroupTasks = w.blob(strings0(w, q.CgroupTasks))
	h.cleanup = w.blob(q.Cleanup.Bytes())
	h.steps = w.blob(q.Steps.Bytes())
	return quickDone(w, &h, &h.size, "run")
}

// quickWrites appends ws' paths and data, then their records.
func quickWrites(w *quickWriter, ws []QuickWrite) ref {
	recs := make([]quickWriteRec, len(ws))
	for i, wr := range ws {
		recs[i] = quickWriteRec{path: w.str(wr.Path), data: w.blob(wr.Data)}
	}
	return appendRecs(w, recs)
}

// strings0 is ss, each NUL-terminated, one after another.
func strings0(w *quickWriter, ss []string) []byte {
	var b []byte
	for _, s := range ss {
		if s == "" {
			w.err = errors.New("spawn: quick: an empty path")
		}
		for i := 0; i < len(s); i++ {
			if s[i] == 0 {
				w.err = fmt.Errorf("spawn: quick: %q contains a NUL byte", s)
			}
		}
		b = append(append(b, s...), 0)
	}
	return b
}

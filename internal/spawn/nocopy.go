//go:build linux && amd64

package spawn

import (
	"bytes"
	"os"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A child that cannot share nook's memory (Config.ShareMemory off, or a
// held child) gets a copy of it from clone3, and a copy of a Go process
// is dear for both sides: the kernel copies the page tables of every
// writable mapping (Go's heap, its stacks, the binary's data), marks
// every page of them read-only, and from then on each page nook writes
// takes a copy-on-write fault, and a TLB shootdown while the child runs
// on the other CPU. Measured in `nook batch` (2 at a time, memory
// limits on, which turn sharing off), those faults and the copy took
// about 3 of the 8.7 ms of CPU each sandbox cost (perf, 1,000 runs).
//
// The child needs none of it: it runs the C code in nook's text on its
// own block (stack, thread control block, arguments and plan), and
// touches nothing of Go's. So for the clone, nook marks every writable
// private mapping but the block MADV_DONTFORK, and unmarks them after:
// the child's copy then holds the block, the text and the read-only
// data, and its memory (what the OOM killer weighs, were it init under
// a memory limit) is its own few pages.
//
// The marks are undone at once because they would break a fork of nook
// that does need its memory: Go's os/exec forks without CLONE_VM where
// it creates a user namespace (nook never asks it to); and they are not
// made at all in a program built with cgo (nocopy_cgo.go). Two clones at
// once may undo each other's marks: the later one then copies more than
// it had to, which costs time, never correctness.

// writableMappings returns the [start, end) ranges of this process's
// writable private mappings that do not overlap keep, from
// /proc/self/maps.
func writableMappings(keep []byte) ([][2]uintptr, error) {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return nil, err
	}
	kStart := uintptr(0)
	kEnd := uintptr(0)
	if len(keep) > 0 {
		kStart = uintptr(unsafe.Pointer(unsafe.SliceData(keep)))
		kEnd = kStart + uintptr(len(keep))
	}
	var out [][2]uintptr
	for line := range bytes.SplitSeq(maps, []byte{'\n'}) {
		// start-end perms offset dev inode [path]
		addrs, rest, ok := bytes.Cut(line, []byte{' '})
		if !ok || len(rest) < 4 || rest[1] != 'w' || rest[3] != 'p' {
			continue
		}
		lo, hi, ok := bytes.Cut(addrs, []byte{'-'})
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(string(lo), 16, 64)
		end, err2 := strconv.ParseUint(string(hi), 16, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		if uintptr(start) < kEnd && kStart < uintptr(end) {
			continue
		}
		out = append(out, [2]uintptr{uintptr(start), uintptr(end)})
	}
	return out, nil
}

// keepFromFork marks the writable private mappings but keep
// MADV_DONTFORK, so that a clone without CLONE_VM copies nothing of
// them; the function it returns unmarks them. Marking is an
// optimisation: a mapping that cannot be marked (it changed under us,
// or the kernel refuses) is copied as before.
func keepFromFork(keep []byte) (undo func()) {
	if libcThreads {
		return func() {}
	}
	ranges, err := writableMappings(keep)
	if err != nil {
		return func() {}
	}
	marked := ranges[:0]
	for _, r := range ranges {
		if madvise(r[0], r[1]-r[0], unix.MADV_DONTFORK) == nil {
			marked = append(marked, r)
		}
	}
	return func() {
		for _, r := range marked {
			madvise(r[0], r[1]-r[0], unix.MADV_DOFORK)
		}
	}
}

// madvise on a range given by address: the ranges are not Go memory
// that unix.Madvise's []byte could describe.
func madvise(addr, length uintptr, advice int) error {
	_, _, e := unix.RawSyscall(unix.SYS_MADVISE, addr, length, uintptr(advice))
	if e != 0 {
		return e
	}
	return nil
}

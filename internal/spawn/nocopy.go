//go:build linux && amd64

package spawn

import (
	"bytes"
	"os"
	"strconv"
	"sync"
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
// made at all in a program built with cgo (nocopy_cgo.go).
//
// Clones may run at once (`nook batch` prepares sandboxes in parallel),
// and the marks are the process's, not one clone's: one clone's marks
// would cover the block of another, whose child would then start without
// its stack. So the blocks being cloned are registered (forkBlocks), no
// clone marks a mapping that holds one of them, and a clone unmarks its
// own block before it registers it, in case an earlier clone marked it
// before it was registered. A clone's undo may clear marks another clone
// still relies on: that one then copies more than it had to, which costs
// time, never correctness. The registry is the one piece of package
// state here because the address space it guards is the process's.

// forkBlocks are the blocks of the clones between keepFromFork and its
// undo, by start address, with their end: no clone may mark them.
var forkBlocks = struct {
	sync.Mutex
	live map[uintptr]uintptr
}{live: map[uintptr]uintptr{}}

// writableMappings returns the [start, end) ranges of this process's
// writable private mappings that overlap none of keep, from
// /proc/self/maps.
func writableMappings(keep map[uintptr]uintptr) ([][2]uintptr, error) {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return nil, err
	}
	var out [][2]uintptr
lines:
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
		for kStart, kEnd := range keep {
			if uintptr(start) < kEnd && kStart < uintptr(end) {
				continue lines
			}
		}
		out = append(out, [2]uintptr{uintptr(start), uintptr(end)})
	}
	return out, nil
}

// keepFromFork marks the writable private mappings but those of block,
// and of every other block being cloned, MADV_DONTFORK, so that a clone
// without CLONE_VM copies nothing of them; the function it returns
// unmarks them. Marking is an optimisation: a mapping that cannot be
// marked (it changed under us, or the kernel refuses) is copied as
// before. Unmarking the block itself is not: its child runs on it.
func keepFromFork(block []byte) (undo func(), err error) {
	if libcThreads || len(block) == 0 {
		return func() {}, nil
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(block)))
	end := start + uintptr(len(block))
	forkBlocks.Lock()
	defer forkBlocks.Unlock()
	// a clone that began before this block was registered may have
	// marked it
	if err := madvise(start, end-start, unix.MADV_DOFORK); err != nil {
		return nil, &os.SyscallError{Syscall: "madvise MADV_DOFORK of the child's block", Err: err}
	}
	forkBlocks.live[start] = end
	ranges, err := writableMappings(forkBlocks.live)
	if err != nil {
		ranges = nil
	}
	marked := ranges[:0]
	for _, r := range ranges {
		if madvise(r[0], r[1]-r[0], unix.MADV_DONTFORK) == nil {
			marked = append(marked, r)
		}
	}
	return func() {
		forkBlocks.Lock()
		defer forkBlocks.Unlock()
		delete(forkBlocks.live, start)
		for _, r := range marked {
			madvise(r[0], r[1]-r[0], unix.MADV_DOFORK)
		}
	}, nil
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

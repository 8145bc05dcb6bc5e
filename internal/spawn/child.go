//go:build linux && amd64

package spawn

import (
	"fmt"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The records Go hands the C child (spawn.h), checked against the C
// compiler's layout by TestLayoutMatchesC.
type (
	// spawnArgs is struct nook_spawn: what the child reads.
	spawnArgs struct {
		Ops           uint64 // const unsigned char *
		OpsLen        uint64
		NofileCur     uint64
		NofileMax     uint64
		RestoreNofile int32
		SyncFD        int32
		ErrFD         int32
		TTYSock       int32
		StatusFD      int32
		Orphan        int32
		HoldFD        int32
		StartErrFD    int32
		NSPidFD       int32
		NetFD         int32
		NCgroupTasks  int32
		CgroupTasks   [maxCgroups]int32
		NFDs          int32
		FDs           [maxFDs]int32
	}
	// janitorArgs is struct nook_janitor.
	janitorArgs struct {
		Lifeline int32
		PidFD    int32
		Jops     uint64 // const unsigned char *
		JopsLen  uint64
	}
	// tlsBlock is struct nook_tls, where the child's thread pointer
	// points: its errno.
	tlsBlock struct {
		Self uint64 // struct nook_tls *
		Err  int32
		Pad  int32
	}
)

// cloneArgs is the kernel's struct clone_args.
type cloneArgs struct {
	flags, pidfd, childTID, parentTID, exitSignal, stack, stackSize, tls, setTID, setTIDSize, cgroup uint64
}

// childHeader opens the C child's code (nook_child in
// child_linux_amd64.syso, built by mkchild.sh): where its entry points
// and its step-size table lie, as offsets from the header.
type childHeader struct {
	ChildMain   uint64 // void nook_child_main(struct nook_spawn *)
	JanitorMain uint64 // int nook_janitor_main(struct nook_janitor *)
	StepSize    uint64 // const uint32_t nook_step_size[NOOK_OP_MAX]
	EntryMain   uint64 // void nook_entry_main(uint64_t *sp): entry_amd64.s reads it at 24
	QuickFile   uint64 // const char nook_quick_file[]
	NamesDir    uint64 // const char nook_names_dir[]
	DefaultRoot uint64 // const char nook_default_root[]
	RunDir      uint64 // const char nook_run_dir[]
}

// childString reads a NUL-terminated string of the C child's at off.
func childString(off uint64) string {
	p := (*byte)(unsafe.Add(unsafe.Pointer(childText()), off))
	return unix.BytePtrToString(p)
}

// startNofile is RLIMIT_NOFILE as nook started with it: nook's ELF entry
// point (entry_amd64.s) reads it before Go's runtime starts, and so before
// package syscall's init raises the soft limit to one below the hard,
// which children that Go starts itself get back (syscall.StartProcess)
// and a child cloned here would not. Zero in a binary linked without the
// entry point (go test), whose children keep the raised limit.
var startNofile struct{ cur, max uint64 }

// nofileToRestore returns startNofile where Go's runtime raised the limit
// since, and nothing else changed it: Go's own test before it restores
// the limit in a child (its raise is to max-1, so that a change by
// prlimit from outside shows).
func nofileToRestore() (cur, max uint64, ok bool) {
	orig := startNofile
	if orig.max == 0 || orig.cur+1 >= orig.max {
		return 0, 0, false // never raised
	}
	var now unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &now) != nil || now.Max != orig.max || now.Cur != orig.max-1 {
		return 0, 0, false
	}
	return orig.cur, orig.max, true
}

// childText returns the address of nook_child (clone_amd64.s).
func childText() *childHeader

func childEntry() uintptr {
	h := childText()
	return uintptr(unsafe.Pointer(h)) + uintptr(h.ChildMain)
}

func janitorEntry() uintptr {
	h := childText()
	return uintptr(unsafe.Pointer(h)) + uintptr(h.JanitorMain)
}

// rawClone3 clones with every signal blocked on the calling thread (the
// new process must not run a Go signal handler before it has reset
// them); the new process calls entry(arg) on the stack that args names,
// in C's calling convention, and exits with its result. It returns the
// pid or -errno.
//
//go:noescape
func rawClone3(args *cloneArgs, size uintptr, entry uintptr, arg uintptr) int64

const (
	// childStackSize is the child's stack. Its deepest use is init's:
	// nook_child_main's frame (70 KiB, mostly struct child's argument
	// lists), then nook_exec's with the 64 KiB stack the command is
	// cloned onto: about 140 KiB in all (gcc -fstack-usage). Only the
	// pages touched are ever faulted in.
	childStackSize = 384 << 10
	// janitorStackSize is the janitor's: a few path buffers.
	janitorStackSize = 64 << 10
	guardSize        = 4096
)

// block is memory the child or the janitor runs on, mapped outside Go's
// heap: the child may write to it while Go runs, and it lives as long as
// the process on it, not as long as Go references it. Its layout:
//
//	[guard page | stack, growing down | struct | ops]
type block struct {
	mem    []byte
	top    int // the stack's top (16-byte aligned), where the struct begins
	opsOff int
}

func newBlock(stack, structSize, opsLen int) (*block, error) {
	top := guardSize + stack
	opsOff := top + (structSize+15)&^15
	size := (opsOff + opsLen + guardSize - 1) &^ (guardSize - 1)
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_STACK)
	if err != nil {
		return nil, fmt.Errorf("spawn: map %d bytes for the child: %w", size, err)
	}
	// a stack overflow faults instead of writing over whatever lies below
	if err := unix.Mprotect(mem[:guardSize], unix.PROT_NONE); err != nil {
		unix.Munmap(mem)
		return nil, fmt.Errorf("spawn: guard page: %w", err)
	}
	return &block{mem: mem, top: top, opsOff: opsOff}, nil
}

// newChildBlock: the struct is the child's thread control block, then
// its arguments.
func newChildBlock(opsLen int) (*block, error) {
	return newBlock(childStackSize, int(unsafe.Sizeof(tlsBlock{})+unsafe.Sizeof(spawnArgs{})), opsLen)
}

func newJanitorBlock(opsLen int) (*block, error) {
	return newBlock(janitorStackSize, int(unsafe.Sizeof(janitorArgs{})), opsLen)
}

func (b *block) addr(off int) uintptr { return uintptr(unsafe.Pointer(&b.mem[off])) }

func (b *block) tls() *tlsBlock { return (*tlsBlock)(unsafe.Pointer(&b.mem[b.top])) }

func (b *block) args() *spawnArgs {
	return (*spawnArgs)(unsafe.Pointer(&b.mem[b.top+int(unsafe.Sizeof(tlsBlock{}))]))
}

func (b *block) janitor() *janitorArgs { return (*janitorArgs)(unsafe.Pointer(&b.mem[b.top])) }

func (b *block) ops(n int) []byte { return b.mem[b.opsOff : b.opsOff+n] }

func (b *block) free() {
	if b != nil && b.mem != nil {
		unix.Munmap(b.mem)
		b.mem = nil
	}
}

// cloneChild clones the child into its namespaces (and its cgroup, on
// v2: CLONE_INTO_CGROUP), onto its block: with CLONE_VM it shares nook's
// memory, otherwise it runs on its copy of the block. It returns the
// child's pid and pidfd.
func cloneChild(b *block, flags uint64, cgroupFD int, share bool) (pid, pidfd int, err error) {
	t := b.tls()
	t.Self = uint64(b.addr(b.top))
	t.Err = 0
	if !share {
		undo, err := keepFromFork(b.mem)
		if err != nil {
			return 0, -1, err
		}
		defer undo()
	}
	// the kernel writes the pidfd to this address: it must not move,
	// and a value on the goroutine's stack moves whenever the stack
	// grows (the uintptr below would then name the old stack). Pinned,
	// it lives on the heap, where nothing moves it.
	out := new(int32)
	var pin runtime.Pinner
	pin.Pin(out)
	defer pin.Unpin()
	a := &cloneArgs{
		flags:      flags | unix.CLONE_PIDFD | unix.CLONE_SETTLS,
		pidfd:      uint64(uintptr(unsafe.Pointer(out))),
		exitSignal: uint64(unix.SIGCHLD),
		stack:      uint64(b.addr(guardSize)),
		stackSize:  uint64(b.top - guardSize),
		tls:        uint64(b.addr(b.top)),
	}
	if share {
		a.flags |= unix.CLONE_VM
	}
	if cgroupFD >= 0 {
		a.flags |= unix.CLONE_INTO_CGROUP
		a.cgroup = uint64(cgroupFD)
	}
	r := rawClone3(a, unsafe.Sizeof(*a), childEntry(), b.addr(b.top+int(unsafe.Sizeof(tlsBlock{}))))
	if r < 0 {
		return 0, -1, syscall.Errno(-r)
	}
	return int(r), int(*out), nil
}

// cloneJanitor clones the janitor: nook's memory, nook's thread pointer
// (it never uses one), and no namespace of its own.
func cloneJanitor(b *block) (int, error) {
	a := &cloneArgs{
		flags:      unix.CLONE_VM,
		exitSignal: uint64(unix.SIGCHLD),
		stack:      uint64(b.addr(guardSize)),
		stackSize:  uint64(b.top - guardSize),
	}
	r := rawClone3(a, unsafe.Sizeof(*a), janitorEntry(), b.addr(b.top))
	if r < 0 {
		return 0, syscall.Errno(-r)
	}
	return int(r), nil
}

// QuickExecFile is the name, in a sandbox's directory, of the exec that
// entry.c replays (QuickExec), as entry.c has it.
func QuickExecFile() string { return childString(childText().QuickFile) }

// EntryNamesDir is the directory of a state root in which entry.c looks
// a sandbox's name up, and EntryDefaultRoot the root it reads without
// --root: the state package's, which the container package's tests hold
// them to.
func EntryNamesDir() string { return childString(childText().NamesDir) }

// EntryDefaultRoot: see EntryNamesDir.
func EntryDefaultRoot() string { return childString(childText().DefaultRoot) }

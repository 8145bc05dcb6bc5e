package cgroups

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"strings"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Device control on cgroup v2
//
// cgroup v2 has no devices controller. Instead, the kernel runs the eBPF
// programs of type BPF_PROG_TYPE_CGROUP_DEVICE attached to a task's cgroup
// (and, where they were attached with BPF_F_ALLOW_MULTI, to its ancestors)
// whenever the task opens or mknods a device node; access is granted only if
// every program returns 1. nook compiles the canonical policy (devices.go)
// into one such program: straight-line code, no maps, no helpers, one block
// of at most seven instructions per exception (47 instructions for nook's
// default rules).
//
// It is attached with plain BPF_PROG_ATTACH, not a bpf_link (which would
// detach the program when its file descriptor is closed): the attachment
// holds a reference to the program, so nook closes its descriptor right
// away, and removing the cgroup detaches and frees it.
//
// Cost, measured on a 2-vCPU virtual machine (kernel 6.18): compiling takes
// 2 to 7 µs; BPF_PROG_LOAD 150 to 170 µs, about as much for a two-instruction
// program (the kernel's fixed cost of verifying, JIT-compiling and publishing
// a program, not the program's size), and 300 to 500 µs for a process's
// first load; BPF_PROG_ATTACH 20 to 40 µs, plus about 120 µs where no other
// cgroup device program is attached on the host (the kernel then patches a
// static branch; systemd attaches such programs on v2 hosts).

// progAttachAttr is the BPF_PROG_ATTACH part of union bpf_attr. The kernel
// accepts any attr size up to its own, zero-extending shorter ones.
type progAttachAttr struct {
	targetFD     uint32
	attachBPFFD  uint32
	attachType   uint32
	attachFlags  uint32
	replaceBPFFD uint32
}

// AttachDevices enforces the OCI device rules on the cgroup v2 directory
// dir: it compiles them (semantics: see devices.go; runc's, last match wins)
// into a BPF_PROG_TYPE_CGROUP_DEVICE program and attaches it to dir with
// BPF_F_ALLOW_MULTI, so that the programs of dir's ancestors still apply.
// Attach before any process joins dir; the program stays attached until dir
// is removed. Rules that allow every device attach nothing. Malformed or
// ambiguous rules fail with ErrInvalid; if the kernel cannot load or attach
// the program (no eBPF, not privileged, an ancestor's program attached
// without BPF_F_ALLOW_MULTI or BPF_F_ALLOW_OVERRIDE) the error wraps
// ErrNotSupported and the kernel's errno. A dir that is not a cgroup v2
// directory fails with EBADF.
//
// Create does the same on cgroup v2 hosts (loading before and attaching
// right after it makes the cgroup); AttachDevices is for cgroups that nook
// does not create itself.
func AttachDevices(dir string, rules []specs.LinuxDeviceCgroup) error {
	_, prog, err := loadDevices(rules)
	if err == nil && prog >= 0 {
		err = attachDeviceProgram(dir, prog)
		unix.Close(prog)
	}
	if err != nil {
		return &LimitError{Limit: "devices", Err: err}
	}
	return nil
}

// loadDevices compiles and loads the program for rules and returns its
// instructions and file descriptor, or -1 (and no error) if the rules allow
// every device.
func loadDevices(rules []specs.LinuxDeviceCgroup) (code []byte, fd int, err error) {
	p, err := canonDevices(rules)
	if err != nil || p.allowsAll() {
		return nil, -1, err
	}
	code = deviceProgram(p)
	fd, err = loadDeviceProgram(code)
	return code, fd, err
}

// eBPF instruction encoding (include/uapi/linux/bpf.h, struct bpf_insn):
// the few opcodes deviceProgram uses. Registers: R0 return value, R1 the
// context.
const (
	bpfLdxMemW   = 0x61 // BPF_LDX | BPF_MEM | BPF_W: dst = *(u32 *)(src + off)
	bpfMov32Reg  = 0xbc // BPF_ALU | BPF_MOV | BPF_X: dst = (u32)src
	bpfMov32Imm  = 0xb4 // BPF_ALU | BPF_MOV | BPF_K: dst = (u32)imm
	bpfRsh32Imm  = 0x74 // BPF_ALU | BPF_RSH | BPF_K: dst = (u32)dst >> imm
	bpfAnd32Imm  = 0x54 // BPF_ALU | BPF_AND | BPF_K: dst = (u32)dst & imm
	bpfJneImm    = 0x55 // BPF_JMP | BPF_JNE | BPF_K: if dst != imm goto pc+1+off
	bpfJsetImm   = 0x45 // BPF_JMP | BPF_JSET | BPF_K: if dst & imm goto pc+1+off
	bpfJa        = 0x05 // BPF_JMP | BPF_JA: goto pc+1+off
	bpfExit      = 0x95 // BPF_JMP | BPF_EXIT: return R0
	bpfInsnBytes = 8
)

type bpfInsn struct {
	op       uint8
	dst, src uint8
	off      int16
	imm      int32
}

// deviceProgram compiles p into the bytecode of a BPF_PROG_TYPE_CGROUP_DEVICE
// program. The context is
//
//	struct bpf_cgroup_dev_ctx {
//		__u32 access_type; /* (access << 16) | type */
//		__u32 major;
//		__u32 minor;
//	};
//
// and the program returns 1 to allow, 0 to deny. Registers: R2 type, R3
// access, R4 major, R5 minor. Each exception is one block that either
// returns its verdict or falls through to the next block; the last block
// returns the default. The layout is runc's (opencontainers/cgroups
// devicefilter.go), with JSET for the access test.
//
// The instructions are encoded here rather than with cilium/ebpf/asm: that
// package's dependencies (its internal package: debug/elf, compress/gzip,
// internal/zstd, encoding/xml, go/parser, ...) add 0.6 to 1 ms of package
// initialisation and 650 kB to every nook binary and process, device rules
// or not (measured with GODEBUG=inittrace=1), for nine opcodes. The tests check this encoding
// against cilium/ebpf/asm and run the programs in an interpreter and in the
// kernel.
func deviceProgram(p devicePolicy) []byte {
	const next = -1 // placeholder offset: to the next block
	insns := make([]bpfInsn, 0, 8+7*len(p.except))
	ret := func(allow bool) {
		v := int32(0)
		if allow {
			v = 1
		}
		insns = append(insns, bpfInsn{op: bpfMov32Imm, dst: 0, imm: v}, bpfInsn{op: bpfExit})
	}
	insns = append(insns,
		bpfInsn{op: bpfLdxMemW, dst: 2, src: 1, off: 0},
		bpfInsn{op: bpfLdxMemW, dst: 4, src: 1, off: 4},
		bpfInsn{op: bpfLdxMemW, dst: 5, src: 1, off: 8},
		bpfInsn{op: bpfMov32Reg, dst: 3, src: 2},
		bpfInsn{op: bpfRsh32Imm, dst: 3, imm: 16},
		bpfInsn{op: bpfAnd32Imm, dst: 2, imm: 0xffff},
	)
	for _, e := range p.except {
		start := len(insns)
		insns = append(insns, bpfInsn{op: bpfJneImm, dst: 2, imm: int32(e.typ), off: next})
		if e.major >= 0 {
			insns = append(insns, bpfInsn{op: bpfJneImm, dst: 4, imm: int32(e.major), off: next})
		}
		if e.minor >= 0 {
			insns = append(insns, bpfInsn{op: bpfJneImm, dst: 5, imm: int32(e.minor), off: next})
		}
		if e.access != devAccAll {
			if p.allow {
				// A deny exception: deny if any requested bit is
				// denied, else go on.
				insns = append(insns,
					bpfInsn{op: bpfJsetImm, dst: 3, imm: int32(e.access), off: 1},
					bpfInsn{op: bpfJa, off: next})
			} else {
				// An allow exception: go on if any requested bit
				// is not granted.
				insns = append(insns, bpfInsn{op: bpfJsetImm, dst: 3, imm: ^int32(e.access), off: next})
			}
		}
		ret(!p.allow)
		for i := start; i < len(insns); i++ {
			if insns[i].off == next {
				insns[i].off = int16(len(insns) - i - 1)
			}
		}
	}
	ret(p.allow)

	code := make([]byte, len(insns)*bpfInsnBytes)
	for i, in := range insns {
		b := code[i*bpfInsnBytes:]
		b[0] = in.op
		// struct bpf_insn has __u8 dst_reg:4, src_reg:4, which
		// big-endian compilers allocate from the top.
		if nativeEndian == binary.BigEndian {
			b[1] = in.dst<<4 | in.src
		} else {
			b[1] = in.src<<4 | in.dst
		}
		nativeEndian.PutUint16(b[2:], uint16(in.off))
		nativeEndian.PutUint32(b[4:], uint32(in.imm))
	}
	return code
}

// progLoadAttr is the BPF_PROG_LOAD part of union bpf_attr, up to
// prog_name (Linux 4.15, like BPF_PROG_TYPE_CGROUP_DEVICE itself).
type progLoadAttr struct {
	progType    uint32
	insnCnt     uint32
	insns       uint64
	license     uint64
	logLevel    uint32
	logSize     uint32
	logBuf      uint64
	kernVersion uint32
	progFlags   uint32
	progName    [16]byte
}

// nativeEndian is the host's byte order (binary.NativeEndian cannot be
// compared with binary.BigEndian).
var nativeEndian = func() binary.ByteOrder {
	x := uint16(1)
	if *(*byte)(unsafe.Pointer(&x)) == 1 {
		return binary.LittleEndian
	}
	return binary.BigEndian
}()

// license is the program's licence string. The kernel only uses it to allow
// GPL-only helpers; the program calls none.
var license = []byte("Apache-2.0\x00")

// loadDeviceProgram loads code as a BPF_PROG_TYPE_CGROUP_DEVICE program
// and returns its file descriptor (close-on-exec).
//
// It calls bpf(2) directly, as runc's loader in opencontainers/cgroups does,
// rather than through cilium/ebpf's NewProgram, which costs far more in a
// process's first call than the load itself: it looks for a BPF token
// (reading /proc/self/mountinfo, which is long on container hosts) and runs
// three feature probes (two BPF_MAP_CREATE, one BPF_PROG_LOAD). Measured
// here, a process's first compile+load+attach took 1.5 ms through
// cilium/ebpf and 0.66 ms like this (medians of 40); package ebpf also adds
// its btf, kallsyms, kconfig and tracefs packages to nook's start-up.
func loadDeviceProgram(code []byte) (int, error) {
	// The attr holds addresses as integers: pin what they point to (this
	// also keeps the buffers off the stack, which can move).
	var pin runtime.Pinner
	defer pin.Unpin()
	pin.Pin(&code[0])
	pin.Pin(&license[0])
	attr := progLoadAttr{
		progType: unix.BPF_PROG_TYPE_CGROUP_DEVICE,
		insnCnt:  uint32(len(code) / bpfInsnBytes),
		insns:    uint64(uintptr(unsafe.Pointer(&code[0]))),
		license:  uint64(uintptr(unsafe.Pointer(&license[0]))),
	}
	copy(attr.progName[:], "nook_devices")
	fd, errno := progLoad(&attr)
	if errno == 0 {
		return fd, nil
	}
	err := error(errno)
	switch errno {
	case unix.EPERM:
		err = fmt.Errorf("%w (needs CAP_SYS_ADMIN or CAP_BPF in the initial user namespace; before Linux 5.11 also enough RLIMIT_MEMLOCK)", errno)
	case unix.ENOSYS:
		err = fmt.Errorf("%w (no eBPF in this kernel, or bpf(2) blocked)", errno)
	case unix.EINVAL, unix.EACCES:
		// Load again with the verifier's log, for the error.
		log := make([]byte, 64<<10)
		pin.Pin(&log[0])
		attr.logLevel, attr.logSize, attr.logBuf = 1, uint32(len(log)), uint64(uintptr(unsafe.Pointer(&log[0])))
		if fd, errno := progLoad(&attr); errno == 0 {
			unix.Close(fd) // cannot happen
		}
		if l := strings.TrimSpace(string(bytes.TrimRight(log, "\x00"))); l != "" {
			lines := strings.Split(l, "\n")
			err = fmt.Errorf("%w; verifier: %s", errno, strings.Join(lines[max(0, len(lines)-8):], " | "))
		}
	}
	return -1, bpfError("load eBPF device program", err)
}

// progLoad is BPF_PROG_LOAD, retried while the verifier is interrupted by a
// signal (EAGAIN).
func progLoad(attr *progLoadAttr) (int, unix.Errno) {
	for try := 0; ; try++ {
		fd, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, uintptr(unsafe.Pointer(attr)), unsafe.Sizeof(*attr))
		if errno != unix.EAGAIN || try == 100 {
			return int(fd), errno
		}
	}
}

// attachDeviceProgram attaches prog to the cgroup v2 directory dir with
// BPF_F_ALLOW_MULTI.
func attachDeviceProgram(dir string, prog int) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	attr := progAttachAttr{
		targetFD:    uint32(fd),
		attachBPFFD: uint32(prog),
		attachType:  unix.BPF_CGROUP_DEVICE,
		attachFlags: unix.BPF_F_ALLOW_MULTI,
	}
	_, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_ATTACH, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	switch errno {
	case 0:
		return nil
	case unix.EBADF:
		return fmt.Errorf("attach eBPF device program: %w", &os.PathError{Op: "BPF_PROG_ATTACH", Path: dir, Err: fmt.Errorf("%w (not a cgroup v2 directory)", errno)})
	case unix.EPERM:
		return bpfError("attach eBPF device program to "+dir, fmt.Errorf("%w (an ancestor cgroup's device program may forbid it)", errno))
	default:
		return bpfError("attach eBPF device program to "+dir, errno)
	}
}

// bpfError marks a failure of the bpf(2) system call as ErrNotSupported
// (the host cannot enforce device rules), keeping the kernel's error.
func bpfError(what string, err error) error {
	return fmt.Errorf("%s: %w (%w)", what, err, ErrNotSupported)
}

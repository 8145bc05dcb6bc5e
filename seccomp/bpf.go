package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Instruction is one classic-BPF instruction, laid out exactly like the
// kernel's struct sock_filter (and golang.org/x/sys/unix.SockFilter).
type Instruction struct {
	Code uint16
	Jt   uint8
	Jf   uint8
	K    uint32
}

// Program is a compiled classic-BPF filter, ready for
// seccomp(SECCOMP_SET_MODE_FILTER) (wrapped in a struct sock_fprog).
type Program []Instruction

// Bytes returns the program as the array of struct sock_filter the kernel
// expects: 8 bytes per instruction, little-endian (every architecture
// this package targets is little-endian).
func (p Program) Bytes() []byte {
	b := make([]byte, 8*len(p))
	for i, in := range p {
		binary.LittleEndian.PutUint16(b[8*i:], in.Code)
		b[8*i+2] = in.Jt
		b[8*i+3] = in.Jf
		binary.LittleEndian.PutUint32(b[8*i+4:], in.K)
	}
	return b
}

// FromBytes is the inverse of [Program.Bytes].
func FromBytes(b []byte) (Program, error) {
	if len(b)%8 != 0 {
		return nil, fmt.Errorf("seccomp: program length %d is not a multiple of 8", len(b))
	}
	p := make(Program, len(b)/8)
	for i := range p {
		p[i] = Instruction{
			Code: binary.LittleEndian.Uint16(b[8*i:]),
			Jt:   b[8*i+2],
			Jf:   b[8*i+3],
			K:    binary.LittleEndian.Uint32(b[8*i+4:]),
		}
	}
	return p, nil
}

// Classic BPF opcodes used by the generator (include/uapi/linux/filter.h).
const (
	opLdAbsW = 0x20 // BPF_LD | BPF_W | BPF_ABS
	opAndK   = 0x54 // BPF_ALU | BPF_AND | BPF_K
	opJa     = 0x05 // BPF_JMP | BPF_JA
	opJeqK   = 0x15 // BPF_JMP | BPF_JEQ | BPF_K
	opJgtK   = 0x25 // BPF_JMP | BPF_JGT | BPF_K
	opJgeK   = 0x35 // BPF_JMP | BPF_JGE | BPF_K
	opJsetK  = 0x45 // BPF_JMP | BPF_JSET | BPF_K
	opRetK   = 0x06 // BPF_RET | BPF_K
)

// maxInsns is BPF_MAXINSNS, the kernel's limit for one filter.
const maxInsns = 4096

// The generator emits instructions with symbolic jump targets (labels);
// assemble resolves them and inserts "ja" trampolines where a
// conditional jump would be longer than its 8-bit offsets allow.

// label identifies a jump target; it is bound to the instruction emitted
// after bind is called.
type label int32

type node struct {
	code   uint16
	k      uint32
	jt, jf label // conditional jumps; jt alone for ja
}

func isCond(code uint16) bool { return code&0x07 == 0x05 && code != opJa }

type asm struct {
	nodes   []node
	labels  []int32 // label -> node index, -1 until bound
	pending []label
}

func (a *asm) newLabel() label {
	a.labels = append(a.labels, -1)
	return label(len(a.labels) - 1)
}

// bind makes l point at the next emitted instruction.
func (a *asm) bind(l label) { a.pending = append(a.pending, l) }

func (a *asm) emit(n node) {
	for _, l := range a.pending {
		a.labels[l] = int32(len(a.nodes))
	}
	a.pending = a.pending[:0]
	a.nodes = append(a.nodes, n)
}

func (a *asm) ld(off uint32) { a.emit(node{code: opLdAbsW, k: off}) }
func (a *asm) and(k uint32)  { a.emit(node{code: opAndK, k: k}) }
func (a *asm) ret(k uint32)  { a.emit(node{code: opRetK, k: k}) }

// next is a pseudo-label for "the following instruction".
const next label = -1

// jmp emits a conditional jump.
func (a *asm) jmp(code uint16, k uint32, jt, jf label) {
	var nl label = next
	if jt == next || jf == next {
		nl = a.newLabel()
		if jt == next {
			jt = nl
		}
		if jf == next {
			jf = nl
		}
	}
	a.emit(node{code: code, k: k, jt: jt, jf: jf})
	if nl != next {
		a.bind(nl)
	}
}

func (a *asm) assemble() (Program, error) {
	if len(a.pending) != 0 {
		return nil, errors.New("seccomp: internal error: label bound past the end of the program")
	}
	for _, t := range a.labels {
		if t < 0 {
			return nil, errors.New("seccomp: internal error: unbound label")
		}
	}
	const needT, needF = 1, 2
	n := len(a.nodes)
	tramp := make([]uint8, n) // trampolines placed after node i
	pos := make([]int, n+1)   // final index of node i
	for {
		p := 0
		for i := range a.nodes {
			pos[i] = p
			p += 1 + int(tramp[i]&1) + int(tramp[i]>>1)
		}
		pos[n] = p
		changed := false
		for i, nd := range a.nodes {
			if !isCond(nd.code) {
				continue
			}
			if tramp[i]&needT == 0 && pos[a.labels[nd.jt]]-pos[i]-1 > 255 {
				tramp[i] |= needT
				changed = true
			}
			if tramp[i]&needF == 0 && pos[a.labels[nd.jf]]-pos[i]-1 > 255 {
				tramp[i] |= needF
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	total := pos[n]
	if total > maxInsns {
		return nil, fmt.Errorf("seccomp: filter has %d instructions, more than the kernel's limit of %d", total, maxInsns)
	}
	prog := make(Program, 0, total)
	dist := func(from int, l label) (int, error) {
		d := pos[a.labels[l]] - from - 1
		if d < 0 {
			return 0, errors.New("seccomp: internal error: backward jump")
		}
		return d, nil
	}
	for i, nd := range a.nodes {
		at := pos[i]
		in := Instruction{Code: nd.code, K: nd.k}
		switch {
		case nd.code == opJa:
			d, err := dist(at, nd.jt)
			if err != nil {
				return nil, err
			}
			in.K = uint32(d)
			prog = append(prog, in)
		case isCond(nd.code):
			var tr []Instruction
			// Trampolines follow the jump: first for jt, then for jf.
			slot := 0
			for _, t := range []struct {
				flag uint8
				l    label
				off  *uint8
			}{{needT, nd.jt, &in.Jt}, {needF, nd.jf, &in.Jf}} {
				if tramp[i]&t.flag != 0 {
					d, err := dist(at+1+slot, t.l)
					if err != nil {
						return nil, err
					}
					*t.off = uint8(slot)
					tr = append(tr, Instruction{Code: opJa, K: uint32(d)})
					slot++
					continue
				}
				d, err := dist(at, t.l)
				if err != nil {
					return nil, err
				}
				if d > 255 {
					return nil, errors.New("seccomp: internal error: jump out of range")
				}
				*t.off = uint8(d)
			}
			prog = append(prog, in)
			prog = append(prog, tr...)
		default:
			prog = append(prog, in)
		}
	}
	return prog, nil
}

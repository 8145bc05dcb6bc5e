package seccomp

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// seccompData mirrors struct seccomp_data.
type seccompData struct {
	nr   int32
	arch uint32
	ip   uint64
	args [6]uint64
}

func (d seccompData) bytes() []byte {
	b := make([]byte, 64)
	binary.LittleEndian.PutUint32(b[0:], uint32(d.nr))
	binary.LittleEndian.PutUint32(b[4:], d.arch)
	binary.LittleEndian.PutUint64(b[8:], d.ip)
	for i, a := range d.args {
		binary.LittleEndian.PutUint64(b[16+8*i:], a)
	}
	return b
}

// run interprets p the way the kernel's seccomp BPF does (the subset of
// classic BPF that seccomp allows), returning the action and the number
// of instructions executed.
func run(p Program, d seccompData) (uint32, int, error) {
	data := d.bytes()
	var a, x uint32
	var mem [16]uint32
	steps := 0
	for pc := 0; pc < len(p); pc++ {
		steps++
		in := p[pc]
		switch in.Code {
		case 0x20: // ld w abs
			if in.K%4 != 0 || in.K+4 > 64 {
				return 0, steps, fmt.Errorf("pc %d: bad load offset %d", pc, in.K)
			}
			a = binary.LittleEndian.Uint32(data[in.K:])
		case 0x00: // ld imm
			a = in.K
		case 0x01: // ldx imm
			x = in.K
		case 0x02: // st
			mem[in.K] = a
		case 0x60: // ld mem
			a = mem[in.K]
		case 0x54:
			a &= in.K
		case 0x44:
			a |= in.K
		case 0x04:
			a += in.K
		case 0x05:
			pc += int(in.K)
		case 0x15, 0x25, 0x35, 0x45:
			var t bool
			switch in.Code {
			case 0x15:
				t = a == in.K
			case 0x25:
				t = a > in.K
			case 0x35:
				t = a >= in.K
			case 0x45:
				t = a&in.K != 0
			}
			if t {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case 0x06:
			return in.K, steps, nil
		case 0x16: // ret a
			return a, steps, nil
		default:
			return 0, steps, fmt.Errorf("pc %d: unsupported opcode %#x", pc, in.Code)
		}
		_ = x
	}
	return 0, steps, fmt.Errorf("fell off the end of the program")
}

// argValueNear returns a value close to one of sc's argument values, to
// hit comparison boundaries.
func argValueNear(sc specs.LinuxSyscall, rng *rand.Rand) uint64 {
	if len(sc.Args) == 0 {
		return 0
	}
	a := sc.Args[rng.IntN(len(sc.Args))]
	v := a.Value
	if a.Op == specs.OpMaskedEqual && rng.IntN(2) == 0 {
		v = a.ValueTwo
	}
	switch rng.IntN(6) {
	case 0:
		v++
	case 1:
		v--
	case 2:
		v ^= 1 << 32
	case 3:
		v = v&0xffffffff | 0xabcd000000000000
	}
	return v
}

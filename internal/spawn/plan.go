package spawn

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Op is one step of a plan. The numbers are shared with spawn.h.
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
	OpRoot                       // path becomes the root under construction: a bind, a tmpfs or an overlay (RootKind)
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
	OpWaitFD                     // block until the wait fd is readable or closed
	OpExec                       // exec the command (as PID 1, or under nook's init)
	OpDevice                     // a device node in the new root: mknod, or a bind of the host's
)

// Janitor steps, run on the host after the sandbox is gone.
const (
	JanitorRmdir  Op = iota + 1 // rmdir, retrying while the cgroup is busy
	JanitorUnlink               // unlink a file
	JanitorUmount               // detach a mount
	JanitorKill                 // kill every process of a cgroup (cgroup.kill, or its procs)
)

// RootKind is what OpRoot makes the root under construction of.
type RootKind uint64

// Root kinds, the numbers of spawn.h's ROOT_* (checked in spawn.go).
const (
	RootBind    RootKind = 0 // args: path
	RootTmpfs   RootKind = 1 // args: path
	RootOverlay RootKind = 2 // args: path, lower dirs ([]byte, each NUL-terminated, top first), the other options, a scratch dir for a tmpfs upper or ""
)

// Mount point kinds for OpMount: what to create when the destination is
// missing.
const (
	MountPointAuto = 0 // a bind's source decides; a directory otherwise
	MountPointDir  = 1
	MountPointFile = 2
)

// Plan is a list of steps, encoded as the C side reads it: for each step a
// uint32 op, a uint32 argument count, then each argument as a uint32 length
// and its bytes. Strings carry their NUL; numbers are 8 bytes. Host byte
// order: the plan never leaves the machine.
type Plan struct {
	buf []byte
	n   int
	err error
}

// Len reports the number of steps.
func (p *Plan) Len() int { return p.n }

// Bytes returns the encoded plan.
func (p *Plan) Bytes() []byte { return p.buf }

// Err reports the first argument that could not be encoded.
func (p *Plan) Err() error { return p.err }

// Add appends a step. Arguments are strings, integers, []byte or []uint32.
func (p *Plan) Add(op Op, args ...any) {
	if len(args) > maxArgs {
		p.fail(fmt.Errorf("spawn: step %d has %d arguments, more than %d", op, len(args), maxArgs))
		return
	}
	p.buf = binary.NativeEndian.AppendUint32(p.buf, uint32(op))
	p.buf = binary.NativeEndian.AppendUint32(p.buf, uint32(len(args)))
	for _, a := range args {
		switch v := a.(type) {
		case string:
			if strings.IndexByte(v, 0) >= 0 {
				p.fail(fmt.Errorf("spawn: %q contains a NUL byte", v))
			}
			p.buf = binary.NativeEndian.AppendUint32(p.buf, uint32(len(v)+1))
			p.buf = append(p.buf, v...)
			p.buf = append(p.buf, 0)
		case []byte:
			p.buf = binary.NativeEndian.AppendUint32(p.buf, uint32(len(v)))
			p.buf = append(p.buf, v...)
		case []uint32:
			p.buf = binary.NativeEndian.AppendUint32(p.buf, uint32(4*len(v)))
			for _, x := range v {
				p.buf = binary.NativeEndian.AppendUint32(p.buf, x)
			}
		case bool:
			p.buf = appendNum(p.buf, b2u(v))
		case int:
			p.buf = appendNum(p.buf, uint64(v))
		case uint:
			p.buf = appendNum(p.buf, uint64(v))
		case uint32:
			p.buf = appendNum(p.buf, uint64(v))
		case int64:
			p.buf = appendNum(p.buf, uint64(v))
		case uint64:
			p.buf = appendNum(p.buf, v)
		case RootKind:
			p.buf = appendNum(p.buf, uint64(v))
		case uintptr:
			p.buf = appendNum(p.buf, uint64(v))
		default:
			p.fail(fmt.Errorf("spawn: step %d: argument of type %T", op, a))
		}
	}
	p.n++
}

func (p *Plan) fail(err error) {
	if p.err == nil {
		p.err = err
	}
}

func appendNum(b []byte, v uint64) []byte {
	b = binary.NativeEndian.AppendUint32(b, 8)
	return binary.NativeEndian.AppendUint64(b, v)
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

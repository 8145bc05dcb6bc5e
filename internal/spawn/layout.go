//go:build cgo

package spawn

/*
#include "spawn.h"
*/
import "C"

import (
	"reflect"
	"unsafe"
)

// cLayout is what the C compiler made of spawn.h, for TestLayoutMatchesC:
// each op's number, record type and the size the interpreter checks, the
// janitor's ops, and the shared constants.
type cLayout struct {
	ops       map[Op]int
	janitor   map[Op]int
	records   map[Op]reflect.Type
	stepSize  map[Op]int
	shared    map[string][2]int // name -> {C, Go}
	header    reflect.Type
	errorRec  reflect.Type
	opMax     int
	janMax    int
	mountAuto int
	mountDir  int
	mountFile int
}

func cLayoutOf() *cLayout {
	l := &cLayout{
		ops: map[Op]int{
			OpSetsid: C.NOOK_OP_SETSID, OpUnshare: C.NOOK_OP_UNSHARE, OpSetns: C.NOOK_OP_SETNS,
			OpWrite: C.NOOK_OP_WRITE, OpHostname: C.NOOK_OP_HOSTNAME, OpDomainname: C.NOOK_OP_DOMAINNAME,
			OpLoopback: C.NOOK_OP_LOOPBACK, OpPropagation: C.NOOK_OP_PROPAGATION,
			OpBasePivot: C.NOOK_OP_BASE_PIVOT, OpRoot: C.NOOK_OP_ROOT, OpMount: C.NOOK_OP_MOUNT,
			OpSymlink: C.NOOK_OP_SYMLINK, OpMask: C.NOOK_OP_MASK, OpReadonly: C.NOOK_OP_READONLY,
			OpTTY: C.NOOK_OP_TTY, OpPivot: C.NOOK_OP_PIVOT, OpRootReadonly: C.NOOK_OP_ROOT_READONLY,
			OpChdir: C.NOOK_OP_CHDIR, OpRlimit: C.NOOK_OP_RLIMIT, OpUser: C.NOOK_OP_USER,
			OpNoNewPrivs: C.NOOK_OP_NO_NEW_PRIVS, OpSeccomp: C.NOOK_OP_SECCOMP, OpArg: C.NOOK_OP_ARG,
			OpEnv: C.NOOK_OP_ENV, OpExec: C.NOOK_OP_EXEC, OpDevice: C.NOOK_OP_DEVICE,
			OpOverlayRoot: C.NOOK_OP_OVERLAY_ROOT,
			OpChroot:      C.NOOK_OP_CHROOT,
			OpNoPivot:     C.NOOK_OP_NO_PIVOT, OpDetach: C.NOOK_OP_DETACH,
		},
		janitor: map[Op]int{
			JanitorRmdir: C.NOOK_JOP_RMDIR, JanitorUnlink: C.NOOK_JOP_UNLINK,
			JanitorUmount: C.NOOK_JOP_UMOUNT, JanitorKill: C.NOOK_JOP_KILL,
		},
		records: map[Op]reflect.Type{
			OpSetsid:       nil,
			OpUnshare:      reflect.TypeOf(C.struct_nook_unshare{}),
			OpSetns:        reflect.TypeOf(C.struct_nook_setns{}),
			OpWrite:        reflect.TypeOf(C.struct_nook_write{}),
			OpHostname:     reflect.TypeOf(C.struct_nook_name{}),
			OpDomainname:   reflect.TypeOf(C.struct_nook_name{}),
			OpLoopback:     nil,
			OpPropagation:  reflect.TypeOf(C.struct_nook_propagation{}),
			OpBasePivot:    reflect.TypeOf(C.struct_nook_path{}),
			OpRoot:         reflect.TypeOf(C.struct_nook_root{}),
			OpMount:        reflect.TypeOf(C.struct_nook_mount{}),
			OpSymlink:      reflect.TypeOf(C.struct_nook_symlink{}),
			OpMask:         reflect.TypeOf(C.struct_nook_path{}),
			OpReadonly:     reflect.TypeOf(C.struct_nook_path{}),
			OpTTY:          reflect.TypeOf(C.struct_nook_tty{}),
			OpPivot:        nil,
			OpRootReadonly: nil,
			OpChdir:        reflect.TypeOf(C.struct_nook_path{}),
			OpChroot:       reflect.TypeOf(C.struct_nook_path{}),
			OpRlimit:       reflect.TypeOf(C.struct_nook_rlimit{}),
			OpUser:         reflect.TypeOf(C.struct_nook_user{}),
			OpNoNewPrivs:   nil,
			OpSeccomp:      reflect.TypeOf(C.struct_nook_seccomp{}),
			OpArg:          reflect.TypeOf(C.struct_nook_path{}),
			OpEnv:          reflect.TypeOf(C.struct_nook_path{}),
			OpExec:         reflect.TypeOf(C.struct_nook_exec{}),
			OpDevice:       reflect.TypeOf(C.struct_nook_device{}),
			OpOverlayRoot:  reflect.TypeOf(C.struct_nook_overlay_root{}),
			OpNoPivot:      nil,
			OpDetach:       reflect.TypeOf(C.struct_nook_path{}),
		},
		stepSize: map[Op]int{},
		shared: map[string][2]int{
			"NOOK_EXIT_SETUP":    {C.NOOK_EXIT_SETUP, ExitSetup},
			"NOOK_EXIT_NOEXEC":   {C.NOOK_EXIT_NOEXEC, ExitNoExec},
			"NOOK_EXIT_NOTFOUND": {C.NOOK_EXIT_NOTFOUND, ExitNotFound},
			"NOOK_MAXARGV":       {C.NOOK_MAXARGV, maxArgv},
			"NOOK_MAXGROUPS":     {C.NOOK_MAXGROUPS, maxGroups},
			"NOOK_MAXFDS":        {C.NOOK_MAXFDS, maxFDs},
			"NOOK_MAXCGROUPS":    {C.NOOK_MAXCGROUPS, maxCgroups},
			"pathRec/janitor":    {int(unsafe.Sizeof(C.struct_nook_path{})), int(unsafe.Sizeof(pathRec{}))},
		},
		header:    reflect.TypeOf(C.struct_nook_step{}),
		errorRec:  reflect.TypeOf(C.struct_nook_error{}),
		opMax:     C.NOOK_OP_MAX,
		janMax:    C.NOOK_JOP_MAX,
		mountAuto: C.NOOK_MOUNT_POINT_AUTO,
		mountDir:  C.NOOK_MOUNT_POINT_DIR,
		mountFile: C.NOOK_MOUNT_POINT_FILE,
	}
	sizes := unsafe.Slice(&C.nook_step_size[0], C.NOOK_OP_MAX)
	for op := Op(1); op < Op(C.NOOK_OP_MAX); op++ {
		l.stepSize[op] = int(sizes[op])
	}
	return l
}

//go:build linux && amd64

package spawn

import (
	"crypto/sha256"
	"debug/dwarf"
	"debug/elf"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"unsafe"
)

// childObject is the C child as mkchild.sh built it, beside this test.
const childObject = "child_linux_amd64.syso"

// cTypes is what the C compiler made of spawn.h: its structs and its
// enumerators, read from the DWARF that layout.c leaves in the object.
type cTypes struct {
	structs map[string]*dwarf.StructType
	enums   map[string]int64
}

func readCTypes(t *testing.T) *cTypes {
	t.Helper()
	f, err := elf.Open(childObject)
	if err != nil {
		t.Fatalf("the C child: %v", err)
	}
	defer f.Close()
	d, err := f.DWARF()
	if err != nil {
		t.Fatalf("%s: DWARF: %v", childObject, err)
	}
	c := &cTypes{structs: map[string]*dwarf.StructType{}, enums: map[string]int64{}}
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			t.Fatalf("%s: DWARF: %v", childObject, err)
		}
		if e == nil {
			break
		}
		if e.Tag != dwarf.TagStructType && e.Tag != dwarf.TagEnumerationType {
			continue
		}
		typ, err := d.Type(e.Offset)
		if err != nil {
			t.Fatalf("%s: DWARF type at %d: %v", childObject, e.Offset, err)
		}
		switch typ := typ.(type) {
		case *dwarf.StructType:
			if typ.StructName != "" && !typ.Incomplete {
				c.structs[typ.StructName] = typ
			}
		case *dwarf.EnumType:
			for _, v := range typ.Val {
				c.enums[v.Name] = v.Val
			}
		}
	}
	if len(c.structs) == 0 || len(c.enums) == 0 {
		t.Fatalf("%s has no DWARF of spawn.h's types (layout.c)", childObject)
	}
	return c
}

// cRecords names each op's C enumerator and record (spawn.h); "" for a
// step without fields.
var cRecords = map[Op][2]string{
	OpSetsid:       {"NOOK_OP_SETSID", ""},
	OpUnshare:      {"NOOK_OP_UNSHARE", "nook_unshare"},
	OpSetns:        {"NOOK_OP_SETNS", "nook_setns"},
	OpWrite:        {"NOOK_OP_WRITE", "nook_write"},
	OpHostname:     {"NOOK_OP_HOSTNAME", "nook_name"},
	OpDomainname:   {"NOOK_OP_DOMAINNAME", "nook_name"},
	OpLoopback:     {"NOOK_OP_LOOPBACK", ""},
	OpPropagation:  {"NOOK_OP_PROPAGATION", "nook_propagation"},
	OpBasePivot:    {"NOOK_OP_BASE_PIVOT", "nook_path"},
	OpRoot:         {"NOOK_OP_ROOT", "nook_root"},
	OpMount:        {"NOOK_OP_MOUNT", "nook_mount"},
	OpSymlink:      {"NOOK_OP_SYMLINK", "nook_symlink"},
	OpMask:         {"NOOK_OP_MASK", "nook_path"},
	OpReadonly:     {"NOOK_OP_READONLY", "nook_path"},
	OpTTY:          {"NOOK_OP_TTY", "nook_tty"},
	OpPivot:        {"NOOK_OP_PIVOT", ""},
	OpRootReadonly: {"NOOK_OP_ROOT_READONLY", ""},
	OpChdir:        {"NOOK_OP_CHDIR", "nook_path"},
	OpChroot:       {"NOOK_OP_CHROOT", "nook_path"},
	OpRlimit:       {"NOOK_OP_RLIMIT", "nook_rlimit"},
	OpUser:         {"NOOK_OP_USER", "nook_user"},
	OpNoNewPrivs:   {"NOOK_OP_NO_NEW_PRIVS", ""},
	OpSeccomp:      {"NOOK_OP_SECCOMP", "nook_seccomp"},
	OpArg:          {"NOOK_OP_ARG", "nook_path"},
	OpEnv:          {"NOOK_OP_ENV", "nook_path"},
	OpExec:         {"NOOK_OP_EXEC", "nook_exec"},
	OpDevice:       {"NOOK_OP_DEVICE", "nook_device"},
	OpOverlayRoot:  {"NOOK_OP_OVERLAY_ROOT", "nook_overlay_root"},
	OpNoPivot:      {"NOOK_OP_NO_PIVOT", ""},
	OpDetach:       {"NOOK_OP_DETACH", "nook_path"},
	OpHook:         {"NOOK_OP_HOOK", "nook_hook"},
	OpRootNodev:    {"NOOK_OP_ROOT_NODEV", ""},
	OpSetnsPidfd:   {"NOOK_OP_SETNS_PIDFD", "nook_setns_pidfd"},
}

// TestLayoutMatchesC fails when Go and C disagree on anything they share:
// op numbers, the layout of every record (field names, offsets and sizes,
// as the C compiler laid them out), the sizes the interpreter checks (read
// from the child linked into this binary), the records Go hands the
// child, and the shared constants.
func TestLayoutMatchesC(t *testing.T) {
	c := readCTypes(t)
	enum := func(name string) int64 {
		v, ok := c.enums[name]
		if !ok {
			t.Errorf("spawn.h has no %s", name)
		}
		return v
	}
	record := func(name string) *dwarf.StructType {
		s, ok := c.structs[name]
		if !ok {
			t.Errorf("spawn.h has no struct %s", name)
		}
		return s
	}
	if v := enum("NOOK_OP_MAX"); v != int64(opMax) {
		t.Errorf("NOOK_OP_MAX = %d, Go's opMax = %d", v, opMax)
	}
	if v := enum("NOOK_JOP_MAX"); v != int64(janitorMax) {
		t.Errorf("NOOK_JOP_MAX = %d, Go's janitorMax = %d", v, janitorMax)
	}
	h := childText()
	stepSize := unsafe.Slice((*uint32)(unsafe.Add(unsafe.Pointer(h), h.StepSize)), opMax)
	for op := Op(1); op < opMax; op++ {
		names, ok := cRecords[op]
		if !ok {
			t.Errorf("op %d: no C names in cRecords", op)
			continue
		}
		if v := enum(names[0]); v != int64(op) {
			t.Errorf("op %d: C's %s is %d", op, names[0], v)
		}
		goRec := reflect.TypeOf(records[op])
		if goRec == nil {
			t.Errorf("op %d has no Go record", op)
			continue
		}
		if int(goRec.Size()) != int(stepSize[op]) {
			t.Errorf("op %d: Go record %s is %d bytes, C's nook_step_size says %d", op, goRec, goRec.Size(), stepSize[op])
		}
		if names[1] == "" {
			if goRec.Size() != 0 {
				t.Errorf("op %d: Go record %s has fields, C's has none", op, goRec)
			}
			continue
		}
		if s := record(names[1]); s != nil {
			compareStruct(t, goRec, s)
		}
	}
	for op, name := range map[Op]string{
		JanitorRmdir: "NOOK_JOP_RMDIR", JanitorUnlink: "NOOK_JOP_UNLINK",
		JanitorUmount: "NOOK_JOP_UMOUNT", JanitorKill: "NOOK_JOP_KILL",
	} {
		if v := enum(name); v != int64(op) {
			t.Errorf("janitor op %d: C's %s is %d", op, name, v)
		}
	}
	for goType, name := range map[reflect.Type]string{
		reflect.TypeOf(stepHeader{}):    "nook_step",
		reflect.TypeOf(errorRec{}):      "nook_error",
		reflect.TypeOf(pathRec{}):       "nook_path", // the janitor's records
		reflect.TypeOf(spawnArgs{}):     "nook_spawn",
		reflect.TypeOf(janitorArgs{}):   "nook_janitor",
		reflect.TypeOf(tlsBlock{}):      "nook_tls",
		reflect.TypeOf(quickRec{}):      "nook_quick",
		reflect.TypeOf(quickFileRec{}):  "nook_quick_file",
		reflect.TypeOf(quickNSRec{}):    "nook_quick_ns",
		reflect.TypeOf(quickDevRec{}):   "nook_quick_dev",
		reflect.TypeOf(quickRunRec{}):   "nook_quick_run",
		reflect.TypeOf(quickStdioRec{}): "nook_quick_stdio",
		reflect.TypeOf(quickWriteRec{}): "nook_quick_write",
	} {
		if s := record(name); s != nil {
			compareStruct(t, goType, s)
		}
	}
	anyMinor := AnyMinor // C's enumerator is an int: -1
	for name, goValue := range map[string]int{
		"NOOK_EXIT_SETUP": ExitSetup, "NOOK_EXIT_NOEXEC": ExitNoExec, "NOOK_EXIT_NOTFOUND": ExitNotFound,
		"NOOK_MAXARGV": maxArgv, "NOOK_MAXGROUPS": maxGroups, "NOOK_MAXFDS": maxFDs, "NOOK_MAXCGROUPS": maxCgroups,
		"NOOK_MOUNT_POINT_AUTO": int(MountPointAuto), "NOOK_MOUNT_POINT_DIR": int(MountPointDir),
		"NOOK_MOUNT_POINT_FILE": int(MountPointFile),
		"NOOK_QUICK_MAGIC":      quickMagic, "NOOK_QUICK_VERSION": quickVersion, "NOOK_QUICK_MAX": quickMax,
		"NOOK_QUICK_ANY_MINOR": int(int32(anyMinor)), "NOOK_QUICK_PID_NS": quickPidNS,
		"NOOK_QUICK_DEVICES_HELD": quickDevHeld, "NOOK_QUICK_SHARE_MEMORY": quickShareMemory,
		"NOOK_QUICK_RUN_MAGIC":   quickRunMagic,
		"NOOK_QUICK_STDIO_OTHER": StdioOther, "NOOK_QUICK_STDIO_CHAR": StdioChar, "NOOK_QUICK_STDIO_BLOCK": StdioBlock,
	} {
		if v := enum(name); v != int64(goValue) {
			t.Errorf("%s: C %d, Go %d", name, v, goValue)
		}
	}
}

// compareStruct compares a Go record with its C twin: the same fields, by
// name (Go's mixedCase is C's snake_case), at the same offsets, of the
// same sizes, and the same size overall. Nested records (struct
// nook_ref) are compared too.
func compareStruct(t *testing.T, g reflect.Type, c *dwarf.StructType) {
	t.Helper()
	if g.Size() != uintptr(c.ByteSize) {
		t.Errorf("%s is %d bytes, C's struct %s %d", g, g.Size(), c.StructName, c.ByteSize)
	}
	if g.NumField() != len(c.Field) {
		t.Errorf("%s has %d fields, C's struct %s %d", g, g.NumField(), c.StructName, len(c.Field))
		return
	}
	for i := 0; i < g.NumField(); i++ {
		gf, cf := g.Field(i), c.Field[i]
		if strings.ToLower(gf.Name) != strings.ReplaceAll(strings.ToLower(cf.Name), "_", "") {
			t.Errorf("%s field %d is %s, C's is %s", g, i, gf.Name, cf.Name)
		}
		if int64(gf.Offset) != cf.ByteOffset || int64(gf.Type.Size()) != cf.Type.Size() {
			t.Errorf("%s.%s at %d (%d bytes), C's %s at %d (%d bytes)", g, gf.Name, gf.Offset, gf.Type.Size(),
				cf.Name, cf.ByteOffset, cf.Type.Size())
		}
		if cs, ok := dwarfStruct(cf.Type); ok && gf.Type.Kind() == reflect.Struct {
			compareStruct(t, gf.Type, cs)
		}
	}
}

func dwarfStruct(t dwarf.Type) (*dwarf.StructType, bool) {
	for {
		switch x := t.(type) {
		case *dwarf.TypedefType:
			t = x.Type
		case *dwarf.QualType:
			t = x.Type
		case *dwarf.StructType:
			return x, true
		default:
			return nil, false
		}
	}
}

// The committed object is built from the sources beside it: mkchild.sh
// records a hash of them in it (.nook.source), and after a change to any
// of them the object must be rebuilt (go generate, or make child).
func TestChildObjectUpToDate(t *testing.T) {
	f, err := elf.Open(childObject)
	if err != nil {
		t.Fatalf("the C child: %v", err)
	}
	defer f.Close()
	sec := f.Section(".nook.source")
	if sec == nil {
		t.Fatalf("%s has no .nook.source section", childObject)
	}
	built, err := sec.Data()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, pattern := range []string{"*.c", "*.h"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, m...)
	}
	names = append(names, "mkchild.sh")
	sort.Strings(names)
	h := sha256.New()
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		h.Write(b)
	}
	if now := hex.EncodeToString(h.Sum(nil)); now != string(built) {
		t.Errorf("%s was built from other sources (%s) than these (%s): run go generate ./internal/spawn (or make child)",
			childObject, built, now)
	}
}

//go:build cgo

package spawn

import (
	"reflect"
	"strings"
	"testing"
)

// TestLayoutMatchesC fails when Go and C disagree on anything they share:
// op numbers, the layout of every step's record (field names, offsets
// and sizes, as the C compiler laid them out), the sizes the interpreter
// checks, the error record, and the shared constants.
func TestLayoutMatchesC(t *testing.T) {
	c := cLayoutOf()
	if c.opMax != int(opMax) {
		t.Errorf("NOOK_OP_MAX = %d, Go's opMax = %d", c.opMax, opMax)
	}
	if c.janMax != int(janitorMax) {
		t.Errorf("NOOK_JOP_MAX = %d, Go's janitorMax = %d", c.janMax, janitorMax)
	}
	for op := Op(1); op < opMax; op++ {
		if c.ops[op] != int(op) {
			t.Errorf("op %d (%T): C's number is %d", op, records[op], c.ops[op])
		}
		goRec := reflect.TypeOf(records[op])
		if goRec == nil {
			t.Errorf("op %d has no Go record", op)
			continue
		}
		if int(goRec.Size()) != c.stepSize[op] {
			t.Errorf("op %d: Go record %s is %d bytes, C's nook_step_size says %d", op, goRec, goRec.Size(), c.stepSize[op])
		}
		cRec, ok := c.records[op]
		if !ok {
			t.Errorf("op %d: no C record named in layout.go", op)
			continue
		}
		if cRec == nil {
			if goRec.Size() != 0 {
				t.Errorf("op %d: Go record %s has fields, C's has none", op, goRec)
			}
			continue
		}
		compareStruct(t, goRec, cRec)
	}
	for op := Op(1); op < janitorMax; op++ {
		if c.janitor[op] != int(op) {
			t.Errorf("janitor op %d: C's number is %d", op, c.janitor[op])
		}
	}
	compareStruct(t, reflect.TypeOf(stepHeader{}), c.header)
	compareStruct(t, reflect.TypeOf(errorRec{}), c.errorRec)
	if c.mountAuto != int(MountPointAuto) || c.mountDir != int(MountPointDir) || c.mountFile != int(MountPointFile) {
		t.Errorf("mount points: C %d %d %d, Go %d %d %d", c.mountAuto, c.mountDir, c.mountFile,
			MountPointAuto, MountPointDir, MountPointFile)
	}
	for name, v := range c.shared {
		if v[0] != v[1] {
			t.Errorf("%s: C %d, Go %d", name, v[0], v[1])
		}
	}
}

// compareStruct compares a Go record with its C twin: the same fields, by
// name (Go's mixedCase is C's snake_case), at the same offsets, of the
// same sizes, and the same size overall. Nested records (struct
// nook_ref) are compared too.
func compareStruct(t *testing.T, g, c reflect.Type) {
	t.Helper()
	if g.Size() != c.Size() {
		t.Errorf("%s is %d bytes, C's %s %d", g, g.Size(), c, c.Size())
	}
	if g.NumField() != c.NumField() {
		t.Errorf("%s has %d fields, C's %s %d", g, g.NumField(), c, c.NumField())
		return
	}
	for i := 0; i < g.NumField(); i++ {
		gf, cf := g.Field(i), c.Field(i)
		if strings.ToLower(gf.Name) != strings.ReplaceAll(strings.ToLower(cf.Name), "_", "") {
			t.Errorf("%s field %d is %s, C's is %s", g, i, gf.Name, cf.Name)
		}
		if gf.Offset != cf.Offset || gf.Type.Size() != cf.Type.Size() {
			t.Errorf("%s.%s at %d (%d bytes), C's %s at %d (%d bytes)", g, gf.Name, gf.Offset, gf.Type.Size(),
				cf.Name, cf.Offset, cf.Type.Size())
		}
		if gf.Type.Kind() == reflect.Struct {
			compareStruct(t, gf.Type, cf.Type)
		}
	}
}

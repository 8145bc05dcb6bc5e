package spec

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Decode parses a config.json into a Spec as json.Unmarshal does.
//
// encoding/json reflects, on a type's first use in a process, over every
// type it can reach, building their decoders: decoding into a Spec at
// once cost every start most of a millisecond (0.65 ms for runc's default
// spec), and field by field a third of that. So a document is first
// walked by nook's own reader (walker), which reflects only on the values
// the document sets and builds nothing: `nook run --bundle` of runc's
// default spec became 0.64 ms faster (300 alternated runs). A document
// that walk finds anything wrong with is decoded again, field by field
// for the spec's largest objects (the spec itself, process, linux,
// linux.resources), for an error that names the field; in that path
// alone a key given twice keeps the last value whole, where Unmarshal
// merges two objects.
func Decode(b []byte) (*Spec, error) {
	var s Spec
	if walk(b, &s) == nil {
		return &s, nil
	}
	s = Spec{}
	if err := decodeFields(b, reflect.ValueOf(&s).Elem()); err != nil {
		return nil, err
	}
	return &s, nil
}

// DecodeHooks reads only a config.json's hooks, as Decode would read
// them, for the commands that need nothing else of a stored spec (start
// and delete): the walk checks the whole document and allocates nothing
// of the rest; json.Unmarshal, which builds decoders for Hooks' types,
// says what is wrong with a document the walk refuses. nil where the
// spec has none.
func DecodeHooks(b []byte) (*specs.Hooks, error) {
	var s struct {
		Hooks *specs.Hooks `json:"hooks"`
	}
	if walk(b, &s) == nil {
		return s.Hooks, nil
	}
	s.Hooks = nil
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	return s.Hooks, nil
}

// split reports whether t is decoded field by field; the others are by
// json.Unmarshal. (A switch, not a map, which would be built at package
// initialisation in every nook command.)
func split(t reflect.Type) bool {
	switch t {
	case reflect.TypeFor[specs.Spec](), reflect.TypeFor[specs.Process](),
		reflect.TypeFor[specs.Linux](), reflect.TypeFor[specs.LinuxResources]():
		return true
	}
	return false
}

// decodeFields decodes the JSON object b into the struct v, matching keys
// to fields by their json names as encoding/json does (exactly, else
// without regard to case) and ignoring unknown keys.
func decodeFields(b []byte, v reflect.Value) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return err
	}
	if obj == nil {
		return nil // null leaves v as it is
	}
	fs, _ := jsonFields(v.Type())
	for key, raw := range obj {
		f, ok := lookup(fs, key)
		if !ok {
			continue
		}
		if err := decodeField(raw, v.Field(f.index)); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	return nil
}

// decodeField decodes raw into f: a split type (or a pointer to one)
// field by field, anything else by json.Unmarshal.
func decodeField(raw json.RawMessage, f reflect.Value) error {
	ft := f.Type()
	if ft.Kind() == reflect.Pointer && split(ft.Elem()) {
		if string(raw) == "null" {
			f.SetZero()
			return nil
		}
		if f.IsNil() {
			f.Set(reflect.New(ft.Elem()))
		}
		return decodeFields(raw, f.Elem())
	}
	if split(ft) {
		return decodeFields(raw, f)
	}
	return json.Unmarshal(raw, f.Addr().Interface())
}

// field is a struct field that encoding/json reads and writes.
type field struct {
	index     int
	name      string
	omitempty bool
}

// jsonFields returns t's fields as encoding/json names them, in order;
// plain is false where t has an embedded field or one tagged with an
// option other than omitempty (",string", "omitzero"...), which the walk
// and the encoder leave to encoding/json.
func jsonFields(t reflect.Type) (fs []field, plain bool) {
	plain = true
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if _, opts, _ := strings.Cut(sf.Tag.Get("json"), ","); sf.Anonymous || opts != "" && opts != "omitempty" {
			plain = false
		}
		if name, omitempty, ok := jsonField(sf); ok {
			fs = append(fs, field{i, name, omitempty})
		}
	}
	return fs, plain
}

// plainFields keeps each struct type's fields for the walk and the
// encoder, worked out once a type: nil for a type that is not plain
// (jsonFields).
type plainFields map[reflect.Type][]field

func (c plainFields) of(t reflect.Type) []field {
	fs, ok := c[t]
	if !ok {
		var plain bool
		if fs, plain = jsonFields(t); !plain {
			fs = nil
		} else if fs == nil {
			fs = []field{}
		}
		c[t] = fs
	}
	return fs
}

// lookup is the field a key names: the exact name, else the first that
// matches without regard to case, as encoding/json matches.
func lookup(fs []field, key string) (field, bool) {
	for _, f := range fs {
		if f.name == key {
			return f, true
		}
	}
	for _, f := range fs {
		if strings.EqualFold(f.name, key) {
			return f, true
		}
	}
	return field{}, false
}

// jsonField is how encoding/json names sf and whether it leaves the field
// out when empty; ok is false for a field it never reads or writes (not
// exported, or tagged "-").
func jsonField(sf reflect.StructField) (name string, omitempty, ok bool) {
	if !sf.IsExported() {
		return "", false, false
	}
	name, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
	if name == "-" && opts == "" {
		return "", false, false
	}
	if name == "" {
		name = sf.Name
	}
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		omitempty = omitempty || o == "omitempty"
	}
	return name, omitempty, true
}

// isEmpty is encoding/json's notion of an empty value, for omitempty.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

package spec

import (
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Encode writes s as json.Marshal does, to the byte, and as Decode reads
// it. json.Marshal builds, on its first use in a process, an encoder for
// every type a Spec can reach (0.47-0.88 ms for runc's default
// config.json here, paid by every create and every recorded run, which
// keep the spec in their state); the encoder here reflects on the values
// the spec holds and builds nothing, as the walk that decodes does. What
// it has no need to write itself (floats, interfaces, arrays, byte
// slices, fields with options other than omitempty, embedded structs,
// maps with keys that are not strings, types that encode themselves) it
// hands to json.Marshal, value by value.
func Encode(s *specs.Spec) ([]byte, error) {
	if s == nil {
		return []byte("null"), nil
	}
	return newEncoder().value(nil, reflect.ValueOf(s).Elem())
}

func newEncoder() *encoder {
	return &encoder{own: map[reflect.Type]bool{}, fields: plainFields{}}
}

type encoder struct {
	// own says whether a type encodes itself (json.Marshaler,
	// encoding.TextMarshaler), as a value or through its pointer
	own    map[reflect.Type]bool
	fields plainFields
}

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

func (e *encoder) ownEncoder(t reflect.Type) bool {
	own, ok := e.own[t]
	if !ok {
		pt := reflect.PointerTo(t)
		own = t.Implements(marshalerType) || t.Implements(textMarshalerType) ||
			pt.Implements(marshalerType) || pt.Implements(textMarshalerType)
		e.own[t] = own
	}
	return own
}

// marshal appends what json.Marshal writes for v: through its address
// where it has one, so that methods on the pointer are found as
// json.Marshal finds them.
func (e *encoder) marshal(b []byte, v reflect.Value) ([]byte, error) {
	x := v.Interface()
	if v.CanAddr() {
		x = v.Addr().Interface()
	}
	out, err := json.Marshal(x)
	if err != nil {
		return nil, err
	}
	return append(b, out...), nil
}

func (e *encoder) value(b []byte, v reflect.Value) ([]byte, error) {
	if v.Kind() != reflect.Pointer && v.Kind() != reflect.Interface && e.ownEncoder(v.Type()) {
		return e.marshal(b, v)
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return append(b, "null"...), nil
		}
		return e.value(b, v.Elem())
	case reflect.Struct:
		return e.object(b, v)
	case reflect.Slice:
		if v.IsNil() {
			return append(b, "null"...), nil
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return e.marshal(b, v) // base64
		}
		b = append(b, '[')
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = e.value(b, v.Index(i)); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case reflect.Map:
		if v.IsNil() {
			return append(b, "null"...), nil
		}
		if kt := v.Type().Key(); kt.Kind() != reflect.String || e.ownEncoder(kt) {
			return e.marshal(b, v)
		}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(x, y reflect.Value) int { return strings.Compare(x.String(), y.String()) })
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(appendString(b, k.String()), ':')
			var err error
			if b, err = e.value(b, v.MapIndex(k)); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case reflect.String:
		return appendString(b, v.String()), nil
	case reflect.Bool:
		return strconv.AppendBool(b, v.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(b, v.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.AppendUint(b, v.Uint(), 10), nil
	}
	return e.marshal(b, v)
}

// object appends the struct v as a JSON object: fields in their order,
// under their json names, those tagged omitempty left out where
// encoding/json leaves them out.
func (e *encoder) object(b []byte, v reflect.Value) ([]byte, error) {
	fs := e.fields.of(v.Type())
	if fs == nil {
		return e.marshal(b, v)
	}
	b = append(b, '{')
	first := true
	for _, sf := range fs {
		f := v.Field(sf.index)
		if sf.omitempty && isEmpty(f) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(appendString(b, sf.name), ':')
		var err error
		if b, err = e.value(b, f); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendString appends s quoted as json.Marshal quotes it: printable
// ASCII other than the quote, the backslash and the three characters it
// escapes for HTML is copied; any other string is json.Marshal's to write.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			out, _ := json.Marshal(s) // a string always encodes
			return append(b, out...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

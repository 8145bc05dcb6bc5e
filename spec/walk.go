package spec

import (
	"encoding"
	"encoding/json"
	"reflect"

	"github.com/nookrun/nook/internal/jsonread"
)

// walker decodes a document into any Go value as json.Unmarshal does,
// with a jsonread.Reader and reflection on the values it meets, but
// without encoding/json's decoders: encoding/json builds one for every
// type a value's type can reach on that type's first use in a process
// (for a Spec, most of a millisecond; field by field, a quarter), where
// the walker looks only at the fields a document sets and keeps no more
// than their names. A kind it has no need to read itself (floats,
// interfaces, arrays, byte slices, structs with fields embedded or with
// options other than omitempty, maps with keys that are not strings, types
// that decode themselves) is handed to json.Unmarshal, value by value.
//
// It stops at the first thing json.Unmarshal would refuse, without
// saying it as well: Decode then decodes again the slow way, for an error
// that names the field.
type walker struct {
	r      *jsonread.Reader
	fields plainFields
	// own says whether a type decodes itself (json.Unmarshaler,
	// encoding.TextUnmarshaler): none of the runtime spec's does today
	own map[reflect.Type]bool
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// ownDecoder reports whether v's type decodes itself, as json.Unmarshal
// would then let it.
func (w *walker) ownDecoder(v reflect.Value) bool {
	t := v.Type()
	own, ok := w.own[t]
	if !ok {
		pt := reflect.PointerTo(t)
		own = pt.Implements(unmarshalerType) || pt.Implements(textUnmarshalerType)
		w.own[t] = own
	}
	return own
}

func walk(b []byte, v any) error {
	w := &walker{r: jsonread.New(b), fields: plainFields{}, own: map[reflect.Type]bool{}}
	if err := w.value(reflect.ValueOf(v).Elem()); err != nil {
		return err
	}
	return w.r.End()
}

// value reads the next value into v, whose current value it changes as
// json.Unmarshal would: null makes a pointer, slice, map or interface
// nil and leaves anything else; a pointer that is not nil is read
// through; a struct keeps the fields the object does not name.
func (w *walker) value(v reflect.Value) error {
	if v.Kind() != reflect.Pointer && w.ownDecoder(v) {
		return w.unmarshal(v) // null included, which it is given too
	}
	null, err := w.r.Null()
	if err != nil {
		return err
	}
	if null {
		switch v.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
			v.SetZero()
		}
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return w.value(v.Elem())
	case reflect.Struct:
		return w.object(v)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return w.unmarshal(v) // base64
		}
		return w.slice(v)
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return w.unmarshal(v)
		}
		return w.mapOf(v)
	case reflect.String:
		s, err := w.r.String()
		if err == nil {
			v.SetString(s)
		}
		return err
	case reflect.Bool:
		b, err := w.r.Bool()
		if err == nil {
			v.SetBool(b)
		}
		return err
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := w.r.Int(v.Type().Bits())
		if err == nil {
			v.SetInt(n)
		}
		return err
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n, err := w.r.Uint(v.Type().Bits())
		if err == nil {
			v.SetUint(n)
		}
		return err
	}
	return w.unmarshal(v)
}

// unmarshal hands the next value to json.Unmarshal.
func (w *walker) unmarshal(v reflect.Value) error {
	raw, err := w.r.Raw()
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v.Addr().Interface())
}

func (w *walker) object(v reflect.Value) error {
	fs := w.fields.of(v.Type())
	if fs == nil {
		return w.unmarshal(v)
	}
	return w.r.Object(func(key string) error {
		f, ok := lookup(fs, key)
		if !ok {
			return w.r.Skip()
		}
		return w.value(v.Field(f.index))
	})
}

// slice reads an array as json.Unmarshal does: into the elements there
// are, then new ones; [] is an empty slice, not nil.
func (w *walker) slice(v reflect.Value) error {
	n := 0
	err := w.r.Array(func() error {
		if n == v.Len() {
			v.Set(reflect.Append(v, reflect.New(v.Type().Elem()).Elem()))
		}
		n++
		return w.value(v.Index(n - 1))
	})
	if err != nil {
		return err
	}
	if n < v.Len() {
		v.SetLen(n)
	}
	if n == 0 {
		v.Set(reflect.MakeSlice(v.Type(), 0, 0))
	}
	return nil
}

// mapOf reads an object into a map with string keys: each value new,
// added to what the map holds.
func (w *walker) mapOf(v reflect.Value) error {
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	kt, et := v.Type().Key(), v.Type().Elem()
	return w.r.Object(func(key string) error {
		e := reflect.New(et).Elem()
		if err := w.value(e); err != nil {
			return err
		}
		v.SetMapIndex(reflect.ValueOf(key).Convert(kt), e)
		return nil
	})
}

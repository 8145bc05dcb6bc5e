package jsonread

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Reader reads one JSON document.
type Reader struct {
	d *json.Decoder
	// tok is a token read ahead (by isNull), valid when held
	tok  json.Token
	held bool
}

// New returns a Reader of the document b.
func New(b []byte) *Reader {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return &Reader{d: d}
}

func (r *Reader) next() (json.Token, error) {
	if r.held {
		r.held = false
		return r.tok, nil
	}
	return r.d.Token()
}

// isNull reads a null, or leaves what comes next for the next read.
func (r *Reader) isNull() (bool, error) {
	t, err := r.next()
	if err != nil {
		return false, err
	}
	if t == nil {
		return true, nil
	}
	r.tok, r.held = t, true
	return false, nil
}

// Null reports whether the next value is null, and reads it if so: for a
// value that null leaves as it is.
func (r *Reader) Null() (bool, error) { return r.isNull() }

// End checks that nothing but white space follows the document.
func (r *Reader) End() error {
	if _, err := r.next(); err != io.EOF {
		if err == nil {
			err = errors.New("data after the document")
		}
		return err
	}
	return nil
}

func want(what string, got json.Token) error {
	if got == nil {
		got = "null"
	}
	return fmt.Errorf("want %s, got %v", what, got)
}

// Object reads an object, calling field with each key; field reads the
// value (or Skip skips it). null is an object without keys.
func (r *Reader) Object(field func(key string) error) error {
	t, err := r.next()
	if err != nil || t == nil {
		return err
	}
	if t != json.Delim('{') {
		return want("an object", t)
	}
	for {
		t, err := r.next()
		if err != nil {
			return err
		}
		if t == json.Delim('}') {
			return nil
		}
		key, ok := t.(string)
		if !ok {
			return want("a key", t)
		}
		if err := field(key); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
}

// Array reads an array, calling elem for each element, which reads it.
// null is an empty array.
func (r *Reader) Array(elem func() error) error {
	t, err := r.next()
	if err != nil || t == nil {
		return err
	}
	if t != json.Delim('[') {
		return want("an array", t)
	}
	for i := 0; ; i++ {
		end, err := r.isEnd()
		if err != nil || end {
			return err
		}
		if err := elem(); err != nil {
			return fmt.Errorf("[%d]: %w", i, err)
		}
	}
}

// isEnd reads the end of an array, or leaves what comes next.
func (r *Reader) isEnd() (bool, error) {
	t, err := r.next()
	if err != nil {
		return false, err
	}
	if t == json.Delim(']') {
		return true, nil
	}
	r.tok, r.held = t, true
	return false, nil
}

// Skip reads a value of any kind, objects and arrays whole.
func (r *Reader) Skip() error {
	depth := 0
	for {
		t, err := r.next()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// String reads a string; null leaves "".
func (r *Reader) String() (string, error) {
	t, err := r.next()
	if err != nil || t == nil {
		return "", err
	}
	s, ok := t.(string)
	if !ok {
		return "", want("a string", t)
	}
	return s, nil
}

// Strings reads an array of strings.
func (r *Reader) Strings() ([]string, error) {
	return List(r, func(s *string) (err error) {
		*s, err = r.String()
		return err
	})
}

// List reads an array into a slice, with elem reading each element: null
// leaves it nil, [] makes it empty (not nil), as json.Unmarshal does.
func List[T any](r *Reader, elem func(*T) error) ([]T, error) {
	null, err := r.isNull()
	if err != nil || null {
		return nil, err
	}
	out := []T{}
	err = r.Array(func() error {
		var v T
		err := elem(&v)
		out = append(out, v)
		return err
	})
	return out, err
}

// Ptr reads a value for a pointer with decode: null leaves it nil.
func Ptr[T any](r *Reader, decode func(*Reader, *T) error) (*T, error) {
	if null, err := r.isNull(); err != nil || null {
		return nil, err
	}
	v := new(T)
	return v, decode(r, v)
}

// Bool reads true or false; null leaves false.
func (r *Reader) Bool() (bool, error) {
	t, err := r.next()
	if err != nil || t == nil {
		return false, err
	}
	b, ok := t.(bool)
	if !ok {
		return false, want("true or false", t)
	}
	return b, nil
}

func (r *Reader) number() (string, error) {
	t, err := r.next()
	if err != nil || t == nil {
		return "", err
	}
	n, ok := t.(json.Number)
	if !ok {
		return "", want("a number", t)
	}
	return string(n), nil
}

// Int reads an integer of bits bits; null leaves 0.
func (r *Reader) Int(bits int) (int64, error) {
	n, err := r.number()
	if err != nil || n == "" {
		return 0, err
	}
	return strconv.ParseInt(n, 10, bits)
}

// Uint reads an unsigned integer of bits bits; null leaves 0.
func (r *Reader) Uint(bits int) (uint64, error) {
	n, err := r.number()
	if err != nil || n == "" {
		return 0, err
	}
	return strconv.ParseUint(n, 10, bits)
}

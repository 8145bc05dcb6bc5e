package jsonread

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Reader reads one JSON document.
type Reader struct {
	b []byte
	i int // the next byte to read
}

// New returns a Reader of the document b.
func New(b []byte) *Reader { return &Reader{b: b} }

// maxDepth is how deep Skip goes, as deep as encoding/json goes.
const maxDepth = 10000

func (r *Reader) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %d: %s", r.i, fmt.Sprintf(format, args...))
}

// peek returns the next byte that is not white space (0 at the end).
func (r *Reader) peek() byte {
	for r.i < len(r.b) {
		switch c := r.b[r.i]; c {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return c
		}
	}
	return 0
}

// literal reads word (true, false, null), which must not run on into
// more letters.
func (r *Reader) literal(word string) error {
	end := r.i + len(word)
	if end > len(r.b) || string(r.b[r.i:end]) != word || end < len(r.b) && isLetter(r.b[end]) {
		return r.errorf("want %s", word)
	}
	r.i = end
	return nil
}

func isLetter(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// Null reports whether the next value is null, and reads it if so: for a
// value that null leaves as it is.
func (r *Reader) Null() (bool, error) {
	if r.peek() != 'n' {
		return false, nil
	}
	return true, r.literal("null")
}

// End checks that nothing but white space follows the document.
func (r *Reader) End() error {
	if r.peek() != 0 || r.i != len(r.b) {
		return r.errorf("data after the document")
	}
	return nil
}

// Object reads an object, calling field with each key; field reads the
// value (or Skip skips it). null is an object without keys.
func (r *Reader) Object(field func(key string) error) error {
	if null, err := r.Null(); err != nil || null {
		return err
	}
	if r.peek() != '{' {
		return r.errorf("want an object")
	}
	r.i++
	if r.peek() == '}' {
		r.i++
		return nil
	}
	for {
		if r.peek() != '"' {
			return r.errorf("want a key")
		}
		key, err := r.String()
		if err != nil {
			return err
		}
		if r.peek() != ':' {
			return r.errorf("want a colon after %q", key)
		}
		r.i++
		if err := field(key); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		switch r.peek() {
		case ',':
			r.i++
		case '}':
			r.i++
			return nil
		default:
			return r.errorf("want a comma or the object's end")
		}
	}
}

// Array reads an array, calling elem for each element, which reads it.
// null is an empty array.
func (r *Reader) Array(elem func() error) error {
	if null, err := r.Null(); err != nil || null {
		return err
	}
	if r.peek() != '[' {
		return r.errorf("want an array")
	}
	r.i++
	if r.peek() == ']' {
		r.i++
		return nil
	}
	for n := 0; ; n++ {
		if err := elem(); err != nil {
			return fmt.Errorf("[%d]: %w", n, err)
		}
		switch r.peek() {
		case ',':
			r.i++
		case ']':
			r.i++
			return nil
		default:
			return r.errorf("want a comma or the array's end")
		}
	}
}

// Skip reads a value of any kind, objects and arrays whole.
func (r *Reader) Skip() error { return r.skip(0) }

// Raw reads a value of any kind as Skip does and returns its bytes, for
// a value left to json.Unmarshal.
func (r *Reader) Raw() ([]byte, error) {
	r.peek()
	start := r.i
	if err := r.skip(0); err != nil {
		return nil, err
	}
	return r.b[start:r.i], nil
}

func (r *Reader) skip(depth int) error {
	if depth > maxDepth {
		return r.errorf("nested too deep")
	}
	switch c := r.peek(); {
	case c == '{':
		return r.Object(func(string) error { return r.skip(depth + 1) })
	case c == '[':
		return r.Array(func() error { return r.skip(depth + 1) })
	case c == '"':
		_, err := r.String()
		return err
	case c == 't' || c == 'f':
		_, err := r.Bool()
		return err
	case c == 'n':
		return r.literal("null")
	default:
		_, err := r.number()
		return err
	}
}

// String reads a string; null leaves "".
func (r *Reader) String() (string, error) {
	if null, err := r.Null(); err != nil || null {
		return "", err
	}
	if r.peek() != '"' {
		return "", r.errorf("want a string")
	}
	start := r.i
	plain := true
	for r.i++; r.i < len(r.b); r.i++ {
		switch c := r.b[r.i]; {
		case c == '"':
			r.i++
			if plain {
				return string(r.b[start+1 : r.i-1]), nil
			}
			// escapes, control characters and UTF-8 (valid or not, which
			// encoding/json replaces) are rare here: they are left to
			// encoding/json, for a string, which needs no reflection of a
			// struct
			var s string
			if err := json.Unmarshal(r.b[start:r.i], &s); err != nil {
				return "", fmt.Errorf("offset %d: %w", start, err)
			}
			return s, nil
		case c == '\\':
			plain = false
			r.i++
		case c < 0x20 || c >= 0x80:
			plain = false
		}
	}
	return "", r.errorf("string not ended")
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
	if null, err := r.Null(); err != nil || null {
		return nil, err
	}
	out := []T{}
	err := r.Array(func() error {
		var v T
		err := elem(&v)
		out = append(out, v)
		return err
	})
	return out, err
}

// Ptr reads a value for a pointer with decode: null leaves it nil.
func Ptr[T any](r *Reader, decode func(*Reader, *T) error) (*T, error) {
	if null, err := r.Null(); err != nil || null {
		return nil, err
	}
	v := new(T)
	return v, decode(r, v)
}

// Bool reads true or false; null leaves false.
func (r *Reader) Bool() (bool, error) {
	switch r.peek() {
	case 't':
		return true, r.literal("true")
	case 'f':
		return false, r.literal("false")
	case 'n':
		return false, r.literal("null")
	}
	return false, r.errorf("want true or false")
}

// number reads a number as JSON writes one ("" for null).
func (r *Reader) number() (string, error) {
	if null, err := r.Null(); err != nil || null {
		return "", err
	}
	start := r.i
	digits := func() int {
		n := 0
		for r.i < len(r.b) && r.b[r.i] >= '0' && r.b[r.i] <= '9' {
			r.i++
			n++
		}
		return n
	}
	if r.i < len(r.b) && r.b[r.i] == '-' {
		r.i++
	}
	first := r.i
	if n := digits(); n == 0 || n > 1 && r.b[first] == '0' {
		r.i = start
		return "", r.errorf("want a number")
	}
	if r.i < len(r.b) && r.b[r.i] == '.' {
		r.i++
		if digits() == 0 {
			return "", r.errorf("want a digit after the point")
		}
	}
	if r.i < len(r.b) && (r.b[r.i] == 'e' || r.b[r.i] == 'E') {
		r.i++
		if r.i < len(r.b) && (r.b[r.i] == '+' || r.b[r.i] == '-') {
			r.i++
		}
		if digits() == 0 {
			return "", r.errorf("want a digit in the exponent")
		}
	}
	return string(r.b[start:r.i]), nil
}

// Int reads an integer of bits bits; null leaves 0.
func (r *Reader) Int(bits int) (int64, error) {
	n, err := r.number()
	if err != nil || n == "" {
		return 0, err
	}
	v, err := strconv.ParseInt(n, 10, bits)
	if err != nil {
		return 0, r.errorf("%s: %v", n, errors.Unwrap(err))
	}
	return v, nil
}

// Uint reads an unsigned integer of bits bits; null leaves 0.
func (r *Reader) Uint(bits int) (uint64, error) {
	n, err := r.number()
	if err != nil || n == "" {
		return 0, err
	}
	v, err := strconv.ParseUint(n, 10, bits)
	if err != nil {
		return 0, r.errorf("%s: %v", n, errors.Unwrap(err))
	}
	return v, nil
}

package jsonread

import (
	"encoding/json"
	"reflect"
	"testing"
)

// A decoder reads the keys it knows and skips the others whole, however
// deep; null leaves a list nil and [] makes it empty; the document must
// end where its value does.
func TestReader(t *testing.T) {
	doc := `{"skip":{"a":[1,{"b":[null,true,"]"]}],"c":{}},"list":[],"none":null,"n":-3,"u":18446744073709551615,"s":"x\"y"} `
	r := New([]byte(doc))
	var (
		list, none []string
		n          int64
		u          uint64
		s          string
	)
	err := r.Object(func(key string) (err error) {
		switch key {
		case "list":
			list, err = r.Strings()
		case "none":
			none, err = r.Strings()
		case "n":
			n, err = r.Int(8)
		case "u":
			u, err = r.Uint(64)
		case "s":
			s, err = r.String()
		default:
			err = r.Skip()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.End(); err != nil {
		t.Fatal(err)
	}
	if list == nil || len(list) != 0 || none != nil || n != -3 || u != 1<<64-1 || s != `x"y` {
		t.Errorf("got list %#v none %#v n %d u %d s %q", list, none, n, u, s)
	}
	p, err := Ptr(New([]byte(`null`)), func(r *Reader, v *int64) (err error) { *v, err = r.Int(64); return err })
	if err != nil || p != nil {
		t.Errorf("null pointer: %v, %v", p, err)
	}
	lr := New([]byte(`[1,2]`))
	got, err := List(lr, func(v *uint64) (err error) { *v, err = lr.Uint(64); return err })
	if err != nil || !reflect.DeepEqual(got, []uint64{1, 2}) {
		t.Errorf("list: %v, %v", got, err)
	}
}

// What is not the kind asked for, out of range, or followed by more is
// an error, never a zero taken for a value.
func TestReaderRefuses(t *testing.T) {
	for _, c := range []struct {
		doc  string
		read func(r *Reader) error
	}{
		{`"1"`, func(r *Reader) error { _, err := r.Int(64); return err }},
		{`128`, func(r *Reader) error { _, err := r.Int(8); return err }},
		{`-1`, func(r *Reader) error { _, err := r.Uint(64); return err }},
		{`1.5`, func(r *Reader) error { _, err := r.Int(64); return err }},
		{`1`, func(r *Reader) error { _, err := r.String(); return err }},
		{`"true"`, func(r *Reader) error { _, err := r.Bool(); return err }},
		{`{"a":1}`, func(r *Reader) error { _, err := r.Strings(); return err }},
		{`[1]`, func(r *Reader) error { return r.Object(func(string) error { return nil }) }},
		{`{} {}`, func(r *Reader) error { r.Skip(); return r.End() }},
		{`{"a":`, func(r *Reader) error { return r.Skip() }},
	} {
		if err := c.read(New([]byte(c.doc))); err == nil {
			t.Errorf("%s: no error", c.doc)
		}
	}
}

// Skip takes exactly the documents json.Valid takes.
func FuzzSkipAsValid(f *testing.F) {
	for _, s := range []string{
		`{"a":[1,-0.5e+3,"\u00e9\"",true,false,null,{}],"b":{"c":[]}}`, `[]`, `"x"`, `0`, `-`, `01`, `1.`, `1e`,
		`{"a":1,}`, `[1,]`, `{"a"}`, `{,}`, `nul`, `truex`, `"\x"`, "\"\x01\"", `"\ud800"`, " [ 1 , 2 ] ", `{"a":1}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := New(b)
		err := r.Skip()
		if err == nil {
			err = r.End()
		}
		if valid := json.Valid(b); valid != (err == nil) {
			t.Errorf("%q: json.Valid %v, Skip: %v", b, valid, err)
		}
	})
}

// A string reads as json.Unmarshal reads it, escapes and all.
func FuzzStringAsJSON(f *testing.F) {
	for _, s := range []string{`"plain"`, `"\u00e9\n\"q\"\/"`, `"\ud83d\ude00"`, `"\ud800"`, "\"\xff\"", `"é"`, `"a`, `x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want string
		werr := json.Unmarshal(b, &want)
		r := New(b)
		got, err := r.String()
		if err == nil {
			err = r.End()
		}
		if (werr == nil) != (err == nil) || got != want && err == nil {
			t.Errorf("%q: json.Unmarshal %q, %v; String %q, %v", b, want, werr, got, err)
		}
	})
}

package state

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/nookrun/nook/internal/testutil"
)

// state.json is read as json.Unmarshal reads it: every field of a State
// (testutil.Fill sets them all, so a field added later and not read here
// fails), the empty values json.Marshal leaves out or writes as null, and
// what a hand or another version may have written (unknown keys, null).
func TestDecodeStateAsJSON(t *testing.T) {
	var full State
	testutil.Fill(&full)
	b, err := json.Marshal(&full)
	if err != nil {
		t.Fatal(err)
	}
	docs := []string{
		string(b),
		`{}`,
		`{"format":"nook.state/1","id":"x","status":"running","init":{"pid":7,"start_time":18446744073709551615},"command":[],"annotations":{},"undo":[]}`,
		`{"future":{"a":[1,{"b":null}],"c":"d"},"id":"x","started":null,"exit":null,"limits":null,"command":null,"annotations":null,"created":null}`,
		` {"id":"x","exit":{},"limits":{},"undo":[{}],"name":"\u00e9\n\"q\""} `,
	}
	for _, doc := range docs {
		var want, got State
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatalf("json.Unmarshal %s: %v", doc, err)
		}
		if err := decodeState([]byte(doc), &got); err != nil {
			t.Errorf("decodeState %s: %v", doc, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("decodeState %s:\n got %+v\nwant %+v", doc, got, want)
		}
	}
}

// What json.Unmarshal refuses, decodeState refuses: a damaged or cut
// short file is reported as damaged, never half read.
func TestDecodeStateRefuses(t *testing.T) {
	for _, doc := range []string{
		``,
		`{"id":"x"`,
		`{"id":"x"}{}`,
		`{"id":"x"} x`,
		`[]`,
		`{"id":7}`,
		`{"init":{"pid":"7"}}`,
		`{"init":{"pid":1.5}}`,
		`{"init":{"start_time":-1}}`,
		`{"owner":99999999999999999999}`,
		`{"command":"sh"}`,
		`{"command":[1]}`,
		`{"created":"yesterday"}`,
		`{"nook_init":"yes"}`,
		`{"annotations":{"a":1}}`,
		`{"undo":[{"kind":1}]}`,
		`{"exit":[]}`,
		`{"id":"x",}`,
	} {
		var want, got State
		if json.Unmarshal([]byte(doc), &want) == nil {
			t.Fatalf("json.Unmarshal takes %s", doc)
		}
		if err := decodeState([]byte(doc), &got); err == nil {
			t.Errorf("decodeState takes %s: %+v", doc, got)
		}
	}
}

// state.json is written as json.Marshal writes a State, to the byte:
// every field set (testutil.Fill, so that a field added later and not
// written fails), none set, and strings that encoding/json escapes.
func TestEncodeStateIsMarshal(t *testing.T) {
	var full State
	testutil.Fill(&full)
	odd := State{
		ID:          "<a&b>",
		Name:        "tab\there \"quoted\" back\\slash \u00e9 \u2028 \xff",
		Command:     []string{"", "sh", "-c", "echo <&>"},
		Annotations: map[string]string{"z": "1", "a": "\x00", "m\u2029": ""},
		Undo:        []Undo{{}},
		Limits:      &TimeLimits{},
		Exit:        &Exit{},
		Started:     &time.Time{},
	}
	for name, s := range map[string]*State{"every field": &full, "empty": {}, "odd strings": &odd} {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encodeState(s)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if string(got) != string(want) {
			t.Errorf("%s: encodeState gives\n%s\njson.Marshal\n%s", name, got, want)
		}
	}
	bad := State{Created: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := encodeState(&bad); err == nil {
		t.Error("a time json.Marshal refuses: no error")
	}
}

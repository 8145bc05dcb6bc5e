package spec

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// fill sets every field reachable from v to a value that is not its zero
// value (one element in each slice and map), so that a spec that uses
// every field of the runtime spec can be written.
func fill(v reflect.Value, depth int) {
	if depth > 12 {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), depth+1)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), depth+1)
			}
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), depth+1)
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, depth+1)
		fill(e, depth+1)
		v.SetMapIndex(k, e)
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1)
	}
}

// specDocs are documents json.Unmarshal reads into a Spec, for Decode
// and the walk to read alike: every field of the runtime spec, null, keys
// in another case, unknown keys, a key given twice (merged), escapes and
// text beyond ASCII, extreme numbers.
func specDocs(t *testing.T) map[string]string {
	var full specs.Spec
	fill(reflect.ValueOf(&full).Elem(), 0)
	fullJSON, err := json.Marshal(&full)
	if err != nil {
		t.Fatal(err)
	}
	example, _ := json.Marshal(Example(false))
	return map[string]string{
		"every field":      string(fullJSON),
		"example":          string(example),
		"null linux":       `{"ociVersion":"1.0.2","linux":null,"process":{"args":["x"]}}`,
		"other case":       `{"OCIVERSION":"1.0.2","Process":{"args":["x"]},"LINUX":{"Resources":{"pids":{"limit":3}}}}`,
		"unknown keys":     `{"ociVersion":"1.0.2","nook":1,"linux":{"nook":[1],"resources":{"nook":{}}}}`,
		"empty":            `{}`,
		"null":             `null`,
		"empty key":        `{"":1,"ociVersion":"1.0.2"}`,
		"twice merges":     `{"process":{"args":["a","b"],"cwd":"/x"},"process":{"args":["c"],"env":["A=1"]}}`,
		"array elements":   `{"mounts":[{"destination":"/a","options":["ro"]}],"mounts":[{"type":"tmpfs"},{"source":"s"}]}`,
		"empty array":      `{"process":{"args":[]},"mounts":[]}`,
		"null elements":    `{"linux":{"uidMappings":null,"sysctl":null,"resources":null}}`,
		"map twice":        `{"annotations":{"a":"1","b":"2"},"annotations":{"b":"3"}}`,
		"interface":        `{"windows":{"credentialSpec":{"a":[1,2.5,"x"]}}}`,
		"escapes":          `{"hostname":"h\u00e9\n","process":{"args":["\"q\""]}}`,
		"numbers":          `{"linux":{"resources":{"cpu":{"quota":-1,"shares":1024},"pids":{"limit":0}}},"process":{"oomScoreAdj":-1000}}`,
		"white space":      " {\n\t\"ociVersion\" : \"1.2.0\" ,\r\n\"root\":{ \"path\" : \"r\" } }\n",
		"bytes of unicode": `{"hostname":"ħøšт"}`,
	}
}

// badSpecDocs are documents json.Unmarshal refuses to read into a Spec.
var badSpecDocs = []string{`[]`, `{"process":{"args":"sh"}}`, `{"linux":{"resources":{"memory":{"limit":"1G"}}}}`,
	`{"ociVersion":"1"`, `{"ociVersion":"1"} x`, `{"process":{"user":{"uid":-1}}}`, `{"process":{"user":{"uid":4294967296}}}`,
	`{"process":{"oomScoreAdj":1.5}}`, `{"process":{"terminal":"yes"}}`, `{"process":{"args":[1]}}`, `{"hostname":"a",}`}

// Decode reads a config.json as json.Unmarshal would, and a wrong type is
// an error that names the field.
func TestDecodeIsUnmarshal(t *testing.T) {
	for name, doc := range specDocs(t) {
		var want specs.Spec
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := Decode([]byte(doc))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(got, &want) {
			g, _ := json.Marshal(got)
			t.Errorf("%s: Decode gives\n%s\nUnmarshal\n%s", name, g, doc)
		}
	}
	for _, bad := range badSpecDocs {
		_, err := Decode([]byte(bad))
		var want specs.Spec
		if uerr := json.Unmarshal([]byte(bad), &want); err == nil || uerr == nil {
			t.Errorf("%s: Decode err %v, Unmarshal err %v; want both to fail", bad, err, uerr)
		}
		if strings.Contains(bad, `"args":"sh"`) && !strings.Contains(err.Error(), "process") {
			t.Errorf("%s: %v, want the field named", bad, err)
		}
	}
}

// DecodeHooks reads what Decode reads into the spec's hooks, whatever
// else the document holds, and fails where the document is not JSON.
func TestDecodeHooksIsDecode(t *testing.T) {
	var full specs.Spec
	fill(reflect.ValueOf(&full).Elem(), 0)
	fullJSON, err := json.Marshal(&full)
	if err != nil {
		t.Fatal(err)
	}
	example, _ := json.Marshal(Example(false))
	for name, doc := range map[string]string{
		"every field":   string(fullJSON),
		"no hooks":      string(example),
		"null hooks":    `{"hooks":null}`,
		"other case":    `{"HOOKS":{"Poststop":[{"path":"/bin/true"}]}}`,
		"bad elsewhere": `{"process":{"args":"sh"},"hooks":{"poststart":[{"path":"/x"}]}}`,
	} {
		var want specs.Spec
		_ = json.Unmarshal([]byte(doc), &want) // the hooks are read even where another field fails
		got, err := DecodeHooks([]byte(doc))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(got, want.Hooks) {
			t.Errorf("%s: DecodeHooks gives %+v, want %+v", name, got, want.Hooks)
		}
	}
	for _, bad := range []string{`[]`, `{"hooks":{"poststart":"x"}}`, `{"ociVersion":"1"`} {
		if _, err := DecodeHooks([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// Encode writes what json.Marshal writes, to the byte: a spec with every
// field set, one with few, and one whose omitempty fields are all empty.
func TestEncodeIsMarshal(t *testing.T) {
	var full specs.Spec
	fill(reflect.ValueOf(&full).Elem(), 0)
	sparse := Example(false)
	sparse.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: new(int64)}}
	for name, s := range map[string]*specs.Spec{"every field": &full, "example": Example(true), "sparse": sparse, "empty": {}, "nil": nil} {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Encode(s)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if string(got) != string(want) {
			t.Errorf("%s: Encode gives\n%s\nMarshal\n%s", name, got, want)
		}
	}
}

// The walk that Decode tries first reads what json.Unmarshal reads,
// merges included (a key given twice), and refuses what it refuses; what
// the walk refuses Decode reads again field by field.
func TestWalkIsUnmarshal(t *testing.T) {
	for name, doc := range specDocs(t) {
		var want, got specs.Spec
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := walk([]byte(doc), &got); err != nil {
			t.Errorf("%s: walk: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(&got, &want) {
			g, _ := json.Marshal(&got)
			w, _ := json.Marshal(&want)
			t.Errorf("%s: walk gives\n%s\nUnmarshal\n%s", name, g, w)
		}
	}
	for _, bad := range badSpecDocs {
		var want, got specs.Spec
		uerr := json.Unmarshal([]byte(bad), &want)
		if err := walk([]byte(bad), &got); err == nil || uerr == nil {
			t.Errorf("%s: walk err %v, Unmarshal err %v; want both to fail", bad, err, uerr)
		}
	}
}

// Whatever the document, the walker never accepts what json.Unmarshal
// refuses, and what both accept they read alike.
func FuzzWalkAsUnmarshal(f *testing.F) {
	example, _ := json.Marshal(Example(true))
	f.Add(string(example))
	f.Add(`{"process":{"args":["a"]},"process":{"cwd":"/"}}`)
	f.Add(`{"linux":{"resources":{"cpu":{"quota":-1}}},"annotations":{"a":"b"}}`)
	f.Fuzz(func(t *testing.T, doc string) {
		var want, got specs.Spec
		uerr := json.Unmarshal([]byte(doc), &want)
		werr := walk([]byte(doc), &got)
		if uerr != nil && werr == nil {
			t.Fatalf("walk accepts what Unmarshal refuses (%v)", uerr)
		}
		if uerr == nil && werr == nil && !reflect.DeepEqual(&got, &want) {
			t.Fatalf("walk and Unmarshal differ")
		}
	})
}

// A type that decodes itself is given its value, null included, as
// json.Unmarshal gives it: none of the runtime spec's does today, and one
// added by a later runtime-spec must not be read field by field.
func TestWalkLeavesSelfDecodersToThem(t *testing.T) {
	type doc struct {
		A selfDecoder  `json:"a"`
		B *selfDecoder `json:"b"`
		C []selfDecoder
	}
	for _, in := range []string{`{"a":{"x":1},"b":[2],"C":["s",null]}`, `{"a":null,"b":null}`} {
		var want, got doc
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatal(err)
		}
		if err := walk([]byte(in), &got); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: walk gives %+v, Unmarshal %+v", in, got, want)
		}
	}
}

type selfDecoder struct{ Raw string }

func (s *selfDecoder) UnmarshalJSON(b []byte) error { s.Raw = "seen " + string(b); return nil }

// Encode quotes strings and orders map keys as json.Marshal does, and
// leaves a type that encodes itself to it.
func TestEncodeStringsMapsAndSelfEncoders(t *testing.T) {
	s := Example(false)
	s.Hostname = `<a href="x">&amp;</a> é ` + "\u2028\x7f\x01\xff"
	s.Annotations = map[string]string{"z": "1", "a": "\\", "é": "2", "": "empty", "<": ">"}
	s.Process.Env = []string{"A=\"b\"", "\t"}
	want, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("Encode gives\n%s\nMarshal\n%s", got, want)
	}
	type doc struct {
		A selfEncoder
		B *selfEncoder
		C []selfEncoder
		D map[string]selfEncoder
	}
	d := doc{B: &selfEncoder{}, C: []selfEncoder{{}}, D: map[string]selfEncoder{"k": {}}}
	want, _ = json.Marshal(&d)
	got, err = newEncoder().value(nil, reflect.ValueOf(&d).Elem())
	if err != nil || string(got) != string(want) {
		t.Errorf("Encode gives %s (%v), Marshal %s", got, err, want)
	}
}

type selfEncoder struct{}

func (*selfEncoder) MarshalJSON() ([]byte, error) { return []byte(`"by pointer"`), nil }

// Whatever spec json.Unmarshal can read, Encode writes what json.Marshal
// writes, to the byte.
func FuzzEncodeAsMarshal(f *testing.F) {
	example, _ := json.Marshal(Example(true))
	f.Add(string(example))
	f.Add(`{"annotations":{"b":"<x>","a":"\u2028"},"hostname":"\u00e9"}`)
	f.Fuzz(func(t *testing.T, doc string) {
		var s specs.Spec
		if json.Unmarshal([]byte(doc), &s) != nil {
			return
		}
		want, err := json.Marshal(&s)
		if err != nil {
			return
		}
		got, err := Encode(&s)
		if err != nil || string(got) != string(want) {
			t.Fatalf("Encode gives %s (%v), Marshal %s", got, err, want)
		}
	})
}

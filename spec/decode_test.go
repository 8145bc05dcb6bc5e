package spec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A spec decoded in parts (decode) is the spec json.Unmarshal makes of
// the whole document, and a document that does not decode gets
// json.Unmarshal's own error.
func TestDecodeIsJSONUnmarshal(t *testing.T) {
	full, err := json.Marshal(&specs.Spec{
		Version:     specs.Version,
		Process:     &specs.Process{Args: []string{"/bin/true"}, Cwd: "/", Env: []string{"A=1"}, Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}}, Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 8, Soft: 8}}},
		Root:        &specs.Root{Path: "rootfs", Readonly: true},
		Hostname:    "h",
		Mounts:      []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}},
		Hooks:       &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/true"}}},
		Annotations: map[string]string{"a": "b"},
		Linux: &specs.Linux{
			Namespaces:  []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace, Path: "/run/netns/x"}},
			Resources:   &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}},
			Seccomp:     &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow}}},
			MaskedPaths: []string{"/proc/kcore"},
		},
		Windows: &specs.Windows{LayerFolders: []string{`C:\l`}},
		VM:      &specs.VM{Kernel: specs.VMKernel{Path: "/k"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{
		"full":                  string(full),
		"no sections":           `{"ociVersion":"1.0.0","root":{"path":"r"}}`,
		"null sections":         `{"ociVersion":"1.0.0","process":null,"linux":null,"windows":null}`,
		"keys in another case":  `{"ociVersion":"1.0.0","Process":{"args":["x"]},"LINUX":{"sysctl":{"a":"b"}}}`,
		"empty sections":        `{"process":{},"linux":{},"solaris":{},"zos":{},"freebsd":{}}`,
		"unknown fields":        `{"ociVersion":"1.0.0","nosuch":1,"process":{"nosuch":[1]},"linux":{"nosuch":{}}}`,
		"type error in process": `{"ociVersion":"1.0.0","process":{"args":"x"},"linux":{}}`,
		"type error in linux":   `{"ociVersion":"1.0.0","linux":{"namespaces":{}}}`,
		"type error in both":    `{"linux":{"namespaces":{}},"process":{"args":"x"}}`,
		"type error at the top": `{"ociVersion":1,"process":{}}`,
		"type error in windows": `{"windows":{"layerFolders":"x"}}`,
		"syntax error":          `{"process":{"args":["x"]}`,
		"not an object":         `[]`,
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			var want specs.Spec
			wantErr := json.Unmarshal([]byte(doc), &want)
			got, err := decode([]byte(doc))
			if wantErr != nil {
				if err == nil || err.Error() != wantErr.Error() {
					t.Fatalf("error %v, want %v", err, wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, want) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(&want)
				t.Errorf("decoded\n%s\nwant\n%s", g, w)
			}
		})
	}
}

// Every section parts leaves undecoded is one of Spec's, by its JSON name:
// a name that did not match would leave its section out of the spec.
func TestPartsShadowSpecFields(t *testing.T) {
	names := map[string]bool{}
	st := reflect.TypeFor[specs.Spec]()
	for i := range st.NumField() {
		names[strings.Split(st.Field(i).Tag.Get("json"), ",")[0]] = true
	}
	pt := reflect.TypeFor[parts]()
	for i := range pt.NumField() {
		f := pt.Field(i)
		if f.Anonymous {
			continue
		}
		if n := strings.Split(f.Tag.Get("json"), ",")[0]; !names[n] {
			t.Errorf("parts.%s: %q is no field of specs.Spec", f.Name, n)
		}
	}
}

func TestLoadReadsTheBundle(t *testing.T) {
	dir := t.TempDir()
	doc := `{"ociVersion":"1.2.0","process":{"args":["/bin/true"],"cwd":"/"},"root":{"path":"rootfs"},"linux":{"namespaces":[{"type":"pid"}]}}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Root.Path != filepath.Join(dir, "rootfs") || s.Process.Args[0] != "/bin/true" || s.Linux.Namespaces[0].Type != specs.PIDNamespace {
		t.Errorf("loaded %+v", s)
	}
}

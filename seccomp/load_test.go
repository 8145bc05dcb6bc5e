package seccomp

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestLoadOCI(t *testing.T) {
	p, err := Load("testdata/oci.json")
	if err != nil {
		t.Fatal(err)
	}
	if p.DefaultAction != specs.ActErrno || p.DefaultErrnoRet == nil || *p.DefaultErrnoRet != 38 {
		t.Errorf("default action %s %v", p.DefaultAction, p.DefaultErrnoRet)
	}
	if len(p.Syscalls) != 5 || len(p.Architectures) != 3 {
		t.Fatalf("got %d syscalls, %d arches", len(p.Syscalls), len(p.Architectures))
	}
	if f, err := FilterFlags(p); err != nil || f != 4 {
		t.Errorf("flags = %d, %v", f, err)
	}
	prog, err := CompileArch(p, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		d    seccompData
		want uint32
	}{
		{"read", seccompData{nr: 0, arch: auditArchX86_64}, retAllow},
		{"i386 read", seccompData{nr: 3, arch: auditArchI386}, retAllow},
		{"socket (default)", seccompData{nr: 41, arch: auditArchX86_64}, retErrno | 38},
		{"openat O_RDONLY", seccompData{nr: 257, arch: auditArchX86_64, args: [6]uint64{0, 0, 0}}, retAllow},
		{"openat O_RDWR", seccompData{nr: 257, arch: auditArchX86_64, args: [6]uint64{0, 0, 2}}, retErrno | 38},
		{"kill pid 1", seccompData{nr: 62, arch: auditArchX86_64, args: [6]uint64{1, 9}}, retErrno | 1},
		{"kill pid 0", seccompData{nr: 62, arch: auditArchX86_64, args: [6]uint64{0, 9}}, retErrno | 1},
		{"kill pid 77", seccompData{nr: 62, arch: auditArchX86_64, args: [6]uint64{77, 9}}, retAllow},
		{"x32", seccompData{nr: 0x40000000, arch: auditArchX86_64}, retErrno | 38},
	} {
		if got := mustRun(t, prog, tc.d); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, actionString(got), actionString(tc.want))
		}
	}
}

func TestLoadDocker(t *testing.T) {
	data, err := os.ReadFile("testdata/docker.json")
	if err != nil {
		t.Fatal(err)
	}
	names := func(p *specs.LinuxSeccomp) []string {
		var out []string
		for _, sc := range p.Syscalls {
			out = append(out, strings.Join(sc.Names, "+")+":"+string(sc.Action))
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		env    Env
		arches []specs.Arch
		want   []string
	}{
		{"amd64 default caps new kernel", Env{Caps: []string{"CAP_CHOWN"}, GOARCH: "amd64", Kernel: "6.1.0-13-amd64"},
			[]specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
			[]string{"read+write+exit_group+getpid:SCMP_ACT_ALLOW", "arch_prctl:SCMP_ACT_ALLOW",
				"unshare:SCMP_ACT_ALLOW", "ptrace:SCMP_ACT_ALLOW", "clone3:SCMP_ACT_ERRNO"}},
		{"amd64 sys_admin old kernel", Env{Caps: []string{"sys_admin"}, GOARCH: "amd64", Kernel: "4.4.0"},
			[]specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
			[]string{"read+write+exit_group+getpid:SCMP_ACT_ALLOW", "arch_prctl:SCMP_ACT_ALLOW",
				"mount+umount2:SCMP_ACT_ALLOW"}},
		{"arm64", Env{GOARCH: "arm64", Kernel: "5.10"},
			[]specs.Arch{specs.ArchAARCH64, specs.ArchARM},
			[]string{"read+write+exit_group+getpid:SCMP_ACT_ALLOW", "unshare:SCMP_ACT_ALLOW",
				"ptrace:SCMP_ACT_ALLOW", "clone3:SCMP_ACT_ERRNO"}},
	} {
		p, err := Parse(data, tc.env)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !slices.Equal(p.Architectures, tc.arches) {
			t.Errorf("%s: architectures %v, want %v", tc.name, p.Architectures, tc.arches)
		}
		if got := names(p); !slices.Equal(got, tc.want) {
			t.Errorf("%s: syscalls\n got %v\nwant %v", tc.name, got, tc.want)
		}
	}

	// LoadWithCaps evaluates against the running machine.
	p, err := LoadWithCaps("testdata/docker.json", []string{"CAP_SYS_ADMIN"})
	if err != nil {
		t.Fatal(err)
	}
	prog, err := Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	if nr, ok := SyscallNumber(specs.ArchX86_64, "mount"); ok && len(prog) > 0 {
		if got := mustRun(t, prog, seccompData{nr: int32(nr), arch: auditArchX86_64}); got != retAllow {
			t.Errorf("mount with CAP_SYS_ADMIN: %s", actionString(got))
		}
	}
}

func TestParseErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, json, want string
	}{
		{"syntax", `{"defaultAction": `, "decoding profile"},
		{"unknown field", `{"defaultAction": "SCMP_ACT_ALLOW", "sycalls": []}`, `unknown field "sycalls"`},
		{"trailing", `{"defaultAction": "SCMP_ACT_ALLOW"} {}`, "data after"},
		{"both arch forms", `{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"],
			"archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}`, "both architectures and archMap"},
		{"bad archMap", `{"defaultAction": "SCMP_ACT_ALLOW", "archMap": [{"architecture": "SCMP_ARCH_VAX"}]}`, `archMap[0].architecture: unknown architecture "SCMP_ARCH_VAX"`},
		{"name and names", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_ERRNO"}]}`, "syscalls[0]: both name and names"},
		{"bad action", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALOW"}]}`, `syscalls[0]: unknown action "SCMP_ACT_ALOW"`},
		{"bad op", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
			"args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQUAL"}]}]}`, `syscalls[0].args[0]: unknown op "SCMP_CMP_EQUAL"`},
		{"negative value", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
			"args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]}]}`, "decoding profile"},
		{"bad minKernel", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
			"includes": {"minKernel": "four"}}]}`, `syscalls[0].includes: minKernel "four"`},
		{"no names", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ERRNO"}]}`, "syscalls[0]: names is empty"},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".json")
		if err := os.WriteFile(path, []byte(tc.json), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestParseKernelVersion(t *testing.T) {
	for in, want := range map[string][2]int{"4.8": {4, 8}, "6.18.44-fc-v769": {6, 18}, "5.10.0-rc1": {5, 10}, "3.10+": {3, 10}} {
		got, err := parseKernelVersion(in)
		if err != nil || got != want {
			t.Errorf("parseKernelVersion(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "6", "a.b", "-1.2"} {
		if _, err := parseKernelVersion(in); err == nil {
			t.Errorf("parseKernelVersion(%q): no error", in)
		}
	}
}

package container_test

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nookrun/nook/container"
	"github.com/nookrun/nook/sandbox"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var seccompLength = regexp.MustCompile(`seccomp \d+ instructions`)

var update = flag.Bool("update", false, "rewrite testdata/plans/*.txt from what the specs compile to")

func ns(types ...string) []specs.LinuxNamespace {
	var out []specs.LinuxNamespace
	for _, t := range types {
		out = append(out, specs.LinuxNamespace{Type: specs.LinuxNamespaceType(t)})
	}
	return out
}

func i64(v int64) *int64 { return &v }
func intp(v int) *int    { return &v }

// TestPlanGolden compiles a table of specs and compares the start path
// each one gets, step by step, with testdata/plans/NAME.txt. After a
// deliberate change to the start path, `go test ./container -run
// PlanGolden -update` rewrites the files; review the diff.
func TestPlanGolden(t *testing.T) {
	rootfs := t.TempDir()
	bundle := t.TempDir()
	for _, d := range []string{"src", "lower", "upper", "work"} {
		if err := os.Mkdir(filepath.Join(bundle, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		spec func() (*specs.Spec, error)
		opts *container.Options
	}{
		{"minimal", func() (*specs.Spec, error) {
			return &specs.Spec{
				Process: &specs.Process{Args: []string{"/bin/true"}},
				Root:    &specs.Root{Path: rootfs},
				Linux:   &specs.Linux{Namespaces: ns("mount", "pid")},
			}, nil
		}, nil},
		{"container-hooks", func() (*specs.Spec, error) {
			five := 5
			return &specs.Spec{
				Process:     &specs.Process{Args: []string{"/bin/true"}},
				Root:        &specs.Root{Path: rootfs},
				Linux:       &specs.Linux{Namespaces: ns("mount", "pid"), RootfsPropagation: "shared"},
				Annotations: map[string]string{"k": "v"},
				Hooks: &specs.Hooks{
					CreateContainer: []specs.Hook{{Path: "/usr/bin/hook", Args: []string{"hook", "create"}, Env: []string{"A=1"}, Timeout: &five}},
					StartContainer:  []specs.Hook{{Path: "/bin/hook", Args: []string{"hook", "start"}}},
				},
			}, nil
		}, nil},
		{"oci-bundle", func() (*specs.Spec, error) {
			return &specs.Spec{
				Hostname: "box",
				Process: &specs.Process{
					Args: []string{"sh", "-c", "echo hi"}, Env: []string{"PATH=/bin", "TERM=xterm"},
					Cwd: "/work", Terminal: true, ConsoleSize: &specs.Box{Height: 40, Width: 120},
					User:        specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 20}},
					Rlimits:     []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 4096}},
					OOMScoreAdj: intp(100),
					Capabilities: &specs.LinuxCapabilities{
						Bounding: []string{"CAP_CHOWN", "CAP_NET_BIND_SERVICE"}, Effective: []string{"CAP_CHOWN"},
						Permitted: []string{"CAP_CHOWN"}, Inheritable: []string{"CAP_CHOWN"}, Ambient: []string{"CAP_CHOWN"},
					},
					NoNewPrivileges: true,
				},
				Root: &specs.Root{Path: rootfs, Readonly: true},
				Mounts: []specs.Mount{
					{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
					{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
					{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
					{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
					{Destination: "/src", Type: "bind", Source: "src", Options: []string{"rbind", "ro", "rslave"}},
					{Destination: "/merged", Type: "overlay", Source: "overlay", Options: []string{"lowerdir=lower", "upperdir=upper", "workdir=work"}},
				},
				Linux: &specs.Linux{
					Namespaces:        ns("pid", "network", "ipc", "uts", "mount", "cgroup"),
					RootfsPropagation: "slave",
					Devices:           []specs.LinuxDevice{{Path: "/dev/zero"}},
					MaskedPaths:       []string{"/proc/kcore", "/sys/firmware"},
					ReadonlyPaths:     []string{"/proc/sys"},
					Seccomp: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
						{Names: []string{"kexec_load"}, Action: specs.ActErrno},
					}},
				},
			}, nil
		}, &container.Options{Bundle: bundle, Init: true}},
		{"user-and-time", func() (*specs.Spec, error) {
			return &specs.Spec{
				Process: &specs.Process{Args: []string{"/bin/true"}},
				Root:    &specs.Root{Path: rootfs},
				Linux: &specs.Linux{
					Namespaces:  ns("user", "mount", "pid", "time"),
					UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}},
					GIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}},
					TimeOffsets: map[string]specs.LinuxTimeOffset{"boottime": {Secs: 86400}, "monotonic": {Secs: -5, Nanosecs: 7}},
				},
			}, nil
		}, &container.Options{DenySetgroups: true}},
		{"image-overlay-root", func() (*specs.Spec, error) {
			// what package sandbox makes of an image: its layers as an
			// overlay on "/", no root.path
			return &specs.Spec{
				Process: &specs.Process{Args: []string{"/bin/sh"}, Cwd: "/"},
				Root:    &specs.Root{},
				Mounts: []specs.Mount{
					{Destination: "/", Type: "overlay", Source: "overlay", Options: []string{"lowerdir=" + bundle + "/upper:" + bundle + "/lower"}},
					{Destination: "/proc", Type: "proc", Source: "proc"},
				},
				Linux: &specs.Linux{Namespaces: ns("mount", "pid")},
			}, nil
		}, nil},
		{"join-namespaces", func() (*specs.Spec, error) {
			return &specs.Spec{
				Process: &specs.Process{Args: []string{"/bin/true"}},
				Root:    &specs.Root{Path: rootfs},
				Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{
					{Type: "network", Path: "/proc/1/ns/net"}, {Type: "mount"}, {Type: "user", Path: "/proc/1/ns/user"},
				}},
			}, nil
		}, nil},
	}
	if os.Geteuid() == 0 {
		// what `nook run` makes of its flags (as root: no user namespace)
		cases = append(cases, []struct {
			name string
			spec func() (*specs.Spec, error)
			opts *container.Options
		}{
			{"nook-run-default", func() (*specs.Spec, error) {
				c := &sandbox.Config{Args: []string{"/bin/true"}, ClearEnv: true, Env: []string{"PATH=/usr/bin:/bin"}}
				return c.Spec()
			}, &container.Options{Init: true}},
			{"nook-run-rootfs", func() (*specs.Spec, error) {
				c := &sandbox.Config{Args: []string{"sh"}, Rootfs: rootfs, ReadOnly: true, ClearEnv: true,
					Binds:    []sandbox.Bind{{Source: bundle + "/src", Dest: "/src", ReadOnly: true}},
					Tmpfs:    []sandbox.Tmpfs{{Dest: "/scratch", Size: 1 << 20}},
					Hostname: "box", Workdir: "/src", UID: 1000, GID: 1000, TTY: true,
					Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_FSIZE", Soft: 1 << 20, Hard: 1 << 20}},
				}
				return c.Spec()
			}, &container.Options{Init: true}},
		}...)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := c.spec()
			if err != nil {
				t.Fatal(err)
			}
			got, err := container.PlanListing(s, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			got = strings.ReplaceAll(got, rootfs, "$ROOTFS")
			got = strings.ReplaceAll(got, bundle, "$BUNDLE")
			// the filter's length depends on the architectures this
			// kernel can present; package seccomp tests the filter
			got = seccompLength.ReplaceAllString(got, "seccomp N instructions")
			file := filepath.Join("testdata", "plans", c.name+".txt")
			if *update {
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s: the plan differs from %s (run with -update after a deliberate change):\n%s",
					c.name, file, diff(string(want), got))
			}
		})
	}
}

// diff lists the lines that differ, "-" for the golden file, "+" for now.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			b.WriteString("-" + a + "\n+" + c + "\n")
		}
	}
	return b.String()
}

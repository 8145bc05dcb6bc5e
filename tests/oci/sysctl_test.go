package oci

import (
	"os"
	"strings"
	"testing"

	"github.com/nookrun/nook/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// linux.sysctl (a Kubernetes pod's securityContext.sysctls) is written in
// the container's own namespaces: its network and ipc namespace see the
// values, the host keeps its own. A sysctl that is not of a namespace the
// container has apart from the host is refused, naming the field, and
// nothing is left.
func TestSysctl(t *testing.T) {
	oci(t)
	root := stateRoot(t)
	const port, shm = "/proc/sys/net/ipv4/ip_unprivileged_port_start", "/proc/sys/kernel/shmmni"
	hostPort, _ := os.ReadFile(port)
	hostShm, _ := os.ReadFile(shm)
	b := bundle(t, func(s *specs.Spec) {
		s.Process.Args = []string{"cat", port, shm}
		s.Linux.Sysctl = map[string]string{"net.ipv4.ip_unprivileged_port_start": "81", "kernel.shmmni": "1001"}
	})
	if out := nook(t, "--root", root, "run", "--bundle", b, "sysctl-"+testutil.Mark(t)); out != "81\n1001\n" {
		t.Errorf("in the container: %q", out)
	}
	if p, _ := os.ReadFile(port); string(p) != string(hostPort) {
		t.Errorf("the host's %s changed: %q, was %q", port, p, hostPort)
	}
	if s, _ := os.ReadFile(shm); string(s) != string(hostShm) {
		t.Errorf("the host's %s changed: %q, was %q", shm, s, hostShm)
	}

	for name, c := range map[string]struct {
		key  string
		edit func(s *specs.Spec)
		want string
	}{
		"not namespaced":  {"kernel.panic", nil, "would change the host"},
		"host network":    {"net.ipv4.ip_forward", withoutNS(specs.NetworkNamespace), "needs its own network namespace"},
		"host ipc":        {"kernel.shmmax", withoutNS(specs.IPCNamespace), "needs its own ipc namespace"},
		"joined host net": {"net.ipv4.ip_forward", joinNS(specs.NetworkNamespace, "/proc/self/ns/net"), "is the host's"},
		"no name":         {"net..ip_forward", nil, "not a sysctl name"},
	} {
		b := bundle(t, func(s *specs.Spec) {
			s.Process.Args = []string{"true"}
			s.Linux.Sysctl = map[string]string{c.key: "1"}
			if c.edit != nil {
				c.edit(s)
			}
		})
		errOut := nookFails(t, "--root", root, "run", "--bundle", b, "sysctl-bad-"+testutil.Mark(t))
		if !strings.Contains(errOut, "linux.sysctl") || !strings.Contains(errOut, c.want) {
			t.Errorf("%s (%s): %s, want the field and %q", name, c.key, errOut, c.want)
		}
	}
}

func withoutNS(typ specs.LinuxNamespaceType) func(s *specs.Spec) {
	return func(s *specs.Spec) {
		var ns []specs.LinuxNamespace
		for _, n := range s.Linux.Namespaces {
			if n.Type != typ {
				ns = append(ns, n)
			}
		}
		s.Linux.Namespaces = ns
	}
}

func joinNS(typ specs.LinuxNamespaceType, path string) func(s *specs.Spec) {
	return func(s *specs.Spec) {
		withoutNS(typ)(s)
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: typ, Path: path})
	}
}

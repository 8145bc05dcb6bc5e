package oci

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nookrun/nook/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// sharedMounts edits a spec to have no mount namespace of its own, and
// nothing that only a mount namespace of its own makes safe.
func sharedMounts(args ...string) func(s *specs.Spec) {
	return func(s *specs.Spec) {
		withoutNS(specs.MountNamespace)(s)
		s.Process.Args = args
		s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
		s.Root.Readonly = false
	}
}

// A container with no mount namespace of its own shares the caller's:
// nook mounts nothing in it (a mount there would outlive the container),
// warns about the spec's mounts it skips, and chroots the process into
// root.path, as runc and crun do; what joins it with exec is chrooted
// too. What only a mount namespace of its own makes safe is refused.
func TestNoMountNamespace(t *testing.T) {
	oci(t)
	root := stateRoot(t)
	id := "nomnt-" + testutil.Mark(t)
	b := bundle(t, sharedMounts("sleep", "300"))
	f, err := os.Create(filepath.Join(t.TempDir(), "create.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := testutil.Command(t, "--root", root, "create", "--bundle", b, id)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err != nil {
		out, _ := os.ReadFile(f.Name())
		t.Fatalf("create: %v\n%s", err, out)
	}
	t.Cleanup(func() { testutil.Run(t, "--root", root, "delete", "--force", id) })
	if out, _ := os.ReadFile(f.Name()); !strings.Contains(string(out), "warning: mounts: /proc") {
		t.Errorf("create's stderr: %q, want a warning naming the skipped mounts", out)
	}
	pid := stateOf(t, root, id).Pid
	ours, _ := os.Readlink("/proc/self/ns/mnt")
	if theirs, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid)); theirs != ours {
		t.Errorf("the container's mount namespace %q, want the caller's %q", theirs, ours)
	}
	rootfs, _ := filepath.EvalSymlinks(filepath.Join(b, "rootfs"))
	if r, _ := os.Readlink(fmt.Sprintf("/proc/%d/root", pid)); r != rootfs {
		t.Errorf("the container's root %q, want %s", r, rootfs)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), rootfs) {
		t.Errorf("mounts made in the caller's namespace under %s:\n%s", rootfs, mi)
	}
	nook(t, "--root", root, "start", id)
	if got, want := execRoot(t, root, id), rootNames(rootfs); !slices.Equal(got, want) {
		t.Errorf("exec sees / as %q, want the container's root %q", got, want)
	}
	nook(t, "--root", root, "delete", "--force", id)

	for field, edit := range map[string]func(s *specs.Spec){
		"linux.maskedPaths":   func(s *specs.Spec) { s.Linux.MaskedPaths = []string{"/proc/kcore"} },
		"linux.readonlyPaths": func(s *specs.Spec) { s.Linux.ReadonlyPaths = []string{"/proc/sys"} },
		"root.readonly":       func(s *specs.Spec) { s.Root.Readonly = true },
	} {
		b := bundle(t, func(s *specs.Spec) { sharedMounts("true")(s); edit(s) })
		if errOut := nookFails(t, "--root", root, "run", "--bundle", b, "nomnt-bad-"+testutil.Mark(t)); !strings.Contains(errOut, field) || !strings.Contains(errOut, "mount namespace") {
			t.Errorf("%s without a mount namespace: %q, want a refusal naming it", field, errOut)
		}
	}
}

// A mount namespace given by path is joined and, being someone else's,
// left as it is: the process is chrooted into root.path, nothing is
// mounted in it; exec joins it chrooted the same way.
func TestJoinMountNamespace(t *testing.T) {
	oci(t)
	need(t, "unshare")
	root := stateRoot(t)
	holder := exec.Command("unshare", "--mount", "sleep", "300")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Process.Kill(); holder.Wait() })
	ns := fmt.Sprintf("/proc/%d/ns/mnt", holder.Process.Pid)
	ours, _ := os.Readlink("/proc/self/ns/mnt")
	var want string
	for want == "" || want == ours {
		// until unshare has made it
		want, _ = os.Readlink(ns)
	}
	id := "joinmnt-" + testutil.Mark(t)
	b := bundle(t, func(s *specs.Spec) {
		sharedMounts("sleep", "300")(s)
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.MountNamespace, Path: ns})
	})
	create(t, root, b, id)
	t.Cleanup(func() { testutil.Run(t, "--root", root, "delete", "--force", id) })
	pid := stateOf(t, root, id).Pid
	if got, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid)); got != want {
		t.Errorf("the container's mount namespace %q, want the joined %q", got, want)
	}
	rootfs, _ := filepath.EvalSymlinks(filepath.Join(b, "rootfs"))
	if r, _ := os.Readlink(fmt.Sprintf("/proc/%d/root", pid)); r != rootfs {
		t.Errorf("the container's root %q, want %s", r, rootfs)
	}
	mi, _ := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", holder.Process.Pid))
	if strings.Contains(string(mi), rootfs) {
		t.Errorf("mounts made in the joined namespace under %s:\n%s", rootfs, mi)
	}
	nook(t, "--root", root, "start", id)
	if got, want := execRoot(t, root, id), rootNames(rootfs); !slices.Equal(got, want) {
		t.Errorf("exec sees / as %q, want the container's root %q", got, want)
	}
	nook(t, "--root", root, "delete", "--force", id)
}

// execRoot lists "/" as a command exec'd into the container sees it.
func execRoot(t *testing.T, root, id string) []string {
	t.Helper()
	got := strings.Fields(nook(t, "--root", root, "exec", id, "ls", "-a", "/"))
	return slices.DeleteFunc(got, func(n string) bool { return n == "." || n == ".." })
}

// rootNames lists dir, as ls does.
func rootNames(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

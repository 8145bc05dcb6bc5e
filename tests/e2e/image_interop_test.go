package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/nookrun/nook/internal/testutil"
)

// Images that other tools made: umoci's layouts and archives, skopeo's
// copies, podman's saves. Each is imported and run.

func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s (scripts/install-deps.sh installs it)", tool)
		}
	}
}

func sh1(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, testutil.Quote(args), err, out)
	}
}

// A layout that umoci built (a busybox root inserted, a file whited out
// in a second layer), imported as a directory and as a tar of it.
func TestImageFromUmoci(t *testing.T) {
	e2e(t)
	need(t, "umoci")
	dir := t.TempDir()
	lay := filepath.Join(dir, "layout")
	root := testutil.BusyboxRootfs(t)
	sh1(t, "umoci", "init", "--layout", lay)
	sh1(t, "umoci", "new", "--image", lay+":bb")
	sh1(t, "umoci", "insert", "--image", lay+":bb", root, "/")
	sh1(t, "umoci", "insert", "--image", lay+":bb", "--whiteout", "/etc/group")
	sh1(t, "umoci", "config", "--image", lay+":bb", "--config.cmd", "/bin/sh", "--config.env", "PATH=/bin", "--config.workingdir", "/tmp")
	arch := filepath.Join(dir, "bb.tar")
	sh1(t, "tar", "-C", lay, "-cf", arch, ".")

	store := filepath.Join(dir, "store")
	nook(t, "image", "import", "-q", "--store", store, lay)
	nook(t, "image", "import", "-q", "--store", store, "--name", "umoci/archive:1", arch)
	for _, ref := range []string{"bb", "umoci/archive:1"} {
		got := nookLine(t, runImage(t, store, ref, "--", "sh", "-c", "test -e /etc/group || echo $(pwd) $(cat /etc/passwd | wc -l)")...)
		if got != "/tmp 2" {
			t.Errorf("%s: %q, want /tmp 2 (workdir, passwd there, group whited out)", ref, got)
		}
	}
}

// skopeo copies from the test's registry to an OCI archive and a
// docker-save archive; podman pulls the same image into a store of the
// test's own (vfs: no mounts) and saves it.
func TestImageFromSkopeoAndPodman(t *testing.T) {
	e2e(t)
	need(t, "skopeo", "podman")
	dir := t.TempDir()
	reg := testutil.Registry(t)
	ref := reg + "/interop/bb:1"
	testutil.Push(t, ref, testutil.BusyboxImage(t, v1.Config{Env: []string{"PATH=/bin", "FROM=registry"}}))

	ociArch := filepath.Join(dir, "oci.tar")
	dockerArch := filepath.Join(dir, "docker.tar")
	sh1(t, "skopeo", "copy", "-q", "--src-tls-verify=false", "docker://"+ref, "oci-archive:"+ociArch+":interop/oci:1")
	sh1(t, "skopeo", "copy", "-q", "--src-tls-verify=false", "docker://"+ref, "docker-archive:"+dockerArch+":interop/docker:1")

	podmanSave := filepath.Join(dir, "podman.tar")
	// podman wants a run root of at most 50 characters
	run, err := os.MkdirTemp("", "pm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(run) })
	p := []string{"--root", filepath.Join(dir, "podman-root"), "--runroot", run,
		"--storage-driver", "vfs", "--events-backend", "none", "--cgroup-manager", "cgroupfs",
		"--network-config-dir", filepath.Join(dir, "podman-net"), "--tmpdir", filepath.Join(run, "tmp")}
	sh1(t, "podman", append(p, "pull", "-q", "--tls-verify=false", ref)...)
	sh1(t, "podman", append(p, "save", "-q", "-o", podmanSave, ref)...)
	t.Cleanup(func() { exec.Command("podman", append(p, "system", "reset", "-f")...).Run() })

	store := filepath.Join(dir, "store")
	for _, c := range []struct{ file, ref string }{
		{ociArch, "interop/oci:1"},
		{dockerArch, "interop/docker:1"},
		{podmanSave, ref},
	} {
		nook(t, "image", "import", "-q", "--store", store, c.file)
		if got := nookLine(t, runImage(t, store, c.ref, "--", "sh", "-c", "echo $FROM")...); got != "registry" {
			t.Errorf("%s from %s: $FROM is %q", c.ref, filepath.Base(c.file), got)
		}
	}
	// the three are one image, with one layer in the store
	out := nook(t, "image", "ls", "--store", store)
	if n := strings.Count(out, "\n"); n != 4 {
		t.Errorf("image ls: %d lines, want a header and three names:\n%s", n, out)
	}
	if ents, _ := os.ReadDir(filepath.Join(store, "layers")); len(ents) != 2 {
		t.Errorf("layers/: %d entries, want the layer and base", len(ents))
	}
}

package testutil

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Busybox is where the host's static busybox is (Debian's busybox-static).
const Busybox = "/bin/busybox"

// BusyboxRootfs returns a fresh root file system: /bin/busybox, a symlink
// in /bin for each of its applets, empty /proc /dev /sys /tmp, and an /etc
// with a minimal passwd and group. The directory and its parent are mode
// 0755 so that an unprivileged user can use it as --rootfs. Skips the test
// when the host has no busybox.
func BusyboxRootfs(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(Busybox); err != nil {
		t.Skipf("no %s (install busybox-static)", Busybox)
	}
	dir := t.TempDir()
	// t.TempDir's parent is 0700; nobody but root could reach the rootfs
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"bin", "proc", "dev", "sys", "tmp", "etc"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	if err := CopyFile(Busybox, filepath.Join(dir, "bin", "busybox"), 0o755); err != nil {
		t.Fatal(err)
	}
	list, err := exec.Command(Busybox, "--list").Output()
	if err != nil {
		t.Fatalf("busybox --list: %v", err)
	}
	for _, applet := range strings.Fields(string(list)) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", applet)); err != nil && !os.IsExist(err) {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// CopyFile copies src to a new file dst with the given mode.
func CopyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}

// Lines splits output into its non-empty lines, each trimmed of spaces and
// carriage returns.
func Lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(strings.TrimRight(l, "\r")); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// HasLine reports whether output has a line equal to want (after Lines'
// trimming).
func HasLine(output, want string) bool {
	for _, l := range Lines(output) {
		if l == want {
			return true
		}
	}
	return false
}

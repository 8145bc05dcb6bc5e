package e2e

import (
	"debug/buildinfo"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nookrun/nook/internal/testutil"
)

// `make install DESTDIR=... PREFIX=...` puts the binary, the shell
// completions and the man pages where packagers and shells expect them.
func TestMakeInstallPutsBinaryCompletionsAndManPages(t *testing.T) {
	e2e(t)
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	// make install builds the man pages with the go tool (go run): not
	// where the tests run without one (make test-vm's guests)
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go tool not found: make install needs it")
	}
	root, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	cmd := exec.Command("make", "install", "DESTDIR="+dest, "PREFIX=/opt/nook", "BIN="+testutil.Nook(t))
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	prefix := filepath.Join(dest, "opt/nook")
	read := func(rel string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(prefix, rel))
		if err != nil {
			t.Fatalf("make install did not install %s: %v", rel, err)
		}
		return string(b)
	}
	bin := filepath.Join(prefix, "bin/nook")
	if fi, err := os.Stat(bin); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("bin/nook: not an executable (%v)", err)
	}
	if out, err := exec.Command(bin, "version").Output(); err != nil || !strings.HasPrefix(string(out), "nook version ") {
		t.Errorf("installed nook version: %q, %v", out, err)
	}

	bash := read("share/bash-completion/completions/nook")
	if _, err := exec.LookPath("bash"); err == nil {
		// the script loads and registers a completion for nook
		out, err := exec.Command("bash", "-c", "source "+filepath.Join(prefix, "share/bash-completion/completions/nook")+" && complete -p nook").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "nook") {
			t.Errorf("bash completion: complete -p nook: %q, %v", out, err)
		}
	} else if !strings.Contains(bash, "nook") {
		t.Errorf("bash completion does not mention nook")
	}
	if zsh := read("share/zsh/site-functions/_nook"); !strings.HasPrefix(zsh, "#compdef nook") {
		t.Errorf("zsh completion: want a #compdef nook script, got %q", testutil.Trunc(zsh, 200))
	}
	if fish := read("share/fish/vendor_completions.d/nook.fish"); !strings.Contains(fish, "complete -c nook") {
		t.Errorf("fish completion: no 'complete -c nook' in %q", testutil.Trunc(fish, 200))
	}

	// one page per command, from the same definitions as --help
	for page, want := range map[string]string{
		"nook.1":     "nook-run(1)",
		"nook-run.1": "--memory",
	} {
		man := read("share/man/man1/" + page)
		if !strings.HasPrefix(man, ".nh") && !strings.Contains(man, ".TH ") {
			t.Errorf("%s is not a man page: %q", page, testutil.Trunc(man, 200))
		}
		if !strings.Contains(man, want) {
			t.Errorf("%s does not mention %s", page, want)
		}
	}
}

// `nook version` says what `nook --version` says; `nook completion SHELL`
// prints a script for each shell, and an unknown shell is a usage error.
func TestVersionAndCompletionCommands(t *testing.T) {
	e2e(t)
	if a, b := nook(t, "version"), nook(t, "--version"); a != b || !strings.HasPrefix(a, "nook version ") {
		t.Errorf("nook version %q, nook --version %q: want the same 'nook version ...'", a, b)
	}
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		if out := nook(t, "completion", sh); !strings.Contains(out, "nook") {
			t.Errorf("nook completion %s: %q", sh, testutil.Trunc(out, 200))
		}
	}
	for _, bad := range [][]string{{"completion"}, {"completion", "tcsh"}, {"version", "extra"}} {
		_, stderr, code := testutil.Run(t, bad...)
		if code != 2 {
			t.Errorf("nook %s: exit status %d, want 2 (usage); stderr %q", testutil.Quote(bad), code, stderr)
		}
		noPanic(t, stderr)
	}
	// completion of run's flags comes from run's own definition
	if out := nook(t, "__complete", "run", "--mem"); !strings.Contains(out, "--memory") {
		t.Errorf("nook __complete run --mem: %q, want --memory among the choices", out)
	}
}

// nook is one static binary, built without cgo: no dynamic loader, no
// shared library, so it runs on a host without Go or any libc (the
// sandbox's child is C compiled without libc and linked in by Go's own
// linker: internal/spawn's doc).
func TestBinaryIsStaticWithoutCgo(t *testing.T) {
	bin := testutil.Nook(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s has a %v program header: not static", bin, p.Type)
		}
	}
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range info.Settings {
		if s.Key == "CGO_ENABLED" && s.Value != "0" {
			t.Errorf("%s was built with CGO_ENABLED=%s", bin, s.Value)
		}
	}
}

package nook

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/nookrun/nook/"

// pkgInfo is what the import rules need of one package: its nook imports
// (tests left out) and whether it has cgo code of its own.
type pkgInfo struct {
	imports []string
	cgo     bool
}

func loadPackages(t *testing.T) map[string]*pkgInfo {
	t.Helper()
	pkgs := map[string]*pkgInfo{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != "." && (strings.HasPrefix(n, ".") || n == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(path))
		p := pkgs[dir]
		if p == nil {
			p = &pkgInfo{}
			pkgs[dir] = p
		}
		for _, im := range f.Imports {
			ip, _ := strconv.Unquote(im.Path.Value)
			if ip == "C" {
				p.cgo = true
			}
			if rest, ok := strings.CutPrefix(ip, module); ok && !slices.Contains(p.imports, rest) {
				p.imports = append(p.imports, rest)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// deps is every nook package pkg imports, directly or not.
func deps(pkgs map[string]*pkgInfo, pkg string) []string {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(p string) {
		if info := pkgs[p]; info != nil {
			for _, d := range info.imports {
				if !seen[d] {
					seen[d] = true
					walk(d)
				}
			}
		}
	}
	walk(pkg)
	var out []string
	for d := range seen {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

// TestImportRules checks the rules of ARCHITECTURE.md ("Who may import
// whom") on the source.
func TestImportRules(t *testing.T) {
	if _, err := os.Stat("go.mod"); err != nil {
		t.Skip("not at the module root")
	}
	pkgs := loadPackages(t)
	for pkg, info := range pkgs {
		for _, im := range info.imports {
			// programs may: nook itself, and the man page writer
			if im == "internal/cli" && pkg != "cmd/nook" && pkg != "cmd/nook-mangen" {
				t.Errorf("%s imports internal/cli: only the programs cmd/nook and cmd/nook-mangen may", pkg)
			}
		}
	}
	forbidden := map[string][]string{
		"caps":           {"container", "sandbox", "verdict", "image", "batch"},
		"cgroups":        {"container", "sandbox", "verdict", "image", "batch"},
		"seccomp":        {"container", "sandbox", "verdict", "image", "batch"},
		"namespaces":     {"container", "sandbox", "verdict", "image", "batch"},
		"netns":          {"container", "sandbox", "verdict", "image", "batch"},
		"network":        {"container", "sandbox", "verdict", "image", "batch"},
		"internal/spawn": {"container", "sandbox"},
		"verdict":        {"container", "sandbox", "internal/spawn", "batch"},
		"sandbox":        {"batch"},
		"image":          {"container", "sandbox", "internal/spawn"},
	}
	for pkg, bad := range forbidden {
		for _, d := range deps(pkgs, pkg) {
			if slices.Contains(bad, d) {
				t.Errorf("%s depends on %s", pkg, d)
			}
		}
	}
	// nook is built without cgo: the sandbox's child is C compiled
	// beforehand, without libc (internal/spawn's doc), and nothing else
	// needs a C compiler
	for pkg, p := range pkgs {
		if p.cgo {
			t.Errorf("%s uses cgo: nook is built with CGO_ENABLED=0", pkg)
		}
	}
}

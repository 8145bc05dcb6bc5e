package attacks

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/nookrun/nook/internal/testutil"
)

func TestMain(m *testing.M) {
	code := testutil.Main(m)
	if attackerBuild.dir != "" {
		os.RemoveAll(attackerBuild.dir)
	}
	os.Exit(code)
}

// start is how every attack test starts: as root, in parallel, checked for
// leaks at its end.
func start(t *testing.T) {
	t.Helper()
	testutil.RequireRoot(t)
	t.Parallel()
	testutil.CheckNoLeaks(t)
}

// --- the attacker binary -------------------------------------------------------

var attackerBuild struct {
	once sync.Once
	dir  string // holds only "attacker"; bound into sandboxes as /attack
	err  error
}

// attackerDir returns a world-readable directory that holds the attacker
// binary and nothing else: $ATTACKER_BINARY copied there, or the program
// built from ./attacker (static, CGO_ENABLED=0).
func attackerDir(t *testing.T) string {
	t.Helper()
	attackerBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "nook-attacker-")
		if err != nil {
			attackerBuild.err = err
			return
		}
		attackerBuild.dir = dir
		if err := os.Chmod(dir, 0o755); err != nil {
			attackerBuild.err = err
			return
		}
		out := filepath.Join(dir, "attacker")
		if p := os.Getenv("ATTACKER_BINARY"); p != "" {
			attackerBuild.err = testutil.CopyFile(p, out, 0o755)
			return
		}
		root, err := testutil.ModuleRoot()
		if err != nil {
			attackerBuild.err = fmt.Errorf("%v (or set ATTACKER_BINARY to a prebuilt attacker: CGO_ENABLED=0 go build -o attacker ./tests/attacks/attacker)", err)
			return
		}
		cmd := exec.Command(goTool(), "build", "-o", out, "./tests/attacks/attacker")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			attackerBuild.err = fmt.Errorf("go build ./tests/attacks/attacker: %v\n%s\n(or set ATTACKER_BINARY to a prebuilt one)", err, b)
			return
		}
		attackerBuild.err = os.Chmod(out, 0o755)
	})
	if attackerBuild.err != nil {
		t.Fatalf("attacker binary: %v", attackerBuild.err)
	}
	return attackerBuild.dir
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	for _, root := range []string{os.Getenv("GOROOT"), runtime.GOROOT(), "/usr/local/go"} {
		if root == "" {
			continue
		}
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			return p
		}
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// --- the host's namespaces, for the attacker's guard -------------------------

func nsInode(t testing.TB, typ string) string {
	t.Helper()
	fi, err := os.Stat("/proc/self/ns/" + typ)
	if err != nil {
		t.Fatalf("host %s namespace: %v", typ, err)
	}
	return strconv.FormatUint(fi.Sys().(*syscall.Stat_t).Ino, 10)
}

// guardEnv returns the --env flags that tell the attacker the host's
// namespaces.
func guardEnv(t testing.TB) []string {
	return []string{
		"--env", "NOOK_HOST_PIDNS=" + nsInode(t, "pid"),
		"--env", "NOOK_HOST_MNTNS=" + nsInode(t, "mnt"),
		"--env", "NOOK_HOST_UTSNS=" + nsInode(t, "uts"),
	}
}

// --- running an attack -----------------------------------------------------

// opts are how an attack is run.
type opts struct {
	flags []string        // nook run flags, before the attacker's bind
	nook  string          // the nook binary; testutil.Nook's by default
	prep  func(*exec.Cmd) // changes the command before it starts
}

type result struct {
	verdict string // "blocked" or "ESCAPED"
	detail  string
}

type outcome struct {
	args           []string
	results        map[string]result
	order          []string
	stdout, stderr string
	code           int
}

// attack runs `nook run FLAGS --bind ATTACKER:/attack:ro --env ... --
// /attack/attacker NAME ARGS...` and parses the RESULT lines. It fails the
// test when the attacker refused to run (exit 99) or never passed its
// guard (unless o.flags make nook itself fail, which the caller checks).
func attack(t *testing.T, o opts, name string, args ...string) *outcome {
	t.Helper()
	nookArgs := append([]string{"run"}, o.flags...)
	nookArgs = append(nookArgs, "--bind", attackerDir(t)+":/attack:ro")
	nookArgs = append(nookArgs, guardEnv(t)...)
	nookArgs = append(nookArgs, "--", "/attack/attacker", name)
	nookArgs = append(nookArgs, args...)
	bin := o.nook
	if bin == "" {
		bin = testutil.Nook(t)
	}
	cmd := exec.Command(bin, nookArgs...)
	cmd.Env = append(os.Environ(), testutil.MarkEnv(t))
	if o.prep != nil {
		o.prep(cmd)
	}
	out := &outcome{args: nookArgs, results: map[string]result{}}
	out.stdout, out.stderr, out.code = testutil.RunCmd(t, cmd)
	for _, l := range testutil.Lines(out.stdout) {
		f := strings.SplitN(l, " ", 4)
		if len(f) < 3 || f[0] != "RESULT" {
			continue
		}
		r := result{verdict: f[2]}
		if len(f) == 4 {
			r.detail = f[3]
		}
		if _, dup := out.results[f[1]]; !dup {
			out.order = append(out.order, f[1])
		}
		out.results[f[1]] = r
	}
	if out.code == 99 {
		t.Fatalf("the attacker refused to run (exit 99: not in a sandbox?)\n%s", out)
	}
	return out
}

func (o *outcome) String() string {
	return fmt.Sprintf("nook %s: exit status %d\nstdout:\n%s\nstderr:\n%s",
		testutil.Quote(o.args), o.code, testutil.Trunc(o.stdout, 4000), testutil.Trunc(o.stderr, 4000))
}

// ran fails the test unless the attacker passed its guard and exited 0.
func (o *outcome) ran(t *testing.T) {
	t.Helper()
	if !testutil.HasLine(o.stdout, "GUARD ok") {
		t.Fatalf("the attacker did not run\n%s", o)
	}
	if o.code != 0 {
		t.Fatalf("the attacker exited %d, want 0\n%s", o.code, o)
	}
}

// matches reports whether a result's detail is one of want: equal, or
// want followed by "(" or ":" (EAGAIN(after:58), open:EACCES...).
func matches(detail string, want []string) bool {
	first, _, _ := strings.Cut(detail, " ")
	for _, w := range want {
		if first == w || strings.HasPrefix(first, w+"(") || strings.HasPrefix(first, w+":") {
			return true
		}
	}
	return false
}

// blocked fails the test unless attempt name was blocked with one of want.
func (o *outcome) blocked(t *testing.T, name string, want ...string) {
	t.Helper()
	r, ok := o.results[name]
	switch {
	case !ok:
		t.Errorf("%s: no result\n%s", name, o)
	case r.verdict != "blocked":
		t.Errorf("ATTACK SUCCEEDED: %s: %s %s\n%s", name, r.verdict, r.detail, o)
	case !matches(r.detail, want):
		t.Errorf("%s: blocked with %s, want %s\n%s", name, r.detail, strings.Join(want, " or "), o)
	default:
		t.Logf("%s: blocked %s", name, r.detail)
	}
}

// escaped fails the test unless attempt name got through: for the
// attacks run with --privileged, to prove the tests see an escape.
func (o *outcome) escaped(t *testing.T, name string) {
	t.Helper()
	r, ok := o.results[name]
	switch {
	case !ok:
		t.Errorf("%s: no result\n%s", name, o)
	case r.verdict != "ESCAPED":
		t.Errorf("%s: %s %s, want ESCAPED: the test would not see this attack succeed\n%s", name, r.verdict, r.detail, o)
	default:
		t.Logf("%s: ESCAPED (as it should here) %s", name, r.detail)
	}
}

// --- host-side checks -------------------------------------------------------

func sha(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func randName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// hostMarker creates a file that exists only on the host, in a directory
// of the test, and returns its path.
func hostMarker(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), randName("host-marker-"))
	if err := os.WriteFile(p, []byte("host only\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// worldDir returns a fresh temporary directory, and its parent, mode 0755.
func worldDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	for _, p := range []string{filepath.Dir(d), d} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// hostMountsUnder lists the host's mount points at or under dir.
func hostMountsUnder(dir string) []string {
	var out []string
	for _, m := range testutil.MountPoints() {
		if m == dir || strings.HasPrefix(m, dir+"/") {
			out = append(out, m)
		}
	}
	return out
}

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

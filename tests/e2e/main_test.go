// Package e2e tests the built nook binary from the outside, as a user runs
// it: each test is one promise of `nook run`, and reads as its
// specification. The tests need root and Linux; they run in parallel and
// check that they leave nothing behind (testutil.CheckNoLeaks).
//
// Run them against a nook built elsewhere with NOOK_BINARY=/path/to/nook.
package e2e

import (
	"os"
	"strings"
	"testing"

	"github.com/nookrun/nook/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

// e2e is how every test starts: as root, in parallel with the others, and
// checked for leaks at its end.
func e2e(t *testing.T) {
	t.Helper()
	testutil.RequireRoot(t)
	t.Parallel()
	testutil.CheckNoLeaks(t)
}

// e2eAlone is how a test starts that checks for leaks on the whole host:
// as root, checked for leaks, but not in parallel, so that no other test's
// sandbox is there to be blamed (Go runs the tests that do not call
// t.Parallel first, one at a time).
func e2eAlone(t *testing.T) {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.CheckNoLeaks(t)
}

// nook runs `nook args...`, fails the test unless it exits 0, and returns
// its stdout.
func nook(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := testutil.Run(t, args...)
	if code != 0 {
		t.Fatalf("nook %s: exit status %d, want 0\nstdout:\n%s\nstderr:\n%s", testutil.Quote(args), code, testutil.Trunc(out, 4000), testutil.Trunc(errOut, 4000))
	}
	return out
}

// nookLine runs nook as nook does and returns its only line of output.
func nookLine(t *testing.T, args ...string) string {
	t.Helper()
	out := nook(t, args...)
	lines := testutil.Lines(out)
	if len(lines) != 1 {
		t.Fatalf("nook %s: got %d lines, want 1:\n%s", testutil.Quote(args), len(lines), out)
	}
	return lines[0]
}

// nookFails runs nook, fails the test unless it exits with want, and
// returns its stdout and stderr.
func nookFails(t *testing.T, want int, args ...string) (stdout, stderr string) {
	t.Helper()
	out, errOut, code := testutil.Run(t, args...)
	if code != want {
		t.Fatalf("nook %s: exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", testutil.Quote(args), code, want, testutil.Trunc(out, 4000), testutil.Trunc(errOut, 4000))
	}
	return out, errOut
}

// sh returns the arguments of `nook run [flags...] -- sh -c script`.
func sh(script string, flags ...string) []string {
	args := append([]string{"run"}, flags...)
	return append(args, "--", "sh", "-c", script)
}

// noPanic fails the test when nook's stderr shows a Go panic.
func noPanic(t *testing.T, stderr string) {
	t.Helper()
	if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
		t.Errorf("nook panicked:\n%s", stderr)
	}
}

//go:build linux && amd64

package sandbox_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nookrun/nook/internal/testutil"
	"github.com/nookrun/nook/sandbox"
	"golang.org/x/sys/unix"
)

// screen is what a terminal shows: everything read from its master.
type screen struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func (s *screen) waitFor(t *testing.T, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(s.String(), want); {
		if time.Now().After(deadline) {
			t.Fatalf("the terminal never showed %q; it shows:\n%q", want, testutil.Trunc(s.String(), 4000))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// watch reads master into a screen until it fails (the test closes it).
func watch(master *os.File) *screen {
	s := &screen{}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := master.Read(b)
			s.mu.Lock()
			s.buf.Write(b[:max(n, 0)])
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return s
}

type runResult struct {
	code int
	err  error
}

func runAsync(cfg *sandbox.Config) <-chan runResult {
	done := make(chan runResult, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), testutil.RunTimeout)
		defer cancel()
		res, err := sandbox.Run(ctx, cfg)
		r := runResult{err: err}
		if res != nil {
			r.code = res.ExitCode
		}
		done <- r
	}()
	return done
}

// A Go program whose stdin is a terminal runs an interactive command with
// TTY, as `nook run -t` does: the command has a pty of its own with the
// terminal's size from its first instruction on, gets what is typed, follows a resize (SIGWINCH), and
// the terminal is given back as it was.
func TestRunWithTTYOnATerminal(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckNoLeaks(t)
	master, slave := testutil.OpenPTY(t)
	testutil.SetWinsize(t, slave, 33, 77)
	before, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	scr := watch(master)
	done := runAsync(&sandbox.Config{
		Args: []string{"/bin/sh", "-c", `tty; stty size; echo ready; read line; echo "got $line"
			trap 'stty size; exit 5' WINCH
			echo waiting
			while :; do sleep 0.02; done`},
		TTY:   true,
		Stdin: slave, Stdout: slave,
	})
	scr.waitFor(t, "ready")
	// raw while the command runs: keys go to it as typed
	if st, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS); err != nil || st.Lflag&unix.ICANON != 0 || st.Lflag&unix.ECHO != 0 {
		t.Errorf("the terminal is not in raw mode while the command runs (lflag %#x, %v)", st.Lflag, err)
	}
	master.Write([]byte("hello\r"))
	scr.waitFor(t, "waiting")
	// a terminal emulator resizes; the kernel tells the terminal's
	// foreground process with SIGWINCH
	testutil.SetWinsize(t, slave, 50, 132)
	syscall.Kill(os.Getpid(), syscall.SIGWINCH)
	var r runResult
	select {
	case r = <-done:
	case <-time.After(testutil.RunTimeout + 5*time.Second):
		t.Fatalf("Run did not return; the terminal shows:\n%q", scr.String())
	}
	if r.err == nil && r.code == 5 {
		// what Run copied to the terminal, the test reads on its own time
		scr.waitFor(t, "50 132")
	}
	out := scr.String()
	if r.err != nil || r.code != 5 {
		t.Errorf("Run: exit status %d, %v; want the command's 5. The terminal shows:\n%q", r.code, r.err, out)
	}
	for _, want := range []string{"/dev/pts/0", "got hello", "33 77", "50 132"} {
		if !testutil.HasLine(out, want) {
			t.Errorf("the terminal does not show the line %q; it shows:\n%q", want, out)
		}
	}
	after, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil || *after != *before {
		t.Errorf("the terminal was not given back as it was: %+v, want %+v (%v)", after, before, err)
	}
}

// ForwardSignals passes the signals this program gets on to the command,
// as `nook run` does: here SIGTERM, which would otherwise end the test.
func TestRunForwardsSignals(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckNoLeaks(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	done := runAsync(&sandbox.Config{
		Args:           []string{"/bin/sh", "-c", `trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.02; done`},
		ForwardSignals: true,
		Stdout:         w,
	})
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		for sc := bufio.NewScanner(r); sc.Scan(); {
			lines <- sc.Text()
		}
	}()
	select {
	case l := <-lines:
		if l != "ready" {
			t.Fatalf("the command said %q, want ready", l)
		}
	case res := <-done:
		w.Close()
		t.Fatalf("Run ended before the command was ready: exit status %d, %v", res.code, res.err)
	}
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	res := <-done
	w.Close()
	if res.err != nil || res.code != 7 {
		t.Errorf("Run: exit status %d, %v; want 7, the command's answer to SIGTERM", res.code, res.err)
	}
	if l := <-lines; l != "got TERM" {
		t.Errorf("the command said %q, want \"got TERM\"", l)
	}
}

package e2e

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nookrun/nook/internal/testutil"
)

// ttyRun is a nook started on a terminal of the test's own.
type ttyRun struct {
	master *os.File // what the user types into and reads from
	mu     sync.Mutex
	buf    bytes.Buffer
	eof    chan struct{}
	done   chan struct{}
	code   int
}

func (r *ttyRun) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}

// startOnTTY starts nook on a new pseudo-terminal of the host, as a user
// at a terminal runs it: the terminal is its stdin, stdout, stderr and
// controlling terminal, with a window of rows x cols.
func startOnTTY(t *testing.T, rows, cols uint16, args ...string) *ttyRun {
	t.Helper()
	master, slave := testutil.OpenPTY(t)
	testutil.SetWinsize(t, slave, rows, cols)
	cmd := testutil.Command(t, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	r := &ttyRun{master: master, eof: make(chan struct{}), done: make(chan struct{})}
	go func() {
		// until EIO: every slave end is closed
		defer close(r.eof)
		b := make([]byte, 4096)
		for {
			n, err := master.Read(b)
			r.mu.Lock()
			r.buf.Write(b[:max(n, 0)])
			r.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() {
		cmd.Wait()
		r.code = cmd.ProcessState.ExitCode()
		close(r.done)
	}()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

func (r *ttyRun) wait(t *testing.T) (string, int) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(testutil.RunTimeout):
		t.Fatalf("nook -t still runs after %v; the terminal shows:\n%q", testutil.RunTimeout, testutil.Trunc(r.output(), 4000))
	}
	select {
	case <-r.eof:
	case <-time.After(time.Second):
	}
	return r.output(), r.code
}

func (r *ttyRun) waitFor(t *testing.T, s string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(r.output(), s); {
		if time.Now().After(deadline) {
			t.Fatalf("the terminal never showed %q; it shows:\n%q", s, testutil.Trunc(r.output(), 4000))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTTYGivesTheCommandItsOwnTerminal(t *testing.T) {
	e2e(t)
	r := startOnTTY(t, 33, 77, "run", "-t", "--", "sh", "-c", "tty; stty size")
	out, code := r.wait(t)
	if code != 0 {
		t.Fatalf("nook -t: exit status %d; the terminal shows:\n%q", code, testutil.Trunc(out, 4000))
	}
	if !testutil.HasLine(out, "/dev/pts/0") {
		t.Errorf("tty inside: want /dev/pts/0, the sandbox's own first pty; the terminal shows:\n%q", testutil.Trunc(out, 4000))
	}
	if !testutil.HasLine(out, "33 77") {
		t.Errorf("stty size inside: want the outer window, 33 77; the terminal shows:\n%q", testutil.Trunc(out, 4000))
	}
}

func TestTTYPassesInputAndStatus(t *testing.T) {
	e2e(t)
	r := startOnTTY(t, 24, 80, "run", "-t", "--", "sh", "-c", "echo ready; read line; echo \"got $line\"; exit 5")
	r.waitFor(t, "ready")
	r.master.Write([]byte("hello\r"))
	out, code := r.wait(t)
	if !strings.Contains(out, "got hello") {
		t.Errorf("input typed on the outer terminal did not reach the command; the terminal shows:\n%q", testutil.Trunc(out, 4000))
	}
	if code != 5 {
		t.Errorf("nook -t: exit status %d, want the command's 5", code)
	}
}

func TestTTYFollowsWindowResizes(t *testing.T) {
	e2e(t)
	r := startOnTTY(t, 24, 80, "run", "-t", "--", "sh", "-c", `trap 'stty size; exit 0' WINCH
		echo ready
		while :; do sleep 0.02; done`)
	r.waitFor(t, "ready")
	// a terminal emulator resizes the master; the kernel sends SIGWINCH
	// to nook, which resizes the sandbox's terminal
	testutil.SetWinsize(t, r.master, 50, 132)
	out, code := r.wait(t)
	if !testutil.HasLine(out, "50 132") || code != 0 {
		t.Errorf("after the outer window became 50x132, stty size inside: exit status %d; the terminal shows:\n%q", code, testutil.Trunc(out, 4000))
	}
}

// nook exec -t gives the command a terminal of its own in the sandbox, at
// the outer window's size, wired to the user's terminal as nook run -t's.
func TestExecTTYGivesTheCommandATerminal(t *testing.T) {
	e2e(t)
	root := lifeRoot(t)
	rootfs := testutil.BusyboxRootfs(t)
	nook(t, "--root", root, "run", "-d", "--name", "tt", "--rootfs", rootfs, "--", "sleep", "300")
	defer nook(t, "--root", root, "rm", "-f", "tt")
	r := startOnTTY(t, 31, 101, "--root", root, "exec", "-t", "tt", "--", "sh", "-c", "tty; stty size; echo ready; read line; echo \"got $line\"; exit 4")
	r.waitFor(t, "ready")
	r.master.Write([]byte("typed\r"))
	out, code := r.wait(t)
	if code != 4 {
		t.Errorf("nook exec -t: exit status %d, want the command's 4; the terminal shows:\n%q", code, testutil.Trunc(out, 4000))
	}
	for _, want := range []string{"31 101", "got typed"} {
		if !testutil.HasLine(out, want) {
			t.Errorf("nook exec -t: the terminal does not show %q; it shows:\n%q", want, testutil.Trunc(out, 4000))
		}
	}
	if !strings.Contains(out, "/dev/pts/") {
		t.Errorf("nook exec -t: tty inside names no pty; the terminal shows:\n%q", testutil.Trunc(out, 4000))
	}
}

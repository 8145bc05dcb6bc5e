package testutil

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RunTimeout is how long Run and RunCmd let nook run before they kill it
// and fail the test; Slack(RunTimeout) on a slow machine.
const RunTimeout = 30 * time.Second

// MarkVar is the environment variable that carries a test's marker.
const MarkVar = "NOOK_TEST_MARK"

var marks sync.Map // testing.TB -> string

// Mark returns the test's unique marker, a random string that Command puts
// into nook's environment as NOOK_TEST_MARK. The same test gets the same
// marker on every call; every test (and subtest) gets its own.
func Mark(t testing.TB) string {
	if m, ok := marks.Load(t); ok {
		return m.(string)
	}
	b := make([]byte, 8)
	rand.Read(b)
	m, loaded := marks.LoadOrStore(t, "m"+hex.EncodeToString(b))
	if !loaded {
		t.Cleanup(func() { marks.Delete(t) })
	}
	return m.(string)
}

// MarkEnv returns "NOOK_TEST_MARK=<the test's marker>".
func MarkEnv(t testing.TB) string { return MarkVar + "=" + Mark(t) }

// Command returns an unstarted command that runs nook with args, with the
// test's environment plus its marker. The caller may change it (stdin,
// credentials, directory) before running it with RunCmd or Start.
func Command(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(Nook(t), args...)
	cmd.Env = append(os.Environ(), MarkEnv(t))
	return cmd
}

// Run runs nook with args (see Command) and returns its stdout, its stderr
// and its exit status. A nook that runs longer than RunTimeout is killed
// and fails the test. A nook killed by a signal has exit status -1.
func Run(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return RunCmd(t, Command(t, args...))
}

// RunCmd runs a command made by Command, as Run does.
func RunCmd(t testing.TB, cmd *exec.Cmd) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &out
	}
	if cmd.Stderr == nil {
		cmd.Stderr = &errb
	}
	if cmd.WaitDelay == 0 {
		// a sandbox process that outlives nook must not keep Wait
		// copying its output forever
		cmd.WaitDelay = 2 * time.Second
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", cmd.Args, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(Slack(RunTimeout)):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s: still running after %v, killed\nstdout:\n%s\nstderr:\n%s",
			Quote(cmd.Args), Slack(RunTimeout), Trunc(out.String(), 4000), Trunc(errb.String(), 4000))
	}
	code = exitCode(t, cmd, err)
	return out.String(), errb.String(), code
}

func exitCode(t testing.TB, cmd *exec.Cmd, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) && !errors.Is(err, exec.ErrWaitDelay) {
		t.Fatalf("%s: %v", Quote(cmd.Args), err)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		t.Logf("%s: nook itself was killed by %v", Quote(cmd.Args), ws.Signal())
		return -1
	}
	return cmd.ProcessState.ExitCode()
}

// Quote renders a command line for messages.
func Quote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"$;&|()<>*?\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

// Running is a nook started in the background by Start.
type Running struct {
	Cmd *exec.Cmd
	t   testing.TB

	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	ready  chan struct{}
	eof    chan struct{}
	exited chan struct{}
	err    error
}

// lockedWriter lets the stderr copy and the test read the buffer at once.
type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// Start starts cmd (made by Command) in the background and waits until it
// prints the line ready on its stdout (any line, when ready is empty),
// failing the test when that takes longer than ten seconds or nook exits
// first. Whatever is left running when the test ends is killed.
func Start(t testing.TB, cmd *exec.Cmd, ready string) *Running {
	t.Helper()
	r := &Running{Cmd: cmd, t: t, ready: make(chan struct{}), eof: make(chan struct{}), exited: make(chan struct{})}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = pw
	cmd.Stderr = lockedWriter{&r.mu, &r.stderr}
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = 2 * time.Second
	}
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		t.Fatalf("start %s: %v", Quote(cmd.Args), err)
	}
	pw.Close()
	t.Cleanup(func() {
		select {
		case <-r.exited:
		default:
			cmd.Process.Kill()
			<-r.exited
		}
		pr.Close()
	})
	go func() {
		r.err = cmd.Wait()
		close(r.exited)
	}()
	go func() {
		defer close(r.eof)
		sc := bufio.NewReader(pr)
		seen := false
		for {
			line, err := sc.ReadString('\n')
			r.mu.Lock()
			r.stdout.WriteString(line)
			r.mu.Unlock()
			if !seen && strings.HasSuffix(line, "\n") && (ready == "" || strings.TrimRight(line, "\r\n") == ready) {
				seen = true
				close(r.ready)
			}
			if err != nil {
				return
			}
		}
	}()
	select {
	case <-r.ready:
	case <-r.exited:
		// it may have printed the line just before exiting
		select {
		case <-r.ready:
		case <-time.After(100 * time.Millisecond):
			o, e := r.Output()
			t.Fatalf("%s: exited (%v) before printing %q\nstdout:\n%s\nstderr:\n%s", Quote(cmd.Args), r.err, ready, Trunc(o, 4000), Trunc(e, 4000))
		}
	case <-time.After(10 * time.Second):
		o, e := r.Output()
		t.Fatalf("%s: no line %q after 10s\nstdout:\n%s\nstderr:\n%s", Quote(cmd.Args), ready, Trunc(o, 4000), Trunc(e, 4000))
	}
	return r
}

// Pid returns the host PID of the nook process.
func (r *Running) Pid() int { return r.Cmd.Process.Pid }

// Signal sends sig to the nook process.
func (r *Running) Signal(sig os.Signal) {
	r.t.Helper()
	if err := r.Cmd.Process.Signal(sig); err != nil {
		r.t.Fatalf("signal %v to nook: %v", sig, err)
	}
}

// Output returns what nook printed so far.
func (r *Running) Output() (stdout, stderr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stdout.String(), r.stderr.String()
}

// Wait waits up to timeout for nook to exit (killing it and failing the
// test after that), then up to two more seconds for its stdout to reach
// end of file, and returns its output and exit status (-1 when a signal
// killed nook).
func (r *Running) Wait(timeout time.Duration) (stdout, stderr string, code int) {
	r.t.Helper()
	select {
	case <-r.exited:
	case <-time.After(timeout):
		r.Cmd.Process.Kill()
		<-r.exited
		o, e := r.Output()
		r.t.Fatalf("%s: still running after %v, killed\nstdout:\n%s\nstderr:\n%s", Quote(r.Cmd.Args), timeout, Trunc(o, 4000), Trunc(e, 4000))
	}
	select {
	case <-r.eof:
	case <-time.After(2 * time.Second):
		r.t.Logf("%s: stdout still open 2s after nook exited: something in the sandbox outlived it", Quote(r.Cmd.Args))
	}
	code = exitCode(r.t, r.Cmd, r.err)
	stdout, stderr = r.Output()
	return stdout, stderr, code
}

// Trunc shortens s for a test message: at most max bytes, its head and
// its tail, with what was left out counted in between.
func Trunc(s string, max int) string {
	if len(s) <= max {
		return s
	}
	h := max / 2
	return fmt.Sprintf("%s\n[... %d bytes left out ...]\n%s", s[:h], len(s)-max, s[len(s)-(max-h):])
}

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nookrun/nook/internal/testutil"
	"golang.org/x/sys/unix"
)

// `nook batch` reads requests on stdin and writes one verdict per line,
// with the request's id; a bad line is answered, and the batch goes on.
func TestBatchFromTheCommandLine(t *testing.T) {
	e2e(t)
	root := testutil.BusyboxRootfs(t)
	out := filepath.Join(t.TempDir(), "out")
	in := strings.Join([]string{
		fmt.Sprintf(`{"id":"hello","args":["/bin/sh","-c","echo hi"],"rootfs":%q,"stdout":%q,"limits":{"memory_bytes":67108864,"pids":16,"cpu_time_ms":2000}}`, root, out),
		`{"id":"bad","args":"oops"}`,
		fmt.Sprintf(`{"id":"fail","args":["/bin/false"],"rootfs":%q}`, root),
	}, "\n")
	cmd := testutil.Command(t, "batch", "--parallel", "2")
	cmd.Stdin = strings.NewReader(in)
	stdout, stderr, code := testutil.RunCmd(t, cmd)
	noPanic(t, stderr)
	if code != 0 {
		t.Fatalf("exit status %d, want 0\n%s", code, stderr)
	}
	got := map[string]string{}
	for _, l := range testutil.Lines(stdout) {
		var v struct{ ID, Status, Message string }
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("verdict line %q: %v", l, err)
		}
		got[v.ID] = v.Status
	}
	want := map[string]string{"hello": "OK", "bad": "XX", "fail": "RE"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("verdicts %v, want %v\n%s", got, want, stdout)
	}
	if b, _ := os.ReadFile(out); string(b) != "hi\n" {
		t.Errorf("stdout file %q, want hi", b)
	}
}

func TestBatchRejectsBadFlags(t *testing.T) {
	e2e(t)
	_, stderr := nookFails(t, 2, "batch", "--parallel", "0")
	if !strings.Contains(stderr, "--parallel") {
		t.Errorf("stderr %q does not name --parallel", stderr)
	}
	_, stderr = nookFails(t, 2, "batch", "--input", filepath.Join(t.TempDir(), "none"))
	if !strings.Contains(stderr, "--input") {
		t.Errorf("stderr %q does not name --input", stderr)
	}
}

// SIGTERM stops the runs in flight, reports them and leaves nothing.
func TestBatchStopsOnSIGTERM(t *testing.T) {
	e2e(t)
	root := testutil.BusyboxRootfs(t)
	cmd := testutil.Command(t, "batch")
	w, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	r, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	fmt.Fprintf(w, `{"id":"quick","args":["/bin/true"],"rootfs":%q}`+"\n", root)
	lines := bufio.NewScanner(r)
	if !lines.Scan() || !strings.Contains(lines.Text(), `"quick"`) {
		t.Fatalf("no verdict for the first request: %q", lines.Text())
	}
	// the input stays open: nook waits for more while the sleeper runs
	fmt.Fprintf(w, `{"id":"slow","args":["/bin/sleep","30"],"rootfs":%q}`+"\n", root)
	time.Sleep(500 * time.Millisecond)
	cmd.Process.Signal(unix.SIGTERM)
	done := make(chan error, 1)
	go func() {
		var rest []string
		for lines.Scan() {
			rest = append(rest, lines.Text())
		}
		if len(rest) != 1 || !strings.Contains(rest[0], `"slow"`) || !strings.Contains(rest[0], `"XX"`) {
			done <- fmt.Errorf("after SIGTERM: %q, want one XX verdict for slow", rest)
			return
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		if ee, ok := err.(interface{ ExitCode() int }); !ok || ee.ExitCode() != 1 {
			t.Errorf("nook batch after SIGTERM: %v, want exit status 1", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("nook batch still runs 15 s after SIGTERM")
	}
	w.Close()
}

// SIGKILL of nook batch, with one sandbox running and the next one
// prepared, leaves nothing behind (CheckNoLeaks): each sandbox's janitor
// cleans up after it.
func TestBatchKilledLeavesNothing(t *testing.T) {
	e2e(t)
	root := testutil.BusyboxRootfs(t)
	marks := t.TempDir()
	cmd := testutil.Command(t, "batch")
	w, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	for _, id := range []string{"a", "b"} {
		fmt.Fprintf(w, `{"id":%q,"args":["/bin/sh","-c","touch /m/%s; sleep 30"],"rootfs":%q,"binds":["%s:/m"],"limits":{"memory_bytes":67108864}}`+"\n", id, id, root, marks)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(marks, "a")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first run did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // the second is prepared by now
	if _, err := os.Stat(filepath.Join(marks, "b")); err == nil {
		t.Error("the second run started while the first ran (--parallel 1)")
	}
	w.Close()
	// the deferred kill; CheckNoLeaks then looks for what is left
}

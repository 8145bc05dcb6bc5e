package net

import (
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nookrun/nook/internal/testutil"
	"github.com/nookrun/nook/netns"
)

func TestMain(m *testing.M) {
	// /run/netns becomes a shared mount the first time anyone adds a
	// namespace, and stays one: make it so before any test snapshots
	// the host's mounts
	if os.Geteuid() == 0 {
		if err := netns.Prepare(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	os.Exit(testutil.Main(m))
}

// start is how every test starts: as root, in parallel, checked for
// leaks at its end.
func start(t *testing.T) {
	t.Helper()
	testutil.RequireRoot(t)
	t.Parallel()
	testutil.CheckNoLeaks(t)
}

// nook runs nook, fails the test unless it exits 0, and returns stdout.
func nook(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := testutil.Run(t, args...)
	if code != 0 {
		t.Fatalf("nook %s: exit status %d, want 0\nstdout:\n%s\nstderr:\n%s", testutil.Quote(args), code, testutil.Trunc(out, 4000), testutil.Trunc(errOut, 4000))
	}
	return out
}

// nookFails runs nook, fails the test unless it exits with want and its
// stderr holds every one of msgs, and returns stderr.
func nookFails(t *testing.T, want int, msgs []string, args ...string) string {
	t.Helper()
	out, errOut, code := testutil.Run(t, args...)
	if code != want {
		t.Fatalf("nook %s: exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", testutil.Quote(args), code, want, testutil.Trunc(out, 4000), testutil.Trunc(errOut, 4000))
	}
	for _, m := range msgs {
		if !strings.Contains(errOut, m) {
			t.Errorf("nook %s: stderr %q does not say %q", testutil.Quote(args), strings.TrimSpace(errOut), m)
		}
	}
	if strings.Contains(errOut, "panic") || strings.Contains(errOut, "goroutine ") {
		t.Errorf("nook panicked:\n%s", errOut)
	}
	return errOut
}

// run runs a program other than nook (ip, nft) and returns its output.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// name is a name unique to the test, short enough for an interface.
func name(t *testing.T, prefix string) string {
	return prefix + testutil.Mark(t)[1:9]
}

// namespace makes a named namespace with nook, deleted at the end.
func namespace(t *testing.T, prefix string) string {
	t.Helper()
	n := name(t, prefix)
	nook(t, "netns", "add", n)
	t.Cleanup(func() { netns.Delete(n) })
	return n
}

// bridge makes a bridge of the test's own, removed at the end.
func bridge(t *testing.T, flags ...string) string {
	t.Helper()
	b := name(t, "nkb")
	nook(t, append([]string{"net", "bridge", b}, flags...)...)
	t.Cleanup(func() {
		// a sandbox of a failed test may still be on its way out
		for deadline := time.Now().Add(testutil.Slack(testutil.LeakWait)); ; time.Sleep(50 * time.Millisecond) {
			_, errOut, code := testutil.Run(t, "net", "reset", b)
			if code == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("nook net reset %s: %s", b, errOut)
				return
			}
		}
	})
	return b
}

// subnet30 is a random /30 of 10.250.0.0/16 for a link of the test's:
// the first and second host addresses, and the prefix.
func subnet30(t *testing.T) (a, b string) {
	n, _ := rand.Int(rand.Reader, big.NewInt(1<<14))
	base := int(n.Int64()) * 4
	return fmt.Sprintf("10.250.%d.%d", base>>8, base&255+1), fmt.Sprintf("10.250.%d.%d", base>>8, base&255+2)
}

// freePort is a TCP port that nothing listens on now.
func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// get fetches url from the host, retrying for a moment while the
// sandbox's server comes up.
func get(t *testing.T, url string) (string, error) {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	var last error
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := c.Get(url)
		if err == nil {
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode == http.StatusOK {
				return string(b), nil
			}
			last = fmt.Errorf("%s: %s", url, resp.Status)
			continue
		}
		last = err
	}
	return "", last
}

// getOnce fetches url once: for what must not answer.
func getOnce(url string) (string, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

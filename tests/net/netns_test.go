package net

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nookrun/nook/internal/testutil"
)

// ip netns add x, then nook uses x; nook netns add y, then ip uses y; each
// lists the other's.
func TestNetnsInteropWithIP(t *testing.T) {
	start(t)
	x := name(t, "ipx")
	run(t, "ip", "netns", "add", x)
	t.Cleanup(func() { run(t, "ip", "netns", "delete", x) })
	if !slices.Contains(testutil.Lines(nook(t, "netns", "list")), x) {
		t.Errorf("nook netns list does not show %s, made by ip", x)
	}
	links := nook(t, "netns", "exec", x, "--", "ip", "-o", "link")
	if lines := testutil.Lines(links); len(lines) != 1 || !strings.Contains(lines[0], "lo:") {
		t.Errorf("nook netns exec %s: links %q, want only lo", x, links)
	}
	// exec sees the namespace's own /sys
	if out := nook(t, "netns", "exec", x, "--", "ls", "/sys/class/net"); strings.TrimSpace(out) != "lo" {
		t.Errorf("nook netns exec: /sys/class/net is %q, want lo", out)
	}

	y := name(t, "nky")
	nook(t, "netns", "add", y)
	deleted := false
	t.Cleanup(func() {
		if !deleted {
			nook(t, "netns", "delete", y)
		}
	})
	if !slices.Contains(strings.Fields(run(t, "ip", "netns", "list")), y) {
		t.Errorf("ip netns list does not show %s, made by nook", y)
	}
	run(t, "ip", "netns", "exec", y, "ip", "link", "set", "lo", "up")
	if out := nook(t, "netns", "exec", y, "--", "ip", "-o", "addr", "show", "lo"); !strings.Contains(out, "127.0.0.1") {
		t.Errorf("lo set up by ip netns exec is not up for nook netns exec: %q", out)
	}

	// identify and pids, with a process of the test's in x
	r := testutil.Start(t, testutil.Command(t, "netns", "exec", x, "--", "sh", "-c", "echo ready; exec sleep 100"), "ready")
	defer r.Signal(os.Kill)
	pid := strconv.Itoa(r.Pid())
	if got := strings.TrimSpace(nook(t, "netns", "identify", pid)); got != x {
		t.Errorf("nook netns identify %s = %q, want %s", pid, got, x)
	}
	if got := strings.TrimSpace(run(t, "ip", "netns", "identify", pid)); got != x {
		t.Errorf("ip netns identify %s = %q, want %s", pid, got, x)
	}
	if pids := testutil.Lines(nook(t, "netns", "pids", x)); !slices.Contains(pids, pid) {
		t.Errorf("nook netns pids %s = %v, want %s among them", x, pids, pid)
	}

	// deleted by ip, gone for nook
	run(t, "ip", "netns", "delete", y)
	deleted = true
	if slices.Contains(testutil.Lines(nook(t, "netns", "list")), y) {
		t.Errorf("nook netns list still shows %s after ip netns delete", y)
	}
}

func TestNetnsBadInput(t *testing.T) {
	start(t)
	n := namespace(t, "nkd")
	nookFails(t, 125, []string{n, "already exists"}, "netns", "add", n)
	nookFails(t, 125, []string{"nosuch" + n, "no such network namespace"}, "netns", "delete", "nosuch"+n)
	nookFails(t, 125, []string{"nosuch" + n, "no such network namespace"}, "netns", "exec", "nosuch"+n, "--", "true")
	nookFails(t, 125, []string{"not a file name"}, "netns", "add", "a/b")
	nookFails(t, 125, []string{"no such network namespace"}, "netns", "pids", "nosuch"+n)
	nookFails(t, 2, []string{"not a process ID"}, "netns", "identify", "x")
}

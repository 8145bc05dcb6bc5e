package cgroups

import (
	"runtime"
	"testing"

	"github.com/nookrun/nook/internal/testutil"
	"golang.org/x/sys/unix"
)

// UnifiedMount names the host's cgroup2 hierarchy where the host's layout
// has one at a known place: /sys/fs/cgroup on v2, /sys/fs/cgroup/unified on
// a hybrid host, none on v1.
func TestUnifiedMountFollowsTheLayout(t *testing.T) {
	var ns unix.Stat_t
	if err := unix.Stat("/proc/self/ns/cgroup", &ns); err != nil || ns.Ino != initCgroupNSIno {
		t.Skip("not in the initial cgroup namespace")
	}
	want := map[Mode]string{Unified: Root, Hybrid: Root + "/unified"}[DetectMode()]
	if got := UnifiedMount(); got != want {
		t.Errorf("UnifiedMount() = %q on a %v host, want %q", got, DetectMode(), want)
	}
}

// In a cgroup namespace of its own, a caller's new cgroup2 mount shows that
// namespace's root and sets no root options: there is nothing to bind, and
// UnifiedMount says so.
func TestUnifiedMountNotInAChildCgroupNamespace(t *testing.T) {
	testutil.RequireRoot(t)
	got := make(chan string)
	go func() {
		// this thread alone moves, and dies with the goroutine
		// (never unlocked)
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			t.Errorf("unshare the cgroup namespace: %v", err)
			got <- "?"
			return
		}
		got <- UnifiedMount()
	}()
	if p := <-got; p != "" {
		t.Errorf("UnifiedMount() in a child cgroup namespace = %q, want \"\"", p)
	}
}

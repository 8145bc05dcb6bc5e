package testutil

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	mi "github.com/moby/sys/mountinfo"
)

// LeakWait is how long CheckNoLeaks waits for leftovers to go away, with
// Slack: some go in the background (the kernel frees a network namespace,
// and the veth in it, on a work queue that an emulated machine running
// many sandboxes at once drains slowly). A wait ends as soon as nothing
// is left, so a passing test does not pay for it.
const LeakWait = 2 * time.Second

// leakStable is how long a cgroup or named net namespace that no process
// of the test can be tied to must stay before it counts as leaked: a
// parallel test's sandbox may be starting right then.
const leakStable = time.Second

// CheckNoLeaks checks that the test leaves nothing behind on the host. Call
// it first thing in the test: it takes a snapshot now and registers a
// t.Cleanup that, after the test and its later cleanups, waits up to
// LeakWait for these to be gone, then fails the test for each that is not:
//
//   - a process with the test's marker (see Mark) in its environment:
//     nook, its init, its janitor or the command;
//   - a mount on the host that was not there before, under the test's
//     temporary directory, or anywhere outside the system's temp directory
//     (where parallel tests make their own);
//   - a cgroup directory named *nook* (up to three levels under
//     /sys/fs/cgroup) that was not there before and holds a process of the
//     test; or one that holds no process and has no children, checked only
//     when no other nook and no other Go test binary is running (it may be
//     a parallel test's, between its mkdir and its first process, or after
//     its last);
//   - an entry of /run/netns that was not there before, or a host veth
//     end, nftables table or generated /etc file of a sandbox's network
//     (see networkEntries), checked under the same condition.
//
// What it finds it then removes (kills, unmounts, rmdirs), so that one
// test's leak does not fail the tests after it.
func CheckNoLeaks(t testing.TB) {
	t.Helper()
	mark := Mark(t)
	root := filepath.Dir(t.TempDir())
	mountsBefore := mountIDs()
	cgroupsBefore := set(nookCgroups())
	netnsBefore := set(netnsEntries())
	netBefore := set(networkEntries())
	t.Cleanup(func() {
		var (
			procs          []int
			mounts         []mountEntry
			cgroups, netns []string
			since          = map[string]time.Time{}
			deadline       = time.Now().Add(Slack(LeakWait))
		)
		stable := func(key string, now time.Time) bool {
			if _, ok := since[key]; !ok {
				since[key] = now
			}
			return now.Sub(since[key]) >= leakStable
		}
		for {
			now := time.Now()
			seen := map[string]bool{}
			procs = markedProcs(mark)
			mounts = mounts[:0]
			for _, m := range readMountinfo() {
				if mountsBefore[m.id] {
					continue
				}
				// /run/netns is a shared mount point that stays, as
				// iproute2 makes it; the namespaces bound in it are
				// checked as such, below
				if within(m.point, "/run/netns") {
					continue
				}
				if within(m.point, root) || !within(m.point, os.TempDir()) {
					mounts = append(mounts, m)
				}
			}
			cgroups = cgroups[:0]
			// an empty cgroup cannot be told apart from a parallel
			// test's: blame one only when no other nook or test runs
			others := otherNookRunning(mark) || otherTestRunning()
			for _, cg := range nookCgroups() {
				if cgroupsBefore[cg] {
					continue
				}
				pids, leaf := cgroupProcs(cg)
				ours := false
				for _, p := range pids {
					ours = ours || hasMark(p, mark)
				}
				if ours || (len(pids) == 0 && leaf && !others) {
					seen["cg:"+cg] = true
					if ours || stable("cg:"+cg, now) {
						cgroups = append(cgroups, cg)
					}
				}
			}
			netns = netns[:0]
			if !others {
				for _, n := range netnsEntries() {
					if !netnsBefore[n] {
						seen["ns:"+n] = true
						if stable("ns:"+n, now) {
							netns = append(netns, n)
						}
					}
				}
				for _, n := range networkEntries() {
					if !netBefore[n] {
						seen["net:"+n] = true
						if stable("net:"+n, now) {
							netns = append(netns, n)
						}
					}
				}
			}
			for k := range since {
				if !seen[k] {
					delete(since, k)
				}
			}
			pending := len(since) > len(cgroups)+len(netns)
			clean := len(procs) == 0 && len(mounts) == 0 && len(cgroups) == 0 && len(netns) == 0
			if (clean && !pending) || now.After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, p := range procs {
			t.Errorf("leak: process %d (%s) with %s=%s still runs %v after the test", p, procDesc(p), MarkVar, mark, Slack(LeakWait))
			syscall.Kill(p, syscall.SIGKILL)
		}
		for end := time.Now().Add(time.Second); len(procs) > 0 && len(markedProcs(mark)) > 0 && time.Now().Before(end); {
			time.Sleep(10 * time.Millisecond)
		}
		for _, m := range mounts {
			t.Errorf("leak: new mount on the host: %s", m.line)
		}
		for i := len(mounts) - 1; i >= 0; i-- {
			syscall.Unmount(mounts[i].point, syscall.MNT_DETACH)
		}
		for _, cg := range cgroups {
			t.Errorf("leak: cgroup %s is left", cg)
			// a cgroup stays busy a moment after its last process
			for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
				if pids, _ := cgroupProcs(cg); len(pids) == 0 && os.Remove(cg) == nil {
					break
				}
			}
		}
		for _, n := range netns {
			if strings.HasPrefix(n, "/") {
				t.Errorf("leak: %s is left", n)
			} else {
				t.Errorf("leak: /run/netns/%s is left", n)
			}
		}
	})
}

func set(l []string) map[string]bool {
	m := make(map[string]bool, len(l))
	for _, s := range l {
		m[s] = true
	}
	return m
}

// within reports whether path is dir or under it.
func within(path, dir string) bool {
	dir = filepath.Clean(dir)
	return path == dir || strings.HasPrefix(path, dir+"/")
}

// --- processes ---------------------------------------------------------------

// markedProcs returns the PIDs of the processes whose environment has
// NOOK_TEST_MARK=mark.
func markedProcs(mark string) []int {
	var out []int
	for _, p := range pids() {
		if hasMark(p, mark) {
			out = append(out, p)
		}
	}
	return out
}

func pids() []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	self := os.Getpid()
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err == nil && p != self {
			out = append(out, p)
		}
	}
	return out
}

func hasMark(pid int, mark string) bool {
	env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	want := []byte(MarkVar + "=" + mark)
	for _, kv := range bytes.Split(env, []byte{0}) {
		if bytes.Equal(kv, want) {
			return true
		}
	}
	return false
}

// otherNookRunning reports whether a nook process of another test (or
// another test process) runs: argv[0] is a nook binary and the environment
// has no mark, or another one.
func otherNookRunning(mark string) bool {
	for _, p := range pids() {
		cmd, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cmdline")
		if err != nil {
			continue
		}
		argv0, _, _ := bytes.Cut(cmd, []byte{0})
		if filepath.Base(string(argv0)) == "nook" && !hasMark(p, mark) {
			return true
		}
	}
	return false
}

// otherTestRunning reports whether another Go test binary (*.test, as go
// test runs them) runs: another package's tests may make nook cgroups of
// their own.
func otherTestRunning() bool {
	for _, p := range pids() {
		cmd, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cmdline")
		if err != nil {
			continue
		}
		argv0, _, _ := bytes.Cut(cmd, []byte{0})
		if strings.HasSuffix(string(argv0), ".test") {
			return true
		}
	}
	return false
}

func procDesc(pid int) string {
	dir := "/proc/" + strconv.Itoa(pid)
	comm, _ := os.ReadFile(dir + "/comm")
	cmd, _ := os.ReadFile(dir + "/cmdline")
	return fmt.Sprintf("%s: %s", strings.TrimSpace(string(comm)),
		strings.TrimSpace(string(bytes.ReplaceAll(cmd, []byte{0}, []byte{' '}))))
}

// --- mounts ------------------------------------------------------------------

type mountEntry struct {
	id    int
	point string
	line  string
}

func readMountinfo() []mountEntry {
	mounts, err := mi.GetMounts(nil)
	if err != nil {
		return nil
	}
	out := make([]mountEntry, 0, len(mounts))
	for _, m := range mounts {
		line := fmt.Sprintf("%d %d %s %s %s - %s %s %s", m.ID, m.Parent, m.Root, m.Mountpoint, m.Options, m.FSType, m.Source, m.VFSOptions)
		out = append(out, mountEntry{id: m.ID, point: m.Mountpoint, line: line})
	}
	return out
}

func mountIDs() map[int]bool {
	m := map[int]bool{}
	for _, e := range readMountinfo() {
		m[e.id] = true
	}
	return m
}

// MountPoints returns the mount points of the calling process's mount
// namespace, as /proc/self/mountinfo lists them.
func MountPoints() []string {
	var out []string
	for _, m := range readMountinfo() {
		out = append(out, m.point)
	}
	return out
}

// --- cgroups and net namespaces ----------------------------------------------

const cgroupRoot = "/sys/fs/cgroup"

// nookCgroups lists the directories named *nook* up to three levels under
// /sys/fs/cgroup (hybrid hierarchies put the controller first).
func nookCgroups() []string {
	var out []string
	var walk func(dir string, depth int)
	walk = func(dir string, depth int) {
		if depth > 3 {
			return
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			p := filepath.Join(dir, e.Name())
			// "nook" itself is the shared parent of every sandbox's
			// cgroup on v2 (cgroups.ParentV2, or DIR/nook in a delegated
			// DIR): made once and kept, as containerd keeps its parents
			if e.Name() != "nook" && strings.Contains(strings.ToLower(e.Name()), "nook") {
				out = append(out, p)
			}
			walk(p, depth+1)
		}
	}
	walk(cgroupRoot, 1)
	return out
}

// cgroupProcs returns the processes in cgroup dir and whether it has no
// child cgroups.
func cgroupProcs(dir string) (pids []int, leaf bool) {
	b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	for _, f := range strings.Fields(string(b)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	leaf = true
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.IsDir() {
			leaf = false
		}
	}
	return pids, leaf
}

// networkEntries lists what a sandbox's network adds on the host and
// must take away: the host ends of its veth pairs (network.LeaseLink),
// its nftables table (network.TablePrefix) and its generated /etc files
// (sandbox.EtcDir). Each is a path, so that a report reads as one.
func networkEntries() []string {
	var out []string
	links, _ := os.ReadDir("/sys/class/net")
	for _, l := range links {
		if strings.HasPrefix(l.Name(), "nk") && len(l.Name()) == 10 {
			out = append(out, "/sys/class/net/"+l.Name())
		}
	}
	if c, err := nftables.New(); err == nil {
		tables, _ := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
		for _, t := range tables {
			if strings.HasPrefix(t.Name, "nook-") {
				out = append(out, "/nftables/ip/"+t.Name)
			}
		}
	}
	files, _ := os.ReadDir("/run/nook/etc")
	for _, f := range files {
		out = append(out, "/run/nook/etc/"+f.Name())
	}
	return out
}

func netnsEntries() []string {
	ents, _ := os.ReadDir("/run/netns")
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

package namespaces_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nookrun/nook/internal/testutil"
	"github.com/nookrun/nook/namespaces"
	"golang.org/x/sys/unix"
)

type lsnsEntry struct {
	NS      uint64  `json:"ns"`
	Type    string  `json:"type"`
	Path    *string `json:"path"`
	NProcs  int     `json:"nprocs"`
	Pid     *int    `json:"pid"`
	PPid    *int    `json:"ppid"`
	UID     int     `json:"uid"`
	NetNSID *string `json:"netnsid"`
	NSFS    *string `json:"nsfs"`
	PNS     uint64  `json:"pns"`
	ONS     uint64  `json:"ons"`
	Command *string `json:"command"`
}

func lsns(t *testing.T) map[uint64]lsnsEntry {
	t.Helper()
	// lsns itself fails now and then on a moving machine (a process
	// that went away between its reads of /proc): ask again, up to
	// three times
	var out []byte
	var err error
	for range 3 {
		if out, err = exec.Command("lsns", "-J", "-o", "NS,TYPE,PATH,NPROCS,PID,PPID,UID,NETNSID,NSFS,PNS,ONS,COMMAND").Output(); err == nil {
			break
		}
	}
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("lsns: %v: %s", err, stderr)
	}
	var doc struct{ Namespaces []lsnsEntry }
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("lsns -J: %v\n%s", err, out)
	}
	m := map[uint64]lsnsEntry{}
	for _, e := range doc.Namespaces {
		m[e.NS] = e
	}
	return m
}

func byInode(l []*namespaces.Namespace) map[uint64]*namespaces.Namespace {
	m := map[uint64]*namespaces.Namespace{}
	for _, n := range l {
		m[n.Inode] = n
	}
	return m
}

// List and util-linux lsns, run back to back, see the same namespaces with
// the same numbers; List also sees one that only a bind mount keeps and one
// that only an open file keeps.
func TestListMatchesLsns(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckNoLeaks(t)
	if _, err := exec.LookPath("lsns"); err != nil {
		t.Skip("no lsns")
	}
	// a namespace kept by a bind mount only: unshare --net=FILE on a
	// private mount
	dir := t.TempDir()
	if err := unix.Mount("nook-test", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	if err := unix.Mount("", dir, "", unix.MS_PRIVATE, ""); err != nil {
		t.Fatal(err)
	}
	bound := filepath.Join(dir, "netns")
	os.WriteFile(bound, nil, 0o600)
	if out, err := exec.Command("unshare", "--net="+bound, "true").CombinedOutput(); err != nil {
		t.Fatalf("unshare --net=%s: %v\n%s", bound, err, out)
	}
	t.Cleanup(func() { unix.Unmount(bound, unix.MNT_DETACH) })
	var st unix.Stat_t
	if err := unix.Stat(bound, &st); err != nil {
		t.Fatal(err)
	}
	boundIno := st.Ino

	// a namespace kept by an open file only: this test holds it
	holder := exec.Command("unshare", "--uts", "sleep", "60")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/proc/" + strconv.Itoa(holder.Process.Pid) + "/ns/uts")
	if err != nil {
		holder.Process.Kill()
		t.Fatal(err)
	}
	defer func() { f.Close() }()
	// the holder may not have unshared yet: wait until the file opened is
	// not the host's
	host, _ := namespaces.Inode(0, namespaces.UTS)
	for i := 0; ; i++ {
		if err := unix.Fstat(int(f.Fd()), &st); err != nil {
			t.Fatal(err)
		}
		if st.Ino != host {
			break
		}
		if i == 200 {
			t.Fatal("unshare --uts did not unshare")
		}
		time.Sleep(5 * time.Millisecond)
		f.Close()
		if f, err = os.Open("/proc/" + strconv.Itoa(holder.Process.Pid) + "/ns/uts"); err != nil {
			t.Fatal(err)
		}
	}
	fdIno := st.Ino
	holder.Process.Kill()
	holder.Wait()

	// lsns and List look at a moving machine (other packages' tests run
	// beside this one and make namespaces, enter them and leave): List
	// before and after lsns skips what changed between them, but a
	// process that came and went while lsns ran is seen by lsns alone.
	// So the comparison is made again, up to three times, and fails only
	// if every attempt finds a difference.
	var b map[uint64]*namespaces.Namespace
	for attempt := 1; ; attempt++ {
		var msgs []string
		errorf := func(format string, args ...any) { msgs = append(msgs, fmt.Sprintf(format, args...)) }
		b = compareWithLsns(t, errorf)
		if len(msgs) == 0 {
			break
		}
		if attempt == 3 {
			for _, m := range msgs {
				t.Error(m)
			}
			break
		}
		t.Logf("attempt %d: %d differences; looking again", attempt, len(msgs))
	}
	if n := b[boundIno]; n == nil || n.Type != namespaces.Network || len(n.NSFS) != 1 || n.NSFS[0] != bound || n.Path != bound {
		t.Errorf("the bind-mounted net namespace %d: %+v", boundIno, n)
	}
	if n := b[fdIno]; n == nil || n.Type != namespaces.UTS || len(n.FDs) == 0 || !strings.HasPrefix(n.FDs[0], "/proc/"+strconv.Itoa(os.Getpid())+"/fd/") {
		t.Errorf("the fd-held uts namespace %d: %+v (fd %d: %v)", fdIno, n, f.Fd(), func() string { l, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd()))); return l }())
	}

	// -p: only one process's namespaces
	mine, err := namespaces.List(&namespaces.ListOptions{Pid: os.Getpid(), Types: []namespaces.Type{namespaces.Network, namespaces.PID}})
	if err != nil {
		t.Fatal(err)
	}
	if len(mine) != 2 {
		t.Errorf("-p self -t net -t pid: %d namespaces", len(mine))
	}
}

func TestOfUnknownPid(t *testing.T) {
	if _, err := namespaces.Of(1 << 30); err == nil || !strings.Contains(err.Error(), "no such process") {
		t.Errorf("err = %v", err)
	}
}

// compareWithLsns lists the host's namespaces with List and with lsns at
// (nearly) the same moment, reports each difference on what stayed still
// to errorf, and returns List's second look, by inode.
func compareWithLsns(t *testing.T, errorf func(format string, args ...any)) map[uint64]*namespaces.Namespace {
	t.Helper()
	before, err := namespaces.List(nil)
	if err != nil {
		t.Fatal(err)
	}
	theirs := lsns(t)
	after, err := namespaces.List(nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := byInode(before), byInode(after)
	// lsns counts itself in the namespaces it shares with this test
	own, err := namespaces.Of(0)
	if err != nil {
		t.Fatal(err)
	}
	self := map[uint64]bool{}
	for _, ino := range own {
		self[ino] = true
	}
	compared := 0
	for ino, l := range theirs {
		x, y := a[ino], b[ino]
		if x == nil && y == nil {
			errorf("lsns lists %d (%s), List does not", ino, l.Type)
			continue
		}
		if x == nil || y == nil || x.Pid != y.Pid {
			continue // changed while we looked
		}
		lo, hi := min(len(x.Procs), len(y.Procs)), max(len(x.Procs), len(y.Procs))
		if self[ino] {
			// the host's: lsns counts itself, and processes of others
			// come and go on a shared machine
			lo, hi = lo-5, hi+6
		} else if lo != hi {
			continue
		}
		compared++
		if namespaces.ProcName(x.Type) != l.Type {
			errorf("%d: type %s, lsns %s", ino, x.Type, l.Type)
		}
		if l.NProcs < lo || l.NProcs > hi || l.Pid == nil || x.Pid != *l.Pid || x.PPid != *l.PPid || x.UID != l.UID {
			errorf("%d: nprocs %d pid %d ppid %d uid %d; lsns %+v", ino, len(x.Procs), x.Pid, x.PPid, x.UID, l)
		}
		if x.Parent != l.PNS || x.Owner != l.ONS {
			errorf("%d: pns %d ons %d; lsns %d %d", ino, x.Parent, x.Owner, l.PNS, l.ONS)
		}
		if l.Path != nil && x.Path != *l.Path {
			errorf("%d: path %s, lsns %s", ino, x.Path, *l.Path)
		}
		if l.Command != nil && x.Command != *l.Command {
			errorf("%d: command %q, lsns %q", ino, x.Command, *l.Command)
		}
		if x.Type == namespaces.Network && l.NetNSID != nil {
			want := *l.NetNSID
			got := strconv.Itoa(x.NetNSID)
			if x.NetNSID < 0 {
				got = "unassigned"
			}
			if got != want {
				errorf("%d: netnsid %s, lsns %s", ino, got, want)
			}
		}
		nsfs := ""
		if l.NSFS != nil {
			nsfs = *l.NSFS
		}
		if strings.Join(x.NSFS, "\n") != nsfs {
			errorf("%d: nsfs %q, lsns %q", ino, x.NSFS, nsfs)
		}
	}
	if compared < 8 {
		errorf("only %d namespaces stayed still long enough to compare", compared)
	}
	return b
}

// Of names each namespace by the inode number a stat of its /proc file
// returns.
func TestOfMatchesStat(t *testing.T) {
	got, err := namespaces.Of(0)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range namespaces.All() {
		fi, err := os.Stat("/proc/self/ns/" + namespaces.ProcName(typ))
		if err != nil {
			continue // a kernel without this type
		}
		if ino := fi.Sys().(*syscall.Stat_t).Ino; got[typ] != ino {
			t.Errorf("%s: Of says %d, stat %d", typ, got[typ], ino)
		}
	}
}

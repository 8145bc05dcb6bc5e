package spawn

import (
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// every step once, with every field set
func fullPlan() (*Plan, []Step) {
	want := []Step{
		SetnsPidfd{unix.CLONE_NEWUSER | unix.CLONE_NEWNET | unix.CLONE_NEWNS},
		Setns{"/proc/1/ns/user", unix.CLONE_NEWUSER},
		Setsid{},
		Unshare{unix.CLONE_NEWCGROUP},
		Write{"/proc/self/timens_offsets", "boottime 1 0\n"},
		Hostname{"box"},
		Domainname{"example"},
		Loopback{},
		Propagation{unix.MS_REC | unix.MS_PRIVATE},
		NoPivot{},
		BasePivot{"/tmp"},
		Detach{"/proc"},
		Root{"/newroot", true},
		Overlay{Path: "/newroot", Lowers: []string{"/oldroot/l/top", "/oldroot/l/base"}, Options: "upperdir=/upper/upper,workdir=/upper/work", Scratch: "/upper"},
		Mount{Source: "/oldroot/usr", Target: "/usr", Flags: unix.MS_BIND | unix.MS_REC, Attr: unix.MOUNT_ATTR_RDONLY,
			Propagation: unix.MS_SLAVE, Point: MountPointAuto},
		Mount{Source: "proc", Target: "/proc", FSType: "proc", Flags: unix.MS_NOSUID, Data: "hidepid=2", Point: MountPointDir},
		Device{Host: "/oldroot/dev/null", Path: "/dev/null", Rdev: unix.Mkdev(1, 3), Mode: unix.S_IFCHR | 0o666},
		Symlink{"/proc/self/fd", "/dev/fd"},
		Mask{"/proc/kcore"},
		Readonly{"/proc/sys"},
		Hook{Name: "createContainer", Path: "/bin/sh", Args: []string{"sh", "-c", "true"}, Env: []string{"A=1"},
			State: `{"id":"x"`, Timeout: 5},
		Pivot{},
		RootReadonly{},
		RootNodev{},
		TTY{Rows: 24, Cols: 80},
		TTY{},
		Chdir{"/work"},
		Chroot{"/srv/root"},
		Rlimit{Resource: unix.RLIMIT_NOFILE, Name: "RLIMIT_NOFILE", Soft: 1024, Hard: ^uint64(0)},
		User{UID: 1000, GID: 100, Groups: []uint32{10, 20}, SetGroups: true,
			Caps: &Caps{Bounding: 0xff, Effective: 1, Permitted: 3, Inheritable: 2, Ambient: 2, Last: 40}},
		User{UID: 0, GID: 0, Groups: []uint32{}},
		NoNewPrivs{},
		Seccomp{make([]byte, 16), 1},
		Hook{Name: "startContainer", Path: "/hook", State: `{"id":"x"`, Start: true},
		Env{"PATH=/bin"},
		Arg{"/bin/sh"},
		Arg{""},
		Exec{true},
	}
	p := &Plan{}
	for _, s := range want {
		switch s := s.(type) {
		case SetnsPidfd:
			p.SetnsPidfd(s.NSTypes)
		case Setns:
			p.Setns(s.Path, s.NSType)
		case Setsid:
			p.Setsid()
		case Unshare:
			p.Unshare(s.Flags)
		case Write:
			p.Write(s.Path, s.Data)
		case Hostname:
			p.Hostname(s.Name)
		case Domainname:
			p.Domainname(s.Name)
		case Loopback:
			p.Loopback()
		case Propagation:
			p.Propagation(s.Flags)
		case BasePivot:
			p.BasePivot(s.Dir)
		case Root:
			p.Root(s.Path, s.Tmpfs)
		case Overlay:
			p.OverlayRoot(s)
		case Mount:
			p.Mount(s)
		case Device:
			p.Device(s)
		case Symlink:
			p.Symlink(s.Target, s.Link)
		case Mask:
			p.Mask(s.Path)
		case Readonly:
			p.Readonly(s.Path)
		case Pivot:
			p.Pivot()
		case NoPivot:
			p.NoPivot()
		case Detach:
			p.Detach(s.Path)
		case RootReadonly:
			p.RootReadonly()
		case RootNodev:
			p.RootNodev()
		case TTY:
			p.TTY(s.Rows, s.Cols)
		case Chdir:
			p.Chdir(s.Dir)
		case Chroot:
			p.Chroot(s.Dir)
		case Rlimit:
			p.Rlimit(s)
		case User:
			p.User(s)
		case NoNewPrivs:
			p.NoNewPrivs()
		case Seccomp:
			p.Seccomp(s.Filter, s.Flags)
		case Env:
			p.Env(s.KV)
		case Arg:
			p.Arg(s.Arg)
		case Exec:
			p.Exec(s.Init)
		case Hook:
			p.Hook(s)
		default:
			panic(s)
		}
	}
	return p, want
}

func TestPlanRoundTrip(t *testing.T) {
	p, want := fullPlan()
	if p.Err() != nil {
		t.Fatal(p.Err())
	}
	if p.Len() != len(want) {
		t.Errorf("Len = %d, want %d", p.Len(), len(want))
	}
	if len(p.Bytes())%8 != 0 {
		t.Errorf("plan of %d bytes is not 8-byte aligned", len(p.Bytes()))
	}
	got, err := p.Steps()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		for i := range max(len(got), len(want)) {
			var g, w Step
			if i < len(got) {
				g = got[i]
			}
			if i < len(want) {
				w = want[i]
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("step %d: got %#v, want %#v", i, g, w)
			}
		}
	}
	seen := map[Op]bool{}
	for _, s := range got {
		seen[s.Op()] = true
		if s.String() == "" {
			t.Errorf("%T has an empty listing", s)
		}
	}
	for op := Op(1); op < opMax; op++ {
		if !seen[op] {
			t.Errorf("op %d is not covered by this test", op)
		}
	}
}

func TestCleanupRoundTrip(t *testing.T) {
	c := &Cleanup{}
	c.Kill("/sys/fs/cgroup/pids/nook-x")
	c.Rmdir("/sys/fs/cgroup/pids/nook-x")
	c.Umount("/run/nook/netns/x")
	c.Unlink("/run/nook/netns/x")
	got, err := c.Steps()
	if err != nil {
		t.Fatal(err)
	}
	want := []Step{Kill{"/sys/fs/cgroup/pids/nook-x"}, Rmdir{"/sys/fs/cgroup/pids/nook-x"},
		Umount{"/run/nook/netns/x"}, Unlink{"/run/nook/netns/x"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if s := c.String(); !strings.Contains(s, "umount /run/nook/netns/x\n") {
		t.Errorf("listing:\n%s", s)
	}
}

func TestPlanErrors(t *testing.T) {
	p := &Plan{}
	p.Arg("a\x00b")
	if p.Err() == nil || !strings.Contains(p.Err().Error(), "NUL") {
		t.Errorf("NUL in a string: %v", p.Err())
	}
	p = &Plan{}
	p.Seccomp(make([]byte, 12), 0)
	if p.Err() == nil {
		t.Error("a seccomp filter of 12 bytes was accepted")
	}
	p = &Plan{}
	p.User(User{Groups: make([]uint32, maxGroups+1), SetGroups: true})
	if p.Err() == nil {
		t.Error("too many groups were accepted")
	}
}

// A step written with another record than its op's is caught, not
// handed to the child.
func TestPlanChecksRecords(t *testing.T) {
	p := &Plan{}
	end(p.e.begin(OpMount, unsafe.Sizeof(pathRec{})), &pathRec{})
	if p.Err() == nil {
		t.Error("a mount step with a path record was accepted")
	}
	c := &Cleanup{}
	c.e.janitor = true
	end(c.e.begin(JanitorRmdir, unsafe.Sizeof(mountRec{})), &mountRec{})
	if c.Err() == nil {
		t.Error("a janitor step with a mount record was accepted")
	}
}

func TestDecodeRejectsDamage(t *testing.T) {
	p, _ := fullPlan()
	b := p.Bytes()
	for _, bad := range [][]byte{
		b[:len(b)-8], // truncated
		append([]byte{99, 0, 0, 0, 8, 0, 0, 0}, b...), // unknown op
		append([]byte{1, 0, 0, 0, 3, 0, 0, 0}, b...),  // bad size
	} {
		q := &Plan{e: encoder{buf: bad}}
		if _, err := q.Steps(); err == nil {
			t.Errorf("a damaged plan of %d bytes decoded", len(bad))
		}
	}
}

package spawn

import (
	"bytes"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// A prepared exec is the plan with its arguments cut out, the steps
// before them and after them whole, and every name and list where its ref
// says, each string NUL-terminated: what entry.c reads.
func TestQuickExecEncode(t *testing.T) {
	var p, head, tail Plan
	for _, pl := range []*Plan{&p, &head} {
		pl.Setsid()
		pl.Env("A=1")
		pl.Chdir("/srv")
	}
	p.Arg("sh")
	p.Arg("-c")
	for _, pl := range []*Plan{&p, &tail} {
		pl.Exec(false)
	}
	q := &QuickExec{
		Init: 42, InitStart: 7,
		Files:      []QuickFile{{Name: "state.json", Dev: 1, Ino: 2, Size: 3, MtimeSec: 4, MtimeN: 5}},
		Exe:        QuickFile{Ino: 9},
		Namespaces: []QuickNamespace{{Name: "mnt", Ino: 11}, {Name: "pid", Ino: 12}},
		Devices:    []QuickDevice{{Major: 1, Minor: 3}, {Major: 136, Minor: AnyMinor}},
		PidNS:      true, Signals: []syscall.Signal{15, 2},
		CgroupTasks: []string{"/sys/fs/cgroup/memory/x/tasks", "/sys/fs/cgroup/pids/x/tasks"},
		Steps:       &p,
	}
	b, err := q.Encode()
	if err != nil {
		t.Fatal(err)
	}
	h := (*quickRec)(unsafe.Pointer(&b[0]))
	if h.magic != quickMagic || h.version != quickVersion || h.size != uint64(len(b)) || h.initPid != 42 || h.initStart != 7 {
		t.Errorf("header %+v for %d bytes", *h, len(b))
	}
	if h.flags != quickPidNS || h.signals != 1<<14|1<<1 || h.exe.ino != 9 {
		t.Errorf("flags %#x, signals %#x, exe %+v", h.flags, h.signals, h.exe)
	}
	at := func(r ref) []byte { return b[r.off : r.off+r.len] }
	str := func(r ref) string {
		if b[r.off+r.len] != 0 {
			t.Errorf("string at %d is not NUL-terminated", r.off)
		}
		return string(at(r))
	}
	if !bytes.Equal(at(h.head), head.Bytes()) || !bytes.Equal(at(h.tail), tail.Bytes()) {
		t.Errorf("head %x tail %x, want %x and %x", at(h.head), at(h.tail), head.Bytes(), tail.Bytes())
	}
	files := unsafe.Slice((*quickFileRec)(unsafe.Pointer(&b[h.files.off])), h.files.len/uint32(unsafe.Sizeof(quickFileRec{})))
	if len(files) != 1 || str(files[0].name) != "state.json" || files[0].dev != 1 || files[0].ino != 2 || files[0].size != 3 ||
		files[0].mtimeSec != 4 || files[0].mtimeNsec != 5 {
		t.Errorf("files %+v", files)
	}
	nss := unsafe.Slice((*quickNSRec)(unsafe.Pointer(&b[h.namespaces.off])), h.namespaces.len/uint32(unsafe.Sizeof(quickNSRec{})))
	if len(nss) != 2 || str(nss[0].name) != "mnt" || nss[1].ino != 12 {
		t.Errorf("namespaces %+v", nss)
	}
	devs := unsafe.Slice((*quickDevRec)(unsafe.Pointer(&b[h.devices.off])), h.devices.len/uint32(unsafe.Sizeof(quickDevRec{})))
	if len(devs) != 2 || devs[1] != (quickDevRec{major: 136, minor: AnyMinor}) {
		t.Errorf("devices %+v", devs)
	}
	if str(h.cgroupDir) != "" || string(at(h.cgroupTasks)) != strings.Join(q.CgroupTasks, "\x00")+"\x00" {
		t.Errorf("cgroups %q %q", str(h.cgroupDir), at(h.cgroupTasks))
	}
	for _, r := range []ref{h.files, h.namespaces, h.devices, h.head, h.tail} {
		if r.off%8 != 0 {
			t.Errorf("a list at %d: not 8-byte aligned", r.off)
		}
	}
}

// What entry.c could not replay is refused.
func TestQuickExecRefuses(t *testing.T) {
	var noArgs, apart Plan
	noArgs.Exec(false)
	apart.Arg("a")
	apart.Env("X=1")
	apart.Arg("b")
	apart.Exec(false)
	for name, q := range map[string]*QuickExec{
		"no plan":                   {Init: 1, InitStart: 1},
		"no arguments":              {Init: 1, InitStart: 1, Steps: &noArgs},
		"arguments apart":           {Init: 1, InitStart: 1, Steps: &apart},
		"no init":                   {InitStart: 1, Steps: planWithArg()},
		"a NUL in a name":           {Init: 1, InitStart: 1, Steps: planWithArg(), Files: []QuickFile{{Name: "a\x00b"}}},
		"a signal out of range":     {Init: 1, InitStart: 1, Steps: planWithArg(), Signals: []syscall.Signal{65}},
		"more cgroups than a child": {Init: 1, InitStart: 1, Steps: planWithArg(), CgroupTasks: make([]string, maxCgroups+1)},
	} {
		if _, err := q.Encode(); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
}

func planWithArg() *Plan {
	var p Plan
	p.Arg("true")
	p.Exec(false)
	return &p
}

// A prepared run holds the whole plan and the janitor's, the cgroups to
// make and the files to write, each where its ref says: what entry.c
// reads. Its file is one of 256 per state root, by the bundle's path.
func TestQuickRunEncode(t *testing.T) {
	var c Cleanup
	c.Rmdir("/sys/fs/cgroup/devices/nook-x")
	q := &QuickRun{
		Bundle: "/srv/b", ID: "x",
		Exe: QuickFile{Ino: 9}, Config: QuickFile{Name: "config.json", Ino: 10, CtimeSec: 6, CtimeN: 7},
		Namespaces: []QuickNamespace{{Name: "mnt", Ino: 11}},
		Stdio:      [3]QuickStdio{{Kind: StdioChar, Rdev: 0x103}},
		Signals:    []syscall.Signal{15}, CloneFlags: syscall.CLONE_NEWPID, ShareMemory: true,
		Checks:      []QuickWrite{{Path: "/sys/fs/cgroup/nook/cgroup.subtree_control", Data: []byte("memory pids")}},
		Mkdirs:      []string{"/sys/fs/cgroup/devices/nook-x"},
		Programs:    []QuickWrite{{Path: "/sys/fs/cgroup/nook/x", Data: make([]byte, 16)}},
		Writes:      []QuickWrite{{Path: "/sys/fs/cgroup/devices/nook-x/devices.deny", Data: []byte("a")}},
		CgroupTasks: []string{"/sys/fs/cgroup/devices/nook-x/tasks"},
		Cleanup:     &c, Steps: planWithArg(),
	}
	b, err := q.Encode()
	if err != nil {
		t.Fatal(err)
	}
	h := (*quickRunRec)(unsafe.Pointer(&b[0]))
	if h.magic != quickRunMagic || h.version != quickVersion || h.size != uint64(len(b)) || h.flags != quickShareMemory ||
		h.cloneFlags != syscall.CLONE_NEWPID || h.signals != 1<<14 {
		t.Fatalf("header %+v", *h)
	}
	if h.config.ino != 10 || h.config.ctimeSec != 6 || h.config.ctimeNsec != 7 || h.stdio[0].kind != StdioChar || h.stdio[0].rdev != 0x103 || h.stdio[1].kind != StdioOther {
		t.Errorf("config %+v, stdio %+v", h.config, h.stdio)
	}
	str := func(r ref) string {
		if b[r.off+r.len] != 0 {
			t.Errorf("ref %+v: no NUL", r)
		}
		return string(b[r.off : r.off+r.len])
	}
	list := func(r ref) string { return string(b[r.off : r.off+r.len]) }
	if str(h.bundle) != "/srv/b" || str(h.id) != "x" || list(h.mkdirs) != "/sys/fs/cgroup/devices/nook-x\x00" ||
		list(h.cgroupTasks) != "/sys/fs/cgroup/devices/nook-x/tasks\x00" {
		t.Errorf("bundle %q, id %q, mkdirs %q, tasks %q", str(h.bundle), str(h.id), list(h.mkdirs), list(h.cgroupTasks))
	}
	w := (*quickWriteRec)(unsafe.Pointer(&b[h.writes.off]))
	if h.writes.len != uint32(unsafe.Sizeof(*w)) || str(w.path) != "/sys/fs/cgroup/devices/nook-x/devices.deny" || string(b[w.data.off:w.data.off+w.data.len]) != "a" {
		t.Errorf("writes %+v", h.writes)
	}
	if !bytes.Equal(b[h.steps.off:h.steps.off+h.steps.len], q.Steps.Bytes()) || !bytes.Equal(b[h.cleanup.off:h.cleanup.off+h.cleanup.len], c.Bytes()) {
		t.Error("the plans are not whole")
	}
	for name, r := range map[string]ref{"checks": h.checks, "programs": h.programs} {
		rec := (*quickWriteRec)(unsafe.Pointer(&b[r.off]))
		if r.len != uint32(unsafe.Sizeof(*rec)) || r.off%8 != 0 || rec.data.off%8 != 0 {
			t.Errorf("%s %+v", name, r)
		}
	}
	if c := (*quickWriteRec)(unsafe.Pointer(&b[h.checks.off])); str(c.path) != "/sys/fs/cgroup/nook/cgroup.subtree_control" || string(b[c.data.off:c.data.off+c.data.len]) != "memory pids" {
		t.Errorf("check %+v", *c)
	}
	if p := (*quickWriteRec)(unsafe.Pointer(&b[h.programs.off])); str(p.path) != "/sys/fs/cgroup/nook/x" || p.data.len != 16 {
		t.Errorf("program %+v", *p)
	}
	for _, r := range []ref{h.namespaces, h.checks, h.programs, h.writes, h.cleanup, h.steps} {
		if r.off%8 != 0 {
			t.Errorf("ref %+v not 8-byte aligned", r)
		}
	}
	if f := QuickRunFile("/run/nook", "/srv/b"); !strings.HasPrefix(f, "/run/nook/"+QuickRunDir()+"/run-") || len(f) != len("/run/nook/"+QuickRunDir()+"/run-00") {
		t.Errorf("QuickRunFile: %s", f)
	}
}

func TestQuickRunRefuses(t *testing.T) {
	var c Cleanup
	ok := func() *QuickRun { return &QuickRun{Bundle: "/b", ID: "x", Cleanup: &c, Steps: planWithArg()} }
	for name, mod := range map[string]func(*QuickRun){
		"no plan":              func(q *QuickRun) { q.Steps = nil },
		"no cleanup":           func(q *QuickRun) { q.Cleanup = nil },
		"a relative bundle":    func(q *QuickRun) { q.Bundle = "b" },
		"an unclean bundle":    func(q *QuickRun) { q.Bundle = "/b/../c" },
		"no ID":                func(q *QuickRun) { q.ID = "" },
		"an empty cgroup":      func(q *QuickRun) { q.Mkdirs = []string{""} },
		"a stdio of no kind":   func(q *QuickRun) { q.Stdio[1].Kind = 9 },
		"too many cgroups":     func(q *QuickRun) { q.Mkdirs = make([]string, maxCgroups+1) },
		"a NUL in a file name": func(q *QuickRun) { q.Writes = []QuickWrite{{Path: "a\x00"}} },
		"half an instruction":  func(q *QuickRun) { q.Programs = []QuickWrite{{Path: "/c", Data: make([]byte, 12)}} },
	} {
		q := ok()
		mod(q)
		if _, err := q.Encode(); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
	if _, err := ok().Encode(); err != nil {
		t.Errorf("the plain run: %v", err)
	}
}

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

package testutil

import (
	"runtime"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DevicePrograms lists the IDs of the cgroup v2 device programs attached
// to the cgroup dir itself (BPF_PROG_QUERY), and checks that they were
// attached with BPF_F_ALLOW_MULTI, as nook attaches them.
func DevicePrograms(t testing.TB, dir string) []uint32 {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	ids := make([]uint32, 64)
	var pin runtime.Pinner
	defer pin.Unpin()
	pin.Pin(&ids[0])
	attr := struct {
		targetFD, attachType, queryFlags, attachFlags uint32
		progIDs                                       uint64
		progCnt                                       uint32
		_                                             uint32
	}{targetFD: uint32(fd), attachType: unix.BPF_CGROUP_DEVICE, progIDs: uint64(uintptr(unsafe.Pointer(&ids[0]))), progCnt: uint32(len(ids))}
	if _, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_QUERY, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr)); errno != 0 {
		t.Fatalf("BPF_PROG_QUERY %s: %v", dir, errno)
	}
	if attr.progCnt > 0 && attr.attachFlags != unix.BPF_F_ALLOW_MULTI {
		t.Errorf("attach flags %#x, want BPF_F_ALLOW_MULTI", attr.attachFlags)
	}
	return ids[:attr.progCnt]
}

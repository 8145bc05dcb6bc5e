package seccomp

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/nookrun/nook/seccomp/internal/int80"
)

// The kernel tests re-execute the test binary with childEnv set; the
// child installs a filter on itself and reports what the kernel did.
const childEnv = "NOOK_SECCOMP_TEST_CHILD"

const addrNoRandomize = 0x0040000 // include/uapi/linux/personality.h

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(childMain(mode))
	}
	os.Exit(m.Run())
}

const (
	seccompSetModeFilter = 1
	seccompFlagTsync     = 1
)

// install loads prog the way nook's C child does: no_new_privs, then
// seccomp(SECCOMP_SET_MODE_FILTER) with the array from Program.Bytes.
func install(prog Program, flags uintptr) (time.Duration, error) {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return 0, fmt.Errorf("PR_SET_NO_NEW_PRIVS: %w", err)
	}
	b := prog.Bytes()
	fprog := struct {
		len    uint16
		filter unsafe.Pointer
	}{uint16(len(prog)), unsafe.Pointer(&b[0])}
	start := time.Now()
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, seccompSetModeFilter, flags, uintptr(unsafe.Pointer(&fprog)))
	d := time.Since(start)
	runtime.KeepAlive(b)
	if errno != 0 {
		return d, fmt.Errorf("seccomp(SET_MODE_FILTER): %w", errno)
	}
	return d, nil
}

func childMain(mode string) int {
	runtime.LockOSThread()
	var err error
	switch mode {
	case "default":
		err = childDefault()
	case "native-only":
		err = childNativeOnly()
	case "probe-int80":
		if int80.Syscall(20, 0, 0, 0) != int32(os.Getpid()) {
			err = errors.New("int 0x80 getpid returned the wrong value")
		}
	case "timing":
		err = childTiming()
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}

func childDefault() error {
	prog, err := Compile(Default())
	if err != nil {
		return err
	}
	d, err := install(prog, seccompFlagTsync)
	if err != nil {
		return err
	}
	fmt.Printf("load: %d instructions in %v\n", len(prog), d)
	var fails []string
	check := func(name string, got, want unix.Errno) {
		if got != want {
			fails = append(fails, fmt.Sprintf("%s: got %v (%d), want %v (%d)", name, got, got, want, want))
		} else {
			fmt.Printf("ok %s: %v\n", name, want)
		}
	}
	sys := func(nr uintptr, a ...uintptr) unix.Errno {
		var x [6]uintptr
		copy(x[:], a)
		_, _, e := unix.RawSyscall6(nr, x[0], x[1], x[2], x[3], x[4], x[5])
		return e
	}
	dir, _ := os.MkdirTemp("", "nook-seccomp")
	defer os.Remove(dir)
	src, _ := unix.BytePtrFromString("none")
	dst, _ := unix.BytePtrFromString(dir)
	fstype, _ := unix.BytePtrFromString("nook-no-such-fs") // ENODEV if the call got through
	check("mount", sys(unix.SYS_MOUNT, uintptr(unsafe.Pointer(src)), uintptr(unsafe.Pointer(dst)), uintptr(unsafe.Pointer(fstype))), unix.EPERM)
	check("umount2", sys(unix.SYS_UMOUNT2, uintptr(unsafe.Pointer(dst)), 0), unix.EPERM)
	check("fsopen", sys(unix.SYS_FSOPEN, uintptr(unsafe.Pointer(fstype)), 0), unix.EPERM)
	const keySpecSession = ^uintptr(2) // -3
	check("keyctl", sys(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, keySpecSession, 0), unix.EPERM)
	check("add_key", sys(unix.SYS_ADD_KEY, 0, 0, 0, 0, 0), unix.EPERM)
	// Without the filter these fail with EINVAL (threaded process,
	// NEWUSER|FS), so EPERM proves the filter answered.
	check("unshare(CLONE_NEWUSER)", sys(unix.SYS_UNSHARE, unix.CLONE_NEWUSER), unix.EPERM)
	check("unshare(CLONE_NEWNET)", sys(unix.SYS_UNSHARE, unix.CLONE_NEWNET), unix.EPERM)
	check("unshare(0)", sys(unix.SYS_UNSHARE, 0), 0)
	check("clone(CLONE_NEWUSER|CLONE_FS)", sys(unix.SYS_CLONE, unix.CLONE_NEWUSER|unix.CLONE_FS), unix.EPERM)
	check("clone(CLONE_NEWNS|CLONE_FS)", sys(unix.SYS_CLONE, unix.CLONE_NEWNS|unix.CLONE_FS), unix.EPERM)
	check("clone3", sys(unix.SYS_CLONE3, 0, 0), unix.ENOSYS)
	check("setns", sys(unix.SYS_SETNS, ^uintptr(0), 0), unix.EPERM)
	check("bpf", sys(unix.SYS_BPF, ^uintptr(0), 0, 0), unix.EPERM)
	check("io_uring_setup", sys(unix.SYS_IO_URING_SETUP, 0, 0), unix.EPERM)
	check("open_by_handle_at", sys(unix.SYS_OPEN_BY_HANDLE_AT, ^uintptr(0), 0, 0), unix.EPERM)
	check("personality(ADDR_NO_RANDOMIZE)", sys(unix.SYS_PERSONALITY, addrNoRandomize), unix.EPERM)
	check("personality(query)", sys(unix.SYS_PERSONALITY, 0xffffffff), 0)
	if pid, _, _ := unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0); int(pid) != os.Getpid() {
		fails = append(fails, fmt.Sprintf("getpid returned %d, want %d", pid, os.Getpid()))
	} else {
		fmt.Println("ok getpid works")
	}
	// x32: the same numbers with bit 30 set.
	check("x32 getpid", sys(x32SyscallBit|unix.SYS_GETPID), unix.ENOSYS)
	check("x32 mount", sys(x32SyscallBit|unix.SYS_MOUNT), unix.ENOSYS)
	// Things a normal program does still work.
	if _, err := os.ReadFile("/proc/self/status"); err != nil {
		fails = append(fails, "reading a file: "+err.Error())
	}
	status, _ := os.ReadFile("/proc/self/status")
	if !strings.Contains(string(status), "Seccomp:\t2") {
		fails = append(fails, "/proc/self/status does not show seccomp mode 2")
	}
	if os.Getenv("NOOK_INT80") == "1" {
		i386 := func(name string, got int32, want int32) {
			if got != want {
				fails = append(fails, fmt.Sprintf("i386 %s: got %d, want %d", name, got, want))
			} else {
				fmt.Printf("ok i386 %s: %d\n", name, want)
			}
		}
		i386("getpid", int80.Syscall(20, 0, 0, 0), int32(os.Getpid()))
		i386("mount", int80.Syscall(21, 0, 0, 0), -int32(unix.EPERM))
		i386("umount", int80.Syscall(22, 0, 0, 0), -int32(unix.EPERM))
		i386("keyctl", int80.Syscall(288, 0, 0, 0), -int32(unix.EPERM))
		i386("unshare(CLONE_NEWUSER)", int80.Syscall(310, unix.CLONE_NEWUSER, 0, 0), -int32(unix.EPERM))
		i386("clone3", int80.Syscall(435, 0, 0, 0), -int32(unix.ENOSYS))
		i386("personality(ADDR_NO_RANDOMIZE)", int80.Syscall(136, addrNoRandomize, 0, 0), -int32(unix.EPERM))
	}
	if len(fails) > 0 {
		return errors.New(strings.Join(fails, "\n"))
	}
	return nil
}

// childNativeOnly installs a profile that lists no compat ABI and then
// makes an i386 syscall, which must kill the process.
func childNativeOnly() error {
	prog, err := Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow})
	if err != nil {
		return err
	}
	if _, err := install(prog, seccompFlagTsync); err != nil {
		return err
	}
	int80.Syscall(20, 0, 0, 0)
	return errors.New("still alive after an i386 syscall")
}

func childTiming() error {
	const calls = 200000
	perCall := func() time.Duration {
		start := time.Now()
		for range calls {
			unix.RawSyscall(unix.SYS_GETPPID, 0, 0, 0)
		}
		return time.Since(start) / calls
	}
	before := perCall()
	prog, err := Compile(Default())
	if err != nil {
		return err
	}
	var loads []time.Duration
	for i := range 40 {
		// No TSYNC: like nook's single-threaded C child, and this
		// thread is the only one that makes syscalls from here on.
		d, err := install(prog, 0)
		if err != nil {
			return err
		}
		loads = append(loads, d)
		if i == 0 {
			fmt.Printf("getppid: %v per call without a filter, %v with the default filter\n", before, perCall())
		}
	}
	first := loads[0]
	slices.Sort(loads)
	var sum time.Duration
	for _, d := range loads {
		sum += d
	}
	fmt.Printf("seccomp() load of %d instructions (%d bytes): first %v, min %v, median %v, mean %v over %d loads\n",
		len(prog), len(prog.Bytes()), first, loads[0], loads[len(loads)/2], sum/time.Duration(len(loads)), len(loads))
	return nil
}

func runChild(t *testing.T, mode string, env ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childEnv+"="+mode), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func requireSeccomp(t *testing.T) {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil || !strings.Contains(string(status), "Seccomp:") {
		t.Skip("kernel without seccomp")
	}
	if strings.Contains(string(status), "Seccomp:\t2") {
		t.Log("note: the test process already runs under a seccomp filter")
	}
}

func int80Works(t *testing.T) bool {
	if !int80.Available || runtime.GOARCH != "amd64" {
		return false
	}
	_, err := runChild(t, "probe-int80")
	return err == nil
}

func TestKernelDefaultProfile(t *testing.T) {
	requireSeccomp(t)
	var env []string
	if int80Works(t) {
		env = append(env, "NOOK_INT80=1")
	} else {
		t.Log("i386 syscalls (int 0x80) unavailable here; skipping the compat checks")
	}
	out, err := runChild(t, "default", env...)
	t.Log("\n" + out)
	if err != nil {
		t.Fatalf("child: %v", err)
	}
}

func TestKernelUnlistedCompatKills(t *testing.T) {
	requireSeccomp(t)
	if !int80Works(t) {
		t.Skip("i386 syscalls (int 0x80) unavailable here")
	}
	out, err := runChild(t, "native-only")
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("child was not killed: %v\n%s", err, out)
	}
	ws := ee.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGSYS {
		t.Fatalf("child ended with %v, want death by SIGSYS\n%s", ee, out)
	}
}

func TestKernelLoadTiming(t *testing.T) {
	requireSeccomp(t)
	out, err := runChild(t, "timing")
	t.Log("\n" + out)
	if err != nil {
		t.Fatalf("child: %v", err)
	}
}

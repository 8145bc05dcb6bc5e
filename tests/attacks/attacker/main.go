//go:build linux

// Command attacker tries known container escapes from inside a nook
// sandbox, one attack per run, and prints one line per attempt:
//
//	RESULT <name> blocked <errno or reason>
//	RESULT <name> ESCAPED <detail>
//
// It is run by the tests in tests/attacks, never by hand:
//
//	nook run --bind DIR:/attack:ro \
//	    --env NOOK_HOST_PIDNS=<host pid ns inode> --env NOOK_HOST_MNTNS=<host mnt ns inode> \
//	    -- /attack/attacker NAME [ARGS...]
//
// Before anything else it checks that it runs in a sandbox: it refuses
// (exit 99) unless NOOK_HOST_PIDNS and NOOK_HOST_MNTNS are set and its own
// pid and mount namespaces differ from those. An attack that succeeds does
// the least that proves it (opens for writing but never writes to a host
// knob, loads no module, never writes to sysrq-trigger).
//
// Build it static, as the tests do:
//
//	CGO_ENABLED=0 go build -o attacker ./tests/attacks/attacker
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Exit statuses besides 0.
const (
	exitRefused = 99 // not in a sandbox: nothing was tried
	exitUsage   = 98
)

func main() {
	guard()
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: attacker NAME [ARGS...]")
		os.Exit(exitUsage)
	}
	name, args := os.Args[1], os.Args[2:]
	a, ok := attacks[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "attacker: unknown attack %q\n", name)
		os.Exit(exitUsage)
	}
	a(args)
}

// guard exits 99 unless the process is in a pid and a mount namespace
// other than the host's, whose inodes the test passes in the environment.
func guard() {
	for _, ns := range []struct{ env, path string }{
		{"NOOK_HOST_PIDNS", "/proc/self/ns/pid"},
		{"NOOK_HOST_MNTNS", "/proc/self/ns/mnt"},
	} {
		v := os.Getenv(ns.env)
		if v == "" {
			refuse("%s is not set: refusing to run outside a sandbox", ns.env)
		}
		host, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			refuse("%s=%q: not an inode number", ns.env, v)
		}
		ino, err := nsInode(ns.path)
		if err != nil {
			refuse("cannot tell my namespace: %v", err)
		}
		if ino == host {
			refuse("%s is the host's (inode %d): refusing to attack the host", ns.path, ino)
		}
	}
	fmt.Println("GUARD ok")
}

func refuse(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "attacker: "+format+"\n", args...)
	os.Exit(exitRefused)
}

func nsInode(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// sameNSAsHost reports whether the namespace at path is the one whose
// inode is in env (an extra check before an attack on a namespaced knob).
func sameNSAsHost(env, path string) bool {
	v := os.Getenv(env)
	host, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return true // unknown: assume the worst
	}
	ino, err := nsInode(path)
	return err != nil || ino == host
}

// --- reporting ------------------------------------------------------------

func blocked(name, reason string) { fmt.Printf("RESULT %s blocked %s\n", name, reason) }

func escaped(name, format string, args ...any) {
	fmt.Printf("RESULT %s ESCAPED %s\n", name, fmt.Sprintf(format, args...))
}

func errName(err error) string {
	var e syscall.Errno
	switch x := err.(type) {
	case syscall.Errno:
		e = x
	case *os.PathError:
		return errName(x.Err)
	case *os.SyscallError:
		return errName(x.Err)
	case *os.LinkError:
		return errName(x.Err)
	default:
		return strings.ReplaceAll(fmt.Sprint(err), " ", "_")
	}
	if n := unix.ErrnoName(e); n != "" {
		return n
	}
	return "errno" + strconv.Itoa(int(e))
}

// denied are the errors that mean a security layer said no (as opposed
// to the kernel having looked at the request, and found it malformed).
var denied = map[syscall.Errno]bool{
	unix.EPERM: true, unix.EACCES: true, unix.EROFS: true, unix.ENOSYS: true, unix.ETXTBSY: true,
}

// verdict reports a system call that should have been refused: blocked
// with its errno when the errno is a refusal, ESCAPED otherwise (success,
// or an error that shows the kernel got past the permission checks).
func verdict(name string, err error, success string) {
	if err == nil {
		escaped(name, "%s", success)
		return
	}
	if e, ok := errnoOf(err); ok && denied[e] {
		blocked(name, errName(err))
		return
	}
	escaped(name, "reached the kernel past its permission checks: %s (%v)", errName(err), err)
}

func errnoOf(err error) (syscall.Errno, bool) {
	for err != nil {
		if e, ok := err.(syscall.Errno); ok {
			return e, true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return 0, false
		}
		err = u.Unwrap()
	}
	return 0, false
}

func sys(trap uintptr, a ...uintptr) (uintptr, error) {
	var v [6]uintptr
	copy(v[:], a)
	r, _, e := unix.Syscall6(trap, v[0], v[1], v[2], v[3], v[4], v[5])
	if e != 0 {
		return r, e
	}
	return r, nil
}

func ptr[T any](p *T) uintptr { return uintptr(unsafe.Pointer(p)) }

func cstr(s string) *byte {
	b, _ := unix.BytePtrFromString(s)
	return b
}

// openW opens path for writing and closes it at once, without writing.
func openW(name, path string) {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err == nil {
		unix.Close(fd)
		escaped(name, "opened %s for writing (nothing written)", path)
		return
	}
	if err == unix.ENOENT {
		blocked(name, "ENOENT")
		return
	}
	verdict(name, err, "")
}

// --- the attacks ------------------------------------------------------------

var attacks = map[string]func(args []string){
	"noop":            func([]string) {},
	"sysctl-hostname": sysctlHostname,
	"sysctl-global":   sysctlGlobal,
	"sysrq":           sysrq,
	"masked":          masked,
	"mount":           mountAttack,
	"userns":          userns,
	"modules":         modules,
	"kexec":           kexec,
	"bpf":             bpfAttack,
	"perf":            perf,
	"keyring":         keyring,
	"userfaultfd":     userfaultfd,
	"shocker":         shocker,
	"ptrace":          ptraceInit,
	"tiocsti":         tiocsti,
	"exe":             exe,
	"fds":             fds,
	"cwd":             cwd,
	"chroot":          chrootEscape,
	"bindcheck":       bindcheck,
	"kill":            killHost,
	"forkbomb":        forkbomb,
	"forkbomb-sh":     forkbombSh,
	"memhog":          memhog,
	"mknod":           mknod,
	"devlist":         devlist,
	"devopen":         devopen,
	"sysfs":           sysfs,
}

// 1. sysctls. The host name is per UTS namespace, so even a write that
// gets through changes only the sandbox's name; the test checks the
// host's.
func sysctlHostname([]string) {
	for _, f := range []string{"hostname", "domainname"} {
		name := "sysctl-" + f
		path := "/proc/sys/kernel/" + f
		fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			verdict(name, err, "")
			continue
		}
		if sameNSAsHost("NOOK_HOST_UTSNS", "/proc/self/ns/uts") {
			unix.Close(fd)
			escaped(name, "opened %s for writing; not written: this is the host's uts namespace", path)
			continue
		}
		_, err = unix.Write(fd, []byte("nook-attack\n"))
		unix.Close(fd)
		if err != nil {
			verdict(name, err, "")
			continue
		}
		escaped(name, "wrote %s (the sandbox's own uts namespace)", path)
	}
}

// Global knobs: opened for writing only, never written.
func sysctlGlobal([]string) {
	for _, p := range []string{"kernel/core_pattern", "kernel/modprobe", "kernel/sysrq", "vm/overcommit_memory", "fs/suid_dumpable", "kernel/randomize_va_space"} {
		openW("sysctl-"+strings.ReplaceAll(p, "/", "."), "/proc/sys/"+p)
	}
}

// 2. sysrq-trigger: opened for writing only. Nothing is ever written.
func sysrq([]string) { openW("sysrq", "/proc/sysrq-trigger") }

var maskedDefault = []string{
	"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/proc/latency_stats",
	"/proc/timer_stats", "/proc/acpi", "/proc/scsi", "/proc/asound", "/sys/firmware", "/sys/devices/virtual/powercap",
}

// 3. masked paths: a file reads as empty (/dev/null over it), a
// directory lists as empty (a read-only tmpfs over it).
func masked(args []string) {
	paths := args
	if len(paths) == 0 {
		paths = maskedDefault
	}
	for _, p := range paths {
		name := "masked:" + p
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			if err == unix.ENOENT {
				blocked(name, "absent")
			} else {
				verdict(name, err, "")
			}
			continue
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			ents, err := os.ReadDir(p)
			switch {
			case err != nil:
				verdict(name, err, "")
			case len(ents) == 0:
				blocked(name, "masked(empty-dir)")
			default:
				var names []string
				for i, e := range ents {
					if i == 5 {
						break
					}
					names = append(names, e.Name())
				}
				escaped(name, "directory lists %d entries: %s", len(ents), strings.Join(names, ","))
			}
			continue
		}
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			verdict(name, err, "")
			continue
		}
		buf := make([]byte, 4096)
		n, err := unix.Read(fd, buf)
		unix.Close(fd)
		switch {
		case err != nil:
			verdict(name, err, "")
		case n == 0:
			if st.Mode&unix.S_IFMT == unix.S_IFCHR && unix.Major(st.Rdev) == 1 && unix.Minor(st.Rdev) == 3 {
				blocked(name, "masked(dev-null)")
			} else {
				blocked(name, "masked(empty)")
			}
		default:
			escaped(name, "read %d bytes", n)
		}
	}
}

// 4. mounts: none may be made or removed. Args select steps (default all).
func mountAttack(args []string) {
	want := func(step string) bool {
		if len(args) == 0 {
			return true
		}
		for _, a := range args {
			if a == step {
				return true
			}
		}
		return false
	}
	mk := func(d string) string {
		os.MkdirAll(d, 0o755)
		return d
	}
	try := func(step, src, dst, fstype string, flags uintptr, data string) {
		if !want(step) {
			return
		}
		err := unix.Mount(src, dst, fstype, flags, data)
		if err == nil {
			unix.Unmount(dst, unix.MNT_DETACH)
			escaped("mount-"+step, "mounted %s (%s) on %s (inside the sandbox's mount namespace; unmounted again)", fstype, src, dst)
			return
		}
		verdict("mount-"+step, err, "")
	}
	try("proc", "proc", mk("/tmp/attack-proc"), "proc", 0, "")
	try("tmpfs", "tmpfs", mk("/tmp/attack-tmpfs"), "tmpfs", 0, "size=64k")
	try("bind", "/", mk("/tmp/attack-bind"), "", unix.MS_BIND|unix.MS_REC, "")
	// the release_agent escape (CVE-2022-0492) needs a cgroup v1 mount
	try("cgroup1", "cgroup", mk("/tmp/attack-cg"), "cgroup", 0, "rdma")
	try("cgroup2", "cgroup2", mk("/tmp/attack-cg2"), "cgroup2", 0, "")
	if want("remount-root-rw") {
		err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_BIND, "")
		verdict("mount-remount-root-rw", err, "remounted / read-write")
	}
	if want("remount-proc-sys-rw") {
		err := unix.Mount("", "/proc/sys", "", unix.MS_REMOUNT|unix.MS_BIND, "")
		verdict("mount-remount-proc-sys-rw", err, "remounted /proc/sys read-write")
	}
	if want("fsopen") {
		fd, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
		if err == nil {
			unix.Close(fd)
		}
		verdict("mount-fsopen", err, "fsopen(tmpfs) gave an fs context")
	}
	if want("open_tree") {
		fd, err := unix.OpenTree(unix.AT_FDCWD, "/", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
		if err == nil {
			unix.Close(fd)
		}
		verdict("mount-open_tree", err, "open_tree(/, OPEN_TREE_CLONE) gave a detached copy of /")
	}
	if want("umount-proc") {
		// last: if it works, /proc is gone for the rest of this run
		err := unix.Unmount("/proc", unix.MNT_DETACH)
		verdict("mount-umount-proc", err, "unmounted /proc (what was under it is visible)")
	}
}

// 5. new user namespaces (to regain capabilities) and clone3.
func userns([]string) {
	// clone(CLONE_NEWUSER), through the runtime's fork (clone, not
	// clone3, without a pidfd): the child would run "noop" and exit.
	pid, err := syscall.ForkExec("/proc/self/exe", []string{"attacker", "noop"}, &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER},
	})
	if err == nil {
		var ws syscall.WaitStatus
		syscall.Wait4(pid, &ws, 0, nil)
	}
	verdict("userns-clone", err, "a child was cloned into a new user namespace")

	// unshare(CLONE_NEWUSER): the kernel refuses it to a threaded
	// process with EINVAL, so only a filter answers EPERM
	err = unix.Unshare(unix.CLONE_NEWUSER)
	if err == unix.EINVAL {
		escaped("userns-unshare", "reached the kernel: EINVAL (refused only because the process is threaded)")
	} else {
		verdict("userns-unshare", err, "unshared a new user namespace")
	}

	for _, ns := range []struct {
		n string
		f int
	}{{"mnt", unix.CLONE_NEWNS}, {"net", unix.CLONE_NEWNET}, {"pid", unix.CLONE_NEWPID}, {"cgroup", unix.CLONE_NEWCGROUP}} {
		runtime.LockOSThread() // a thread that unshared is never reused
		err := unix.Unshare(ns.f)
		verdict("unshare-"+ns.n, err, "unshared a new "+ns.n+" namespace")
	}

	// setns into a namespace (our own: there is no other to reach)
	fd, err := unix.Open("/proc/self/ns/mnt", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		err = unix.Setns(fd, unix.CLONE_NEWNS)
		unix.Close(fd)
	}
	verdict("setns", err, "setns succeeded")

	// clone3 with a size the kernel rejects (EINVAL) before doing
	// anything: only a filter answers ENOSYS
	_, err = sys(unix.SYS_CLONE3, 0, 0)
	verdict("clone3", err, "clone3 forked")
}

// 6. kernel modules, with garbage: nothing could ever load.
func modules([]string) {
	junk := bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 16)
	_, err := sys(unix.SYS_INIT_MODULE, uintptr(unsafe.Pointer(&junk[0])), uintptr(len(junk)), uintptr(unsafe.Pointer(cstr(""))))
	verdict("init_module", err, "init_module accepted garbage")

	fd, merr := unix.MemfdCreate("junk", unix.MFD_CLOEXEC)
	if merr != nil {
		fd = -1
	} else {
		unix.Write(fd, junk)
	}
	_, err = sys(unix.SYS_FINIT_MODULE, uintptr(fd), uintptr(unsafe.Pointer(cstr(""))), 0)
	verdict("finit_module", err, "finit_module accepted garbage")

	_, err = sys(unix.SYS_DELETE_MODULE, uintptr(unsafe.Pointer(cstr("nook_attack_no_such_module"))), unix.O_NONBLOCK)
	verdict("delete_module", err, "")
}

// 7. kexec and reboot, each with arguments the kernel rejects right after
// its permission check: nothing is loaded, unloaded or rebooted.
func kexec([]string) {
	// fd -1: EBADF once past the permission check
	_, err := sys(unix.SYS_KEXEC_FILE_LOAD, ^uintptr(0), ^uintptr(0), 0, 0, 0)
	verdict("kexec_file_load", err, "")
	// more segments than KEXEC_SEGMENT_MAX: EINVAL past the check
	_, err = sys(unix.SYS_KEXEC_LOAD, 0, 1000, 0, 0)
	verdict("kexec_load", err, "")
	// wrong magic: EINVAL past the check
	_, err = sys(unix.SYS_REBOOT, 0x1234, 0x5678, 0, 0)
	verdict("reboot", err, "")
}

// 8a. bpf(BPF_PROG_LOAD) with a program type that does not exist.
func bpfAttack([]string) {
	var attr [128]byte
	for i := 0; i < 4; i++ {
		attr[i] = 0xff
	}
	_, err := sys(unix.SYS_BPF, unix.BPF_PROG_LOAD, uintptr(unsafe.Pointer(&attr[0])), uintptr(len(attr)))
	verdict("bpf", err, "BPF_PROG_LOAD accepted junk")
	_, err = sys(unix.SYS_BPF, unix.BPF_MAP_CREATE, uintptr(unsafe.Pointer(&attr[0])), uintptr(len(attr)))
	verdict("bpf-map", err, "BPF_MAP_CREATE accepted junk")
}

// 8b. perf_event_open: a software counter on ourselves, the least there is.
func perf([]string) {
	attr := unix.PerfEventAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_DUMMY}
	attr.Size = uint32(unsafe.Sizeof(attr))
	fd, err := unix.PerfEventOpen(&attr, 0, -1, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err == nil {
		unix.Close(fd)
	}
	verdict("perf_event_open", err, "opened a perf event (a software counter on itself)")
}

// 8c. the kernel keyring.
func keyring([]string) {
	_, err := unix.KeyctlInt(unix.KEYCTL_GET_KEYRING_ID, unix.KEY_SPEC_SESSION_KEYRING, 0, 0, 0)
	verdict("keyctl", err, "read the session keyring's id")
	_, err = unix.AddKey("user", "nook-attack", []byte("x"), unix.KEY_SPEC_PROCESS_KEYRING)
	verdict("add_key", err, "added a key to the process keyring")
	_, err = unix.RequestKey("user", "nook-attack-none", "", unix.KEY_SPEC_PROCESS_KEYRING)
	if err == unix.ENOKEY {
		escaped("request_key", "reached the kernel: ENOKEY")
	} else {
		verdict("request_key", err, "")
	}
}

// 8d. userfaultfd.
func userfaultfd([]string) {
	fd, err := sys(unix.SYS_USERFAULTFD, unix.O_CLOEXEC|unix.O_NONBLOCK)
	if err == nil {
		unix.Close(int(fd))
	}
	verdict("userfaultfd", err, "got a userfaultfd")
}

// 8e. the "shocker" escape: open the host file system's root directory
// by a guessed handle (ext2/3/4 root: inode 2, generation 0), through a
// directory of the host's file system that the sandbox sees.
func shocker(args []string) {
	// a directory of the host's root file system: /usr in the host view
	// (/etc may be an overlay there)
	dir := "/usr"
	if len(args) > 0 {
		dir = args[0]
	}
	_, _, err := unix.NameToHandleAt(unix.AT_FDCWD, dir, 0)
	verdict("name_to_handle_at", err, "got a file handle for "+dir)

	mfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		blocked("open_by_handle_at", "cannot open "+dir+": "+errName(err))
		return
	}
	defer unix.Close(mfd)
	h := unix.NewFileHandle(1 /* FILEID_INO32_GEN */, []byte{2, 0, 0, 0, 0, 0, 0, 0})
	fd, err := unix.OpenByHandleAt(mfd, h, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err != nil {
		verdict("open_by_handle_at", err, "")
		return
	}
	defer unix.Close(fd)
	f := os.NewFile(uintptr(fd), "handle")
	names, _ := f.Readdirnames(8)
	escaped("open_by_handle_at", "opened the root of %s's file system by handle: %s", dir, strings.Join(names, ","))
}

// 9. ptrace nook's init, and read its secrets through /proc.
func ptraceInit([]string) {
	runtime.LockOSThread()
	err := unix.PtraceAttach(1)
	if err == nil {
		var ws unix.WaitStatus
		unix.Wait4(1, &ws, unix.WALL, nil)
		unix.PtraceDetach(1)
	}
	verdict("ptrace-attach-init", err, "attached to PID 1 (detached again)")
	err = unix.PtraceSeize(1)
	if err == nil {
		unix.PtraceDetach(1)
	}
	verdict("ptrace-seize-init", err, "seized PID 1 (detached again)")

	for _, f := range []string{"environ", "mem", "maps", "auxv", "stack", "syscall"} {
		fd, err := unix.Open("/proc/1/"+f, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			buf := make([]byte, 64)
			n, rerr := unix.Read(fd, buf)
			unix.Close(fd)
			if rerr != nil || n <= 0 {
				err = rerr
				if err == nil {
					blocked("proc1-"+f, "empty")
					continue
				}
			}
		}
		verdict("proc1-"+f, err, "read /proc/1/"+f)
	}
	for _, l := range []string{"exe", "root", "cwd"} {
		t, err := os.Readlink("/proc/1/" + l)
		verdict("proc1-"+l, err, "readlink /proc/1/"+l+" = "+t)
	}
	// the fd numbers of init may be listed (root may read the directory);
	// what they lead to may not be reached
	ents, err := os.ReadDir("/proc/1/fd")
	if err != nil {
		verdict("proc1-fd", err, "")
	} else {
		var got []string
		var last error
		for _, e := range ents {
			fd, err := unix.Open("/proc/1/fd/"+e.Name(), unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
			if err == nil {
				unix.Close(fd)
				got = append(got, e.Name())
				continue
			}
			wfd, werr := unix.Open("/proc/1/fd/"+e.Name(), unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
			if werr == nil {
				unix.Close(wfd)
				got = append(got, e.Name()+"(w)")
				continue
			}
			last = err
		}
		switch {
		case len(got) > 0:
			escaped("proc1-fd", "reopened init's fds %s", strings.Join(got, ","))
		case last == nil:
			blocked("proc1-fd", "no-fds")
		default:
			verdict("proc1-fd", last, "")
		}
	}

	var b [8]byte
	local := []unix.Iovec{{Base: &b[0], Len: 8}}
	remote := []unix.RemoteIovec{{Base: 0x400000, Len: 8}}
	_, err = unix.ProcessVMReadv(1, local, remote, 0)
	if err == unix.EFAULT || err == unix.ESRCH {
		escaped("process_vm_readv", "reached the kernel: %s", errName(err))
	} else {
		verdict("process_vm_readv", err, "read PID 1's memory")
	}
}

// 10. TIOCSTI: push a character into the input of the terminal on stdin.
func tiocsti([]string) {
	if _, err := unix.IoctlGetTermios(0, unix.TCGETS); err != nil {
		blocked("tiocsti", "stdin-is-not-a-terminal")
		return
	}
	c := byte('x')
	_, _, e := unix.Syscall(unix.SYS_IOCTL, 0, unix.TIOCSTI, uintptr(unsafe.Pointer(&c)))
	var err error
	if e != 0 {
		err = e
		if e == unix.EIO {
			// dev.tty.legacy_tiocsti=0: the kernel's own refusal
			blocked("tiocsti", "EIO")
			return
		}
	}
	verdict("tiocsti", err, "pushed 'x' into the terminal's input")
}

// 11. CVE-2019-5736: overwrite the runtime's binary through
// /proc/[pid]/exe. Whatever opens for writing is closed unwritten.
func exe([]string) {
	openW("exe-self", "/proc/self/exe")
	openW("exe-init", "/proc/1/exe")

	// O_PATH handles on every exe we can see, then reopen them for
	// writing for 200ms (the runtime might exit and free its binary)
	type h struct {
		fd  int
		pid string
	}
	var hs []h
	ents, _ := os.ReadDir("/proc")
	pathErr := map[string]error{}
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		fd, err := unix.Open("/proc/"+e.Name()+"/exe", unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			pathErr[e.Name()] = err
			continue
		}
		hs = append(hs, h{fd, e.Name()})
	}
	if err, ok := pathErr["1"]; ok {
		verdict("exe-init-opath", err, "")
	} else {
		escaped("exe-init-opath", "got an O_PATH handle on PID 1's binary")
	}
	worst := map[string]error{}
	opened := ""
	for end := time.Now().Add(200 * time.Millisecond); time.Now().Before(end) && opened == ""; {
		for _, x := range hs {
			fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(x.fd), unix.O_WRONLY|unix.O_CLOEXEC, 0)
			if err == nil {
				unix.Close(fd)
				opened = x.pid
				break
			}
			worst[x.pid] = err
		}
	}
	if opened != "" {
		escaped("exe-reopen", "reopened PID %s's binary for writing through an O_PATH fd (nothing written)", opened)
		return
	}
	var errs []string
	for pid, err := range worst {
		errs = append(errs, pid+"="+errName(err))
	}
	sort.Strings(errs)
	for _, err := range worst {
		if e, ok := errnoOf(err); !ok || !denied[e] {
			escaped("exe-reopen", "unexpected error: %s", strings.Join(errs, ","))
			return
		}
	}
	if len(worst) == 0 {
		blocked("exe-reopen", "no-handles")
		return
	}
	first := ""
	for _, err := range worst {
		if first == "" || errName(err) == "ETXTBSY" {
			first = errName(err)
		}
	}
	blocked("exe-reopen", first)
	fmt.Printf("INFO exe-reopen %s\n", strings.Join(errs, ","))
}

// 12a. leaked file descriptors: only 0, 1 and 2 may be open, and no fd
// may lead to a directory of the host. Raw system calls only, before
// the Go runtime opens anything of its own.
func fds([]string) {
	// openat(N, "..") on everything past stdio
	var open []string
	for n := 3; n <= 1024; n++ {
		fd, err := unix.Openat(n, "..", unix.O_PATH|unix.O_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
			open = append(open, strconv.Itoa(n))
			continue
		}
		if err != unix.EBADF {
			open = append(open, strconv.Itoa(n)+"("+errName(err)+")")
		}
	}
	if len(open) > 0 {
		escaped("fd-dotdot", "fds open past stdio: %s", strings.Join(open, ","))
	} else {
		blocked("fd-dotdot", "EBADF")
	}

	dfd, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		blocked("fd-list", "cannot list /proc/self/fd: "+errName(err))
		return
	}
	var names []string
	buf := make([]byte, 8192)
	for {
		n, err := unix.Getdents(dfd, buf)
		if err != nil || n <= 0 {
			break
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
	var extra []string
	for _, n := range names {
		i, err := strconv.Atoi(n)
		if err != nil || i <= 2 || i == dfd {
			continue
		}
		t, _ := os.Readlink("/proc/self/fd/" + n)
		extra = append(extra, n+"->"+t)
	}
	unix.Close(dfd)
	if len(extra) > 0 {
		escaped("fd-list", "fds past stdio: %s", strings.Join(extra, " "))
	} else {
		blocked("fd-list", "only-stdio")
	}
	// stdio: what are they? (informational: the caller chose them)
	for i := 0; i < 3; i++ {
		t, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(i))
		var st unix.Stat_t
		unix.Fstat(i, &st)
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			escaped("fd-stdio", "fd %d is a directory: %s", i, t)
		}
		fmt.Printf("INFO fd %d -> %s\n", i, t)
	}
}

// 12b. CVE-2024-21626: the working directory must be inside the root, and
// ".." from it must never reach the host's file system. args[0] is a
// host path the test made, that exists only on the host.
func cwd(args []string) {
	marker := ""
	if len(args) > 0 {
		marker = strings.TrimPrefix(args[0], "/")
	}
	wd, werr := os.Getwd()
	fmt.Printf("INFO cwd %q %v\n", wd, werr)
	var root unix.Stat_t
	if err := unix.Stat("/", &root); err != nil {
		escaped("cwd", "cannot stat /: %v", err)
		return
	}
	fd, err := unix.Open(".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		escaped("cwd", "cannot open the cwd: %v", err)
		return
	}
	var prev unix.Stat_t
	for i := 0; i < 256; i++ {
		if marker != "" {
			if unix.Faccessat(fd, marker, unix.F_OK, 0) == nil {
				escaped("cwd", "reached the host's %s from the working directory (%d levels up)", "/"+marker, i)
				return
			}
		}
		var st unix.Stat_t
		unix.Fstat(fd, &st)
		if i > 0 && st.Dev == prev.Dev && st.Ino == prev.Ino {
			break
		}
		prev = st
		up, err := unix.Openat(fd, "..", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			escaped("cwd", "openat ..: %v", err)
			return
		}
		fd = up
	}
	unix.Close(fd)
	if prev.Dev != root.Dev || prev.Ino != root.Ino {
		escaped("cwd", "the top above the working directory (dev %d ino %d) is not the sandbox's / (dev %d ino %d)", prev.Dev, prev.Ino, root.Dev, root.Ino)
		return
	}
	blocked("cwd", "inside-root")
}

// The classic chroot escape, with the CAP_SYS_CHROOT the default set
// grants: chroot into a subdirectory while the cwd stays outside it, climb
// "..", chroot there. After pivot_root and a detached old root, the top
// is the sandbox's root. args[0]: a host-only path, as for cwd.
func chrootEscape(args []string) {
	marker := ""
	if len(args) > 0 {
		marker = strings.TrimPrefix(args[0], "/")
	}
	var root unix.Stat_t
	unix.Stat("/", &root)
	os.MkdirAll("/tmp/attack-chroot", 0o755)
	if err := unix.Chdir("/"); err != nil {
		escaped("chroot", "chdir /: %v", err)
		return
	}
	if err := unix.Chroot("/tmp/attack-chroot"); err != nil {
		verdict("chroot", err, "")
		return
	}
	for i := 0; i < 256; i++ {
		unix.Chdir("..")
	}
	if err := unix.Chroot("."); err != nil {
		verdict("chroot", err, "")
		return
	}
	unix.Chdir("/")
	if marker != "" && unix.Access("/"+marker, unix.F_OK) == nil {
		escaped("chroot", "reached the host's /%s", marker)
		return
	}
	var top unix.Stat_t
	unix.Stat("/", &top)
	if top.Dev != root.Dev || top.Ino != root.Ino {
		escaped("chroot", "the new / (dev %d ino %d) is not the sandbox's (dev %d ino %d)", top.Dev, top.Ino, root.Dev, root.Ino)
		return
	}
	blocked("chroot", "top-is-sandbox-root")
}

// 13. where did a bind land? args: NAME PATH: PATH (inside) must show
// the marker file the test put in the bind's source.
func bindcheck(args []string) {
	if len(args) < 2 {
		os.Exit(exitUsage)
	}
	name, path := args[0], args[1]
	if _, err := os.Stat(path); err != nil {
		escaped(name, "the bind is not where it should be inside: %v", err)
		return
	}
	real, _ := filepath.EvalSymlinks(path)
	blocked(name, "landed-inside:"+real)
}

// 14. signal the host's processes. args[0]: a host PID.
func killHost(args []string) {
	if len(args) < 1 {
		os.Exit(exitUsage)
	}
	pid, _ := strconv.Atoi(args[0])
	// belt and braces before kill(-1): we must be a low PID under
	// nook's init, in a pid namespace of our own
	comm, _ := os.ReadFile("/proc/1/comm")
	if os.Getpid() > 1000 || sameNSAsHost("NOOK_HOST_PIDNS", "/proc/self/ns/pid") {
		refuse("not in a pid namespace of my own (pid %d, init %q)", os.Getpid(), strings.TrimSpace(string(comm)))
	}
	err := unix.Kill(pid, unix.SIGKILL)
	if err == unix.ESRCH {
		blocked("kill-host-pid", "ESRCH")
	} else {
		verdict("kill-host-pid", err, fmt.Sprintf("sent SIGKILL to host PID %d", pid))
	}
	pfd, err := unix.PidfdOpen(pid, 0)
	if err == nil {
		unix.Close(pfd)
		escaped("pidfd-host-pid", "pidfd_open(%d) gave a pidfd", pid)
	} else if err == unix.ESRCH {
		blocked("pidfd-host-pid", "ESRCH")
	} else {
		verdict("pidfd-host-pid", err, "")
	}
	if _, err := os.Stat("/proc/" + args[0]); err == nil {
		escaped("proc-host-pid", "/proc/%d is visible", pid)
	} else {
		blocked("proc-host-pid", errName(err))
	}
	err = unix.Kill(-1, unix.SIGKILL)
	// kill(-1) reaches every process of our pid namespace but init and
	// ourselves; the test checks that the host's survived
	if err == nil || err == unix.ESRCH {
		blocked("kill-all", "pid-namespace("+map[bool]string{true: "ok", false: errName(err)}[err == nil]+")")
	} else {
		verdict("kill-all", err, "")
	}
}

var forkSleep = unix.Timespec{Sec: 20}

// rawFork forks a child that only sleeps (20s at most) and exits, with raw
// system calls: no Go runtime in the child.
//
//go:norace
func rawFork() (int, syscall.Errno) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if e != 0 {
		return -1, e
	}
	if r == 0 {
		syscall.RawSyscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&forkSleep)), 0, 0)
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
	}
	return int(r), 0
}

// 15. fork until the pids limit stops us; at most 400 children, so that
// even without a limit nothing runs away.
func forkbomb([]string) {
	runtime.GOMAXPROCS(1)
	debug.SetGCPercent(-1)
	runtime.LockOSThread()
	var kids []int
	var err syscall.Errno
	for len(kids) < 400 {
		pid, e := rawFork()
		if e != 0 {
			err = e
			break
		}
		kids = append(kids, pid)
	}
	for _, k := range kids {
		syscall.Kill(k, syscall.SIGKILL)
	}
	for range kids {
		var ws syscall.WaitStatus
		syscall.Wait4(-1, &ws, 0, nil)
	}
	if err == 0 {
		escaped("forkbomb", "forked %d processes without hitting a limit", len(kids))
		return
	}
	if err == unix.EAGAIN {
		blocked("forkbomb", fmt.Sprintf("EAGAIN(after:%d)", len(kids)))
		return
	}
	escaped("forkbomb", "fork failed with %s after %d", unix.ErrnoName(err), len(kids))
}

// A shell fork bomb, bounded: a binary tree of depth 9 (1023 processes at
// most, each leaf sleeping a second).
func forkbombSh([]string) {
	script := `f() { if [ "$1" -gt 0 ]; then f $(($1-1)) & f $(($1-1)); wait; else sleep 1; fi; }; f 9; echo "RESULT forkbomb-sh done"`
	err := syscall.Exec("/bin/sh", []string{"sh", "-c", script}, os.Environ())
	escaped("forkbomb-sh", "exec /bin/sh: %v", err)
}

// 16. eat memory, page by page, up to 1 GiB (so that even without a
// limit it stops).
func memhog([]string) {
	const chunk = 16 << 20
	total := 0
	for total < 1<<30 {
		m, err := unix.Mmap(-1, 0, chunk, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			blocked("memhog", "mmap:"+errName(err))
			return
		}
		for i := 0; i < chunk; i += 4096 {
			m[i] = 1
		}
		total += chunk
	}
	escaped("memhog", "touched %d MiB", total>>20)
}

// 17. make a device node of the host's root disk (the device of /usr,
// bound in from the host; else the first disk in /sys/dev/block), and of
// /dev/mem, and
// open it read-only. Nothing is ever read or written.
func mknod(args []string) {
	var st unix.Stat_t
	unix.Stat("/usr", &st)
	maj, min := unix.Major(st.Dev), unix.Minor(st.Dev)
	if maj == 0 {
		// not a block device: the first disk in /sys/dev/block
		ents, _ := os.ReadDir("/sys/dev/block")
		for _, e := range ents {
			var a, b uint32
			if _, err := fmt.Sscanf(e.Name(), "%d:%d", &a, &b); err == nil && a != 7 && a != 1 {
				maj, min = a, b
				break
			}
		}
	}
	fmt.Printf("INFO mknod host disk %d:%d\n", maj, min)
	type node struct {
		name string
		mode uint32
		dev  uint64
	}
	nodes := []node{
		{"blk", unix.S_IFBLK | 0o600, unix.Mkdev(maj, min)},
		{"mem", unix.S_IFCHR | 0o600, unix.Mkdev(1, 1)},
	}
	if len(args) > 0 && args[0] == "null" {
		nodes = []node{{"null", unix.S_IFCHR | 0o666, unix.Mkdev(1, 3)}}
	}
	for _, dir := range []string{"/dev", "/tmp"} {
		for _, n := range nodes {
			name := "mknod-" + n.name + "-" + strings.TrimPrefix(dir, "/")
			path := dir + "/attack-" + n.name
			err := unix.Mknod(path, n.mode, int(n.dev))
			if err != nil {
				verdict(name, err, "")
				continue
			}
			fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
			unix.Unlink(path)
			if err == nil {
				unix.Close(fd)
				escaped(name, "made %s (%d:%d) and opened it read-only (nothing read)", path, unix.Major(n.dev), unix.Minor(n.dev))
				continue
			}
			if e, ok := errnoOf(err); ok && denied[e] {
				blocked(name, "open:"+errName(err))
				continue
			}
			escaped(name, "made %s; open: %s", path, errName(err))
		}
	}
}

// devopen opens device nodes the test put where the sandbox can see them
// (in its rootfs, bound in), read-only and non-blocking, and closes them
// at once: nothing is ever read. A node that opens got past every layer.
func devopen(args []string) {
	for _, p := range args {
		name := "devopen:" + p
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			escaped(name, "stat: %s (the test's node is not there to attack)", errName(err))
			continue
		}
		if t := st.Mode & unix.S_IFMT; t != unix.S_IFCHR && t != unix.S_IFBLK {
			escaped(name, "not a device node (mode %o): nothing attacked", st.Mode)
			continue
		}
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
		if err == nil {
			unix.Close(fd)
		}
		verdict(name, err, fmt.Sprintf("opened %s (%d:%d) read-only (nothing read)", p, unix.Major(st.Rdev), unix.Minor(st.Rdev)))
	}
}

// The /dev a sandbox gets: no block devices, and only the harmless
// character devices.
func devlist([]string) {
	ok := map[string]bool{"null": true, "zero": true, "full": true, "random": true, "urandom": true, "tty": true, "ptmx": true, "console": true}
	var bad []string
	filepath.WalkDir("/dev", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		var st unix.Stat_t
		if unix.Lstat(p, &st) != nil {
			return nil
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFBLK:
			bad = append(bad, fmt.Sprintf("%s(blk %d:%d)", p, unix.Major(st.Rdev), unix.Minor(st.Rdev)))
		case unix.S_IFCHR:
			if strings.HasPrefix(p, "/dev/pts/") || ok[filepath.Base(p)] {
				return nil
			}
			bad = append(bad, fmt.Sprintf("%s(chr %d:%d)", p, unix.Major(st.Rdev), unix.Minor(st.Rdev)))
		}
		return nil
	})
	if len(bad) > 0 {
		escaped("devlist", "device nodes: %s", strings.Join(bad, " "))
		return
	}
	blocked("devlist", "only-harmless-nodes")
}

// 18. /sys is read-only: opened for writing only, never written.
func sysfs([]string) {
	for _, p := range []string{"/sys/kernel/uevent_helper", "/sys/kernel/mm/transparent_hugepage/enabled", "/sys/power/state", "/sys/kernel/profiling"} {
		openW("sysfs:"+p, p)
	}
	fd, err := unix.Open("/sys/kernel/nook-attack", unix.O_CREAT|unix.O_WRONLY|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
	if err == nil {
		unix.Close(fd)
	}
	verdict("sysfs-create", err, "created a file in /sys")
}

package e2e

import (
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
	"github.com/nookrun/nook/state"
)

// nsLink is what readlink /proc/PID/ns/TYPE prints for pid's namespace.
func nsLink(t *testing.T, pid int, typ namespaces.Type) string {
	t.Helper()
	ino, err := namespaces.Inode(pid, typ)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s:[%d]", namespaces.ProcName(typ), ino)
}

// statusLine returns a line of /proc/self/status as printed by grep.
func statusLines(out string, keys ...string) map[string]string {
	m := map[string]string{}
	for _, l := range testutil.Lines(out) {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		for _, want := range keys {
			if k == want {
				m[k] = strings.TrimSpace(v)
			}
		}
	}
	return m
}

// nook exec runs in the sandbox as its command does: its namespaces (the
// same files as init's), its host name, only its processes, its root, its
// capabilities, seccomp and no_new_privs, its environment; -e, -w, -u
// change what they say. It dies with the sandbox.
func TestExec(t *testing.T) {
	e2e(t)
	root := lifeRoot(t)
	rootfs := testutil.BusyboxRootfs(t)
	os.WriteFile(filepath.Join(rootfs, "marker"), []byte("inside\n"), 0o644)
	nook(t, "--root", root, "run", "-d", "--name", "ex", "--rootfs", rootfs, "--hostname", "exhost",
		"--env", "SANDBOX_VAR=1", "--unshare", "user,time", "--", "sh", "-c", "cat /proc/self/status > /tmp/status; exec sleep 300")
	st := inspect(t, root, "ex")
	pid := st.Init.Pid

	var script strings.Builder
	types := namespaces.All()
	for _, typ := range types {
		fmt.Fprintf(&script, "readlink /proc/self/ns/%s; ", namespaces.ProcName(typ))
	}
	script.WriteString("hostname; cat /marker; echo $SANDBOX_VAR; ps -o pid,comm | wc -l; grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status; grep -E '^(Cap|NoNewPrivs|Seccomp)' /tmp/status")
	out := nook(t, "--root", root, "exec", "ex", "--", "sh", "-c", script.String())
	lines := testutil.Lines(out)
	if len(lines) < len(types)+5 {
		t.Fatalf("exec:\n%s", out)
	}
	for i, typ := range types {
		if want := nsLink(t, pid, typ); lines[i] != want {
			t.Errorf("exec: /proc/self/ns/%s = %s, init's is %s", namespaces.ProcName(typ), lines[i], want)
		}
	}
	rest := lines[len(types):]
	if rest[0] != "exhost" || rest[1] != "inside" || rest[2] != "1" {
		t.Errorf("exec: hostname, root or environment:\n%s", out)
	}
	// header, nook-init, sleep, sh, ps (and wc)
	if n, _ := strconv.Atoi(strings.TrimSpace(rest[3])); n < 4 || n > 7 {
		t.Errorf("exec sees %d lines of ps: not only the sandbox's processes?\n%s", n, out)
	}
	keys := []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"}
	mine := statusLines(strings.Join(rest[4:4+len(keys)], "\n"), keys...)
	theirs := statusLines(strings.Join(rest[4+len(keys):], "\n"), keys...)
	for _, k := range keys {
		if mine[k] == "" || mine[k] != theirs[k] {
			t.Errorf("exec: %s %q, the sandbox's command has %q", k, mine[k], theirs[k])
		}
	}

	// -e -w -u, in a sandbox whose IDs are the host's
	nook(t, "--root", root, "run", "-d", "--name", "ex2", "--rootfs", rootfs, "--env", "SANDBOX_VAR=1", "--", "sleep", "300")
	out = nook(t, "--root", root, "exec", "-e", "SANDBOX_VAR=2", "-e", "NEW=3", "-w", "/tmp", "-u", "1000:1001", "ex2", "sh", "-c", "echo $SANDBOX_VAR $NEW $(pwd) $(id -u) $(id -g)")
	if strings.TrimSpace(out) != "2 3 /tmp 1000 1001" {
		t.Errorf("exec -e -w -u: %q", out)
	}
	// it is in the sandbox's cgroups, as its init is
	out = nook(t, "--root", root, "exec", "ex2", "sh", "-c", "cat /proc/self/cgroup; echo --; cat /proc/1/cgroup")
	if mine, theirs, _ := strings.Cut(out, "--\n"); mine == "" || mine != theirs {
		t.Errorf("exec's cgroups are not the sandbox's:\n%s", out)
	}
	nook(t, "--root", root, "rm", "-f", "ex2")
	// the exit status is the command's
	nookFails(t, 3, "--root", root, "exec", "ex", "sh", "-c", "exit 3")
	nookFails(t, 127, "--root", root, "exec", "ex", "/no/such/thing")

	// it dies with the sandbox
	long := testutil.Start(t, testutil.Command(t, "--root", root, "exec", "ex", "sh", "-c", "echo ready; exec sleep 300"), "ready")
	nook(t, "--root", root, "stop", "-t", "1", "ex")
	if _, _, code := long.Wait(5 * time.Second); code == 0 {
		t.Errorf("exec outlived its sandbox")
	}
	// a stopped sandbox takes no exec
	_, errOut := nookFails(t, 125, "--root", root, "exec", "ex", "true")
	if !strings.Contains(errOut, "stopped") {
		t.Errorf("exec into a stopped sandbox: %q", errOut)
	}
	nook(t, "--root", root, "rm", "ex")
}

// nook enter enters each namespace type alone and all at once, as
// nsenter does: /proc/self/ns shows the target's, and nsenter's run of the
// same command prints the same.
func TestEnterMatchesNsenter(t *testing.T) {
	e2e(t)
	if _, err := exec.LookPath("nsenter"); err != nil {
		t.Skip("no nsenter")
	}
	root := lifeRoot(t)
	rootfs := testutil.BusyboxRootfs(t)
	nook(t, "--root", root, "run", "-d", "--name", "en", "--rootfs", rootfs, "--hostname", "enhost", "--unshare", "user,time", "--", "sleep", "300")
	defer nook(t, "--root", root, "rm", "-f", "en")
	pid := inspect(t, root, "en").Init.Pid
	target := strconv.Itoa(pid)
	flag := map[namespaces.Type]string{
		namespaces.UTS: "-u", namespaces.IPC: "-i", namespaces.Network: "-n", namespaces.PID: "-p",
		namespaces.Cgroup: "-C", namespaces.User: "-U", namespaces.Time: "-T",
	}
	readlink, _ := exec.LookPath("readlink")
	for typ, f := range flag {
		link := "/proc/self/ns/" + namespaces.ProcName(typ)
		got := nookLine(t, "enter", "-t", target, f, "--", readlink, link)
		if want := nsLink(t, pid, typ); got != want {
			t.Errorf("enter %s: %s, want %s", f, got, want)
		}
		theirs, err := exec.Command("nsenter", "-t", target, f, "--", readlink, link).Output()
		if err != nil || strings.TrimSpace(string(theirs)) != got {
			t.Errorf("nsenter %s: %q (%v), nook enter: %s", f, theirs, err, got)
		}
	}
	// the mount namespace alone: the sandbox's root
	if got := nook(t, "enter", "-t", target, "-m", "--", "/bin/busybox", "ls", "/"); !testutil.HasLine(got, "bin") || testutil.HasLine(got, "home") {
		t.Errorf("enter -m: / is not the sandbox's:\n%s", got)
	}
	mine := nook(t, "enter", "-t", target, "-m", "--", "/bin/busybox", "ls", "/bin/busybox")
	theirs, _ := exec.Command("nsenter", "-t", target, "-m", "--", "/bin/busybox", "ls", "/bin/busybox").Output()
	if mine != string(theirs) || !strings.Contains(mine, "/bin/busybox") {
		t.Errorf("enter -m: %q, nsenter: %q", mine, theirs)
	}
	// -r=DIR: a root inside the entered mount namespace
	if got := nookLine(t, "enter", "-t", target, "-m", "-r=/bin", "--", "/busybox", "ls", "/busybox"); got != "/busybox" {
		t.Errorf("enter -m -r=/bin: %q", got)
	}
	// all at once, by sandbox name too
	script := "for t in user pid mnt uts ipc net cgroup time; do readlink /proc/self/ns/$t; done; hostname; id -u"
	all := nook(t, "enter", "-t", target, "-a", "--", "/bin/sh", "-c", script)
	byName := nook(t, "--root", root, "enter", "--sandbox", "en", "-a", "--", "/bin/sh", "-c", script)
	ns, _ := exec.Command("nsenter", "-t", target, "-a", "--", "/bin/sh", "-c", script).Output()
	if all != string(ns) || byName != all {
		t.Errorf("enter -a:\n%s\nnsenter -a:\n%s\nenter --sandbox:\n%s", all, ns, byName)
	}
	lines := testutil.Lines(all)
	for i, typ := range []namespaces.Type{namespaces.User, namespaces.PID, namespaces.Mount, namespaces.UTS, namespaces.IPC, namespaces.Network, namespaces.Cgroup, namespaces.Time} {
		if i >= len(lines) || lines[i] != nsLink(t, pid, typ) {
			t.Errorf("enter -a: %s is not the target's:\n%s", namespaces.ProcName(typ), all)
		}
	}
	// a namespace by file
	netFile := "/proc/" + target + "/ns/net"
	if got := nookLine(t, "enter", "--net="+netFile, "--", readlink, "/proc/self/ns/net"); got != nsLink(t, pid, namespaces.Network) {
		t.Errorf("enter --net=FILE: %s", got)
	}
}

// Bad input to enter: a clear error each, non-zero exit, no panic.
func TestEnterBadInput(t *testing.T) {
	e2e(t)
	notNS := filepath.Join(t.TempDir(), "plain")
	os.WriteFile(notNS, nil, 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"enter", "-t", "999999999", "-n", "true"}, "no such process"},
		{[]string{"enter", "-t", "abc", "-n", "true"}, `"abc"`},
		{[]string{"enter", "--net=" + notNS, "true"}, "not a namespace file"},
		{[]string{"enter", "--net=/proc/self/ns/uts", "true"}, "uts namespace, not net"},
		{[]string{"enter", "--net=/no/such/file", "true"}, "/no/such/file"},
		{[]string{"enter", "-n", "true"}, "no file and no target"},
		{[]string{"enter", "--sandbox", "nosuch", "-n", "true"}, `"nosuch" does not exist`},
		{[]string{"exec", "nosuch", "true"}, `"nosuch" does not exist`},
	} {
		_, errOut, code := testutil.Run(t, c.args...)
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("nook %s: exit %d, %q; want an error naming %s", testutil.Quote(c.args), code, errOut, c.want)
		}
		noPanic(t, errOut)
	}
	// a namespace the caller may not enter
	holder := exec.Command("unshare", "--net", "sleep", "60")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { holder.Process.Kill(); holder.Wait() }()
	u := testutil.CreateUser(t)
	cmd := testutil.Command(t, "enter", "-t", strconv.Itoa(holder.Process.Pid), "-n", "true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: u.Credential()}
	_, errOut, code := testutil.RunCmd(t, cmd)
	if code == 0 || !strings.Contains(errOut, "permission denied") && !strings.Contains(errOut, "operation not permitted") {
		t.Errorf("enter as another user: %d %q", code, errOut)
	}
}

// The signals nook exec gets go on to its command, as nook run's do
// (TestSignalsToNookReachTheCommand): exec catches them while it reads
// the sandbox's state and plans the command, and has caught them before
// the command exists.
func TestExecPassesSignalsOn(t *testing.T) {
	e2e(t)
	root := lifeRoot(t)
	name := fmt.Sprintf("sigs%d", os.Getpid())
	nook(t, "--root", root, "run", "-d", "--name", name, "--rootfs", testutil.BusyboxRootfs(t), "--", "sleep", "300")
	defer nook(t, "--root", root, "rm", "-f", name)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2} {
		sn := strings.TrimPrefix(sigName(sig), "SIG")
		script := `trap 'echo got ` + sn + `; exit 7' ` + sn + `
			echo ready
			while :; do sleep 0.05; done`
		r := testutil.Start(t, testutil.Command(t, "--root", root, "exec", name, "--", "sh", "-c", script), "ready")
		r.Signal(sig)
		out, stderr, code := r.Wait(10 * time.Second)
		if !testutil.HasLine(out, "got "+sn) || code != 7 {
			t.Errorf("SIG%s to nook exec: exit status %d, stdout %q, stderr %q; want the command's trap to print \"got %s\" and nook to exit 7",
				sn, code, out, stderr, sn)
		}
	}
}

// The command of a foreground `nook exec` dies with the nook that started
// it, whatever user it runs as (a change of user clears the parent-death
// signal, so the child arms it again), as a `nook run` sandbox dies with
// its nook: a killed exec leaves no stray process in the sandbox.
func TestExecDiesWithNook(t *testing.T) {
	e2e(t)
	root := lifeRoot(t)
	name := fmt.Sprintf("pdeath%d", os.Getpid())
	nook(t, "--root", root, "run", "-d", "--name", name, "--", "sleep", "300")
	defer nook(t, "--root", root, "rm", "-f", name)
	for i, user := range []string{"", "1000"} {
		t.Run("user="+user, func(t *testing.T) {
			// a duration no other test sleeps, to find it in nook ps
			mark := strconv.Itoa(400000 + 1000*i + os.Getpid()%1000)
			args := []string{"--root", root, "exec"}
			if user != "" {
				args = append(args, "-u", user)
			}
			args = append(args, name, "--", "sleep", mark)
			cmd := exec.Command(testutil.Nook(t), args...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			sleeper := func() int {
				ps := nook(t, "--root", root, "ps", name)
				return strings.Count(ps, "sleep "+mark)
			}
			deadline := time.Now().Add(5 * time.Second)
			for sleeper() == 0 {
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatal("the exec'd command never showed in nook ps")
				}
				time.Sleep(20 * time.Millisecond)
			}
			cmd.Process.Kill()
			cmd.Wait()
			deadline = time.Now().Add(testutil.Slack(5 * time.Second))
			for sleeper() != 0 {
				if time.Now().After(deadline) {
					t.Fatal("the exec'd command outlived the nook exec that started it")
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// A sandbox without limits gets no cgroup: its state records none, no
// nook-ID directory exists in any hierarchy, and nook exec into it works
// and joins none. One with a memory limit has its cgroup, and the process
// exec starts is in it.
func TestExecJoinsACgroupOnlyWhereThereIsOne(t *testing.T) {
	e2e(t)
	root := lifeRoot(t)
	rootfs := testutil.BusyboxRootfs(t)
	cgroupDirs := func(st inspected) []string {
		var dirs []string
		for _, u := range st.Undo {
			if u.Kind == state.UndoCgroup || u.Kind == state.UndoCgroupParent {
				dirs = append(dirs, u.Path)
			}
		}
		return dirs
	}

	nook(t, "--root", root, "run", "-d", "--name", "free", "--rootfs", rootfs, "--", "sleep", "300")
	defer nook(t, "--root", root, "rm", "-f", "free")
	st := inspect(t, root, "free")
	if dirs := cgroupDirs(st); len(dirs) > 0 {
		t.Errorf("a sandbox without limits records cgroups: %q", dirs)
	}
	if m, _ := filepath.Glob("/sys/fs/cgroup/*/nook-" + st.ID); len(m) > 0 {
		t.Errorf("a sandbox without limits has cgroups: %q", m)
	}
	if m, _ := filepath.Glob("/sys/fs/cgroup/nook-" + st.ID); len(m) > 0 {
		t.Errorf("a sandbox without limits has a cgroup: %q", m)
	}
	out := nook(t, "--root", root, "exec", "free", "readlink", "/proc/self/ns/pid")
	if want := nsLink(t, st.Init.Pid, namespaces.PID); strings.TrimSpace(out) != want {
		t.Errorf("exec into a sandbox without a cgroup: pid namespace %q, the sandbox's is %q", out, want)
	}

	nook(t, "--root", root, "run", "-d", "--name", "lim", "--memory", "64m", "--rootfs", rootfs, "--", "sleep", "300")
	dirs := cgroupDirs(inspect(t, root, "lim"))
	if len(dirs) == 0 {
		t.Fatalf("a sandbox with a memory limit records no cgroup")
	}
	procs := func() int {
		b, err := os.ReadFile(filepath.Join(dirs[0], "cgroup.procs"))
		if err != nil {
			t.Fatal(err)
		}
		return len(testutil.Lines(string(b)))
	}
	before := procs()
	long := testutil.Start(t, testutil.Command(t, "--root", root, "exec", "lim", "sh", "-c", "echo ready; exec sleep 300"), "ready")
	if after := procs(); after <= before {
		t.Errorf("%s holds %d processes with an exec running, %d without: exec did not join the cgroup", dirs[0], after, before)
	}
	nook(t, "--root", root, "rm", "-f", "lim")
	long.Wait(5 * time.Second)
}

// A sandbox that needs no device cgroup has none, so nook exec does not
// hand its command a device it could reopen for writing through
// /proc/self/fd: a device other than a terminal or a standard node as
// stdin is refused, by name, and /dev/null is not.
func TestExecRefusesAnUnguardedDevice(t *testing.T) {
	e2e(t)
	root := lifeRoot(t)
	name := fmt.Sprintf("unguarded%d", os.Getpid())
	nook(t, "--root", root, "run", "-d", "--name", name, "--", "sleep", "300")
	defer nook(t, "--root", root, "rm", "-f", name)
	for _, c := range []struct {
		dev  string
		fail bool
	}{{"/dev/kmsg", true}, {"/dev/null", false}} {
		f, err := os.Open(c.dev)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(testutil.Nook(t), "--root", root, "exec", name, "--", "true")
		cmd.Stdin = f
		out, err := cmd.CombinedOutput()
		f.Close()
		switch {
		case c.fail && (err == nil || !strings.Contains(string(out), "stdin is the device c 1:11")):
			t.Errorf("exec with %s as stdin: %v, %s; want refused, naming the device", c.dev, err, out)
		case !c.fail && err != nil:
			t.Errorf("exec with %s as stdin: %v, %s", c.dev, err, out)
		}
	}
}

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/nookrun/nook/internal/spawn"
	"github.com/nookrun/nook/internal/testutil"
	"github.com/nookrun/nook/network"
	"github.com/nookrun/nook/state"
)

// lifeRoot gives a test a state directory of its own, so that parallel
// tests see only their own sandboxes, and checks at the end that every
// sandbox was removed from it.
func lifeRoot(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "state")
	t.Cleanup(func() {
		ents, _ := os.ReadDir(root)
		for _, e := range ents {
			// .quick: runs kept for the entry to replay, not sandboxes
			if e.Name() != ".names" && e.Name() != spawn.QuickRunDir() {
				b, _ := os.ReadFile(filepath.Join(root, e.Name(), "state.json"))
				t.Errorf("state left in %s: %s\n%s", root, e.Name(), testutil.Trunc(string(b), 600))
				testutil.Run(t, "--root", root, "rm", "-f", e.Name())
			}
		}
		names, _ := os.ReadDir(filepath.Join(root, ".names"))
		for _, e := range names {
			t.Errorf("name left in %s: %s", root, e.Name())
		}
	})
	return root
}

type inspected struct {
	state.State
	Status state.Status `json:"status"`
}

func inspect(t *testing.T, root, ref string) inspected {
	t.Helper()
	var out []inspected
	if err := json.Unmarshal([]byte(nook(t, "--root", root, "inspect", ref)), &out); err != nil || len(out) != 1 {
		t.Fatalf("inspect %s: %v %+v", ref, err, out)
	}
	return out[0]
}

// A detached sandbox outlives the nook that started it, shows in nook
// list, gives its output to nook logs and its processes to nook ps, stops
// on nook stop with the status its command died with, and nook rm leaves
// nothing of it.
func TestDetachedLifecycle(t *testing.T) {
	e2e(t)
	root := lifeRoot(t)
	id := nookLine(t, "--root", root, "run", "-d", "--name", "web", "--hostname", "webhost", "--",
		"sh", "-c", "echo started on $(hostname); exec sleep 300")
	if len(id) != 32 {
		t.Fatalf("id %q", id)
	}
	list := nook(t, "--root", root, "list")
	if !strings.Contains(list, id[:12]) || !strings.Contains(list, "web") || !strings.Contains(list, "running") {
		t.Errorf("list:\n%s", list)
	}
	var entries []map[string]any
	if err := json.Unmarshal([]byte(nook(t, "--root", root, "list", "--format", "json")), &entries); err != nil || len(entries) != 1 {
		t.Fatalf("list --format json: %v %v", err, entries)
	}
	for _, k := range []string{"ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner"} {
		if _, ok := entries[0][k]; !ok {
			t.Errorf("list --format json lacks runc's %q: %v", k, entries[0])
		}
	}
	st := inspect(t, root, "web")
	if st.Status != state.Running || st.ID != id || !st.Init.Alive() || !st.Monitor.Alive() {
		t.Fatalf("inspect: %+v", st)
	}
	// the log fills once the command has run
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(nook(t, "--root", root, "logs", "web"), "started on webhost") {
		if time.Now().After(deadline) {
			t.Fatalf("logs: %q", nook(t, "--root", root, "logs", "web"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	var pids []int
	json.Unmarshal([]byte(nook(t, "--root", root, "ps", "--json", "web")), &pids)
	if len(pids) != 2 || pids[0] != st.Init.Pid {
		t.Errorf("ps --json: %v (init %d)", pids, st.Init.Pid)
	}
	if ps := nook(t, "--root", root, "ps", "web"); !strings.Contains(ps, "sleep 300") {
		t.Errorf("ps:\n%s", ps)
	}
	// its namespaces are not the host's
	show := nook(t, "--root", root, "ns", "show", "--json", "web")
	var sh struct {
		Namespaces []struct {
			Type  string
			Host  bool
			Depth int
		}
	}
	json.Unmarshal([]byte(show), &sh)
	for _, n := range sh.Namespaces {
		if (n.Type == "pid" || n.Type == "uts" || n.Type == "mnt") && n.Host {
			t.Errorf("ns show: %s is the host's\n%s", n.Type, show)
		}
		if n.Type == "pid" && n.Depth != 1 {
			t.Errorf("ns show: pid depth %d", n.Depth)
		}
	}
	// rm of a running sandbox is refused
	_, errOut := nookFails(t, 1, "--root", root, "rm", "web")
	if !strings.Contains(errOut, "running") || !strings.Contains(errOut, "-f") {
		t.Errorf("rm of a running sandbox: %q", errOut)
	}
	nook(t, "--root", root, "stop", "-t", "5", "web")
	if code := nookLine(t, "--root", root, "wait", "web"); code != "143" {
		t.Errorf("wait after stop: %s, want 143 (SIGTERM)", code)
	}
	st = inspect(t, root, id)
	if st.Status != state.Stopped || st.Exit == nil || st.Exit.Signal != 15 || st.Finished == nil || len(st.Undo) != 0 {
		t.Errorf("after stop: %+v %+v", st.Status, st.Exit)
	}
	if list := nook(t, "--root", root, "list"); strings.Contains(list, id[:12]) {
		t.Errorf("list without -a shows a stopped sandbox:\n%s", list)
	}
	if list := nook(t, "--root", root, "list", "-a"); !strings.Contains(list, "stopped (143)") {
		t.Errorf("list -a:\n%s", list)
	}
	nook(t, "--root", root, "rm", "web")
	if _, err := os.Stat(filepath.Join(root, id)); !os.IsNotExist(err) {
		t.Errorf("state directory left: %v", err)
	}
}

// A detached sandbox on a bridge: its monitor attaches the network and
// holds it, so the published port serves while it runs, and what the
// network held on the host (its firewall table) goes with the monitor,
// even when the monitor is SIGKILLed.
func TestDetachedBridge(t *testing.T) {
	e2e(t)
	root := lifeRoot(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	nookLine(t, "--root", root, "run", "-d", "--name", "web", "--net", "bridge", "-p", fmt.Sprintf("%d:80", port),
		"--hostname", "bridged", "--", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
	if out := nook(t, "--root", root, "exec", "web", "ip", "-brief", "address", "show", "eth0"); !strings.Contains(out, "UP") {
		t.Errorf("exec: eth0:\n%s", out)
	}
	var body []byte
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/hostname", port))
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the published port: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(body) == 0 {
		t.Error("the published port served nothing")
	}
	// the published port is a rule of the sandbox's own table, held by
	// the monitor's netlink socket; the lease is the host's veth, which
	// goes with the sandbox's namespace
	rule := fmt.Sprintf("dport %d", port)
	if out, err := exec.Command("nft", "list", "ruleset").Output(); err != nil || !strings.Contains(string(out), rule) {
		t.Errorf("no rule for port %d (%v)", port, err)
	}
	addr := nook(t, "--root", root, "exec", "web", "ip", "-4", "-o", "address", "show", "eth0")
	f := strings.Fields(addr)
	var lease string
	for i := range f {
		if f[i] == "inet" && i+1 < len(f) {
			ip, _, _ := net.ParseCIDR(f[i+1])
			lease = network.LeaseLink(ip)
		}
	}
	if lease == "" {
		t.Fatalf("no address on eth0: %q", addr)
	}
	st := inspect(t, root, "web")
	syscall.Kill(st.Monitor.Pid, syscall.SIGKILL)
	deadline = time.Now().Add(10 * time.Second)
	for {
		rules, _ := exec.Command("nft", "list", "ruleset").Output()
		links, _ := exec.Command("ip", "-o", "link", "show").Output()
		if !strings.Contains(string(rules), rule) && !strings.Contains(string(links), lease+"@") && !strings.Contains(string(links), lease+":") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the network outlived the monitor: rule %v, lease %s %v", strings.Contains(string(rules), rule), lease, strings.Contains(string(links), lease))
		}
		time.Sleep(50 * time.Millisecond)
	}
	nook(t, "--root", root, "rm", "-f", "web")
}

// kill --all reaches every process of the sandbox, one that ignores the
// signal its init passes on included.
func TestKillAll(t *testing.T) {
	e2e(t)
	root := lifeRoot(t)
	nook(t, "--root", root, "run", "-d", "--name", "many", "--", "sh", "-c", `trap "" TERM USR1; sleep 300 & sleep 301 & echo up; wait`)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(nook(t, "--root", root, "logs", "many"), "up") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	nook(t, "--root", root, "kill", "many", "USR1") // ignored
	if st := inspect(t, root, "many"); st.Status != state.Running {
		t.Fatalf("after an ignored signal: %s", st.Status)
	}
	nook(t, "--root", root, "kill", "--all", "many", "KILL")
	if code := nookLine(t, "--root", root, "wait", "many"); code != "137" {
		t.Errorf("wait after kill --all KILL: %s", code)
	}
	nook(t, "--root", root, "rm", "many")
}

// The log keeps at most twice --log-size: the newest output.
func TestLogSizeCap(t *testing.T) {
	e2e(t)
	root := lifeRoot(t)
	nook(t, "--root", root, "run", "-d", "--name", "chatty", "--log-size", "1k", "--",
		"sh", "-c", "i=0; while [ $i -lt 400 ]; do echo line$i; i=$((i+1)); done")
	nook(t, "--root", root, "wait", "chatty")
	out := nook(t, "--root", root, "logs", "chatty")
	if len(out) > 2048 || !strings.HasSuffix(out, "line399\n") || strings.Contains(out, "line0\n") {
		t.Errorf("logs: %d bytes, ends %q", len(out), out[max(0, len(out)-20):])
	}
	// -f of a stopped sandbox prints what there is and returns
	if f := nook(t, "--root", root, "logs", "-f", "chatty"); f != out {
		t.Errorf("logs -f: %d bytes, logs: %d", len(f), len(out))
	}
	nook(t, "--root", root, "rm", "chatty")
}

// A named sandbox in the foreground is recorded too: nook list shows it and
// nook exec enters it while it runs; it stays, stopped, until nook rm
// (or goes by itself with --rm).
func TestForegroundNamed(t *testing.T) {
	e2e(t)
	root := lifeRoot(t)
	fg := testutil.Start(t, testutil.Command(t, "--root", root, "run", "--name", "fg", "--hostname", "fgh", "--",
		"sh", "-c", "echo ready; exec sleep 300"), "ready")
	if list := nook(t, "--root", root, "list"); !strings.Contains(list, "fg") || !strings.Contains(list, "running") {
		t.Errorf("list:\n%s", list)
	}
	if h := nookLine(t, "--root", root, "exec", "fg", "hostname"); h != "fgh" {
		t.Errorf("exec: hostname %q", h)
	}
	st := inspect(t, root, "fg")
	if st.Monitor.Pid != fg.Pid() {
		t.Errorf("the foreground nook (%d) is not the monitor (%d)", fg.Pid(), st.Monitor.Pid)
	}
	nook(t, "--root", root, "stop", "-t", "2", "fg")
	fg.Wait(5 * time.Second)
	if st := inspect(t, root, "fg"); st.Status != state.Stopped || st.Exit == nil {
		t.Errorf("after stop: %s %+v", st.Status, st.Exit)
	}
	nook(t, "--root", root, "rm", "fg")
	nook(t, "--root", root, "run", "--name", "fg", "--rm", "--", "true")
	if list := nook(t, "--root", root, "list", "-a", "-q"); strings.TrimSpace(list) != "" {
		t.Errorf("--rm left:\n%s", list)
	}
}

// Without a name, the ID is the handle; --rm removes the state once the
// command ends by itself, and nook wait reports its exit status.
func TestDetachedExitAndAutoRemove(t *testing.T) {
	e2e(t)
	root := lifeRoot(t)
	id := nookLine(t, "--root", root, "run", "-d", "--", "sh", "-c", "sleep 0.3; exit 7")
	if code := nookLine(t, "--root", root, "wait", id); code != "7" {
		t.Errorf("wait: %s, want 7", code)
	}
	st := inspect(t, root, id)
	if st.Exit == nil || st.Exit.Code != 7 || st.Exit.WallTimeMS < 250 {
		t.Errorf("exit: %+v", st.Exit)
	}
	nook(t, "--root", root, "rm", id)

	// the monitor enforces time limits
	nook(t, "--root", root, "run", "-d", "--name", "slow", "--wall-time-limit", "200ms", "--", "sleep", "30")
	if code := nookLine(t, "--root", root, "wait", "slow"); code != "137" {
		t.Errorf("wait after the wall-time limit: %s", code)
	}
	if st := inspect(t, root, "slow"); st.Exit == nil || st.Exit.Killed != "wall-time" {
		t.Errorf("the wall-time limit: %+v", st.Exit)
	}
	nook(t, "--root", root, "rm", "slow")

	id = nookLine(t, "--root", root, "run", "-d", "--rm", "--", "true")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(root, id)); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("--rm: the state is still there")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The monitor SIGKILLed: the sandbox dies with it (its janitor cleans up),
// nook list says it stopped without an exit status, and rm -f removes
// the record.
func TestMonitorKilled(t *testing.T) {
	e2e(t)
	root := lifeRoot(t)
	nook(t, "--root", root, "run", "-d", "--name", "orphan", "--", "sleep", "300")
	st := inspect(t, root, "orphan")
	syscall.Kill(st.Monitor.Pid, syscall.SIGKILL)
	deadline := time.Now().Add(5 * time.Second)
	for st.Init.Alive() {
		if time.Now().After(deadline) {
			t.Fatal("init outlived its monitor")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if list := nook(t, "--root", root, "list", "-a"); !strings.Contains(list, "stopped") {
		t.Errorf("list:\n%s", list)
	}
	if out, _, code := testutil.Run(t, "--root", root, "wait", "orphan"); code != 1 || strings.TrimSpace(out) != "unknown" {
		t.Errorf("wait: %q, exit %d; want unknown, 1", out, code)
	}
	nook(t, "--root", root, "rm", "-f", "orphan")
}

// A PID recorded in a state that now belongs to another process (as after
// the kernel reused it) is never signalled: nook sees by the start time
// that the sandbox's init is gone.
func TestRecycledPidIsNotSignalled(t *testing.T) {
	e2e(t)
	root := lifeRoot(t)
	id := nookLine(t, "--root", root, "run", "-d", "--name", "old", "--", "true")
	nook(t, "--root", root, "wait", "old")
	victim := exec.Command("sleep", "60")
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { victim.Process.Kill(); victim.Wait() }()
	// the record says running, with init's PID now the victim's
	path := filepath.Join(root, id, "state.json")
	b, _ := os.ReadFile(path)
	var raw map[string]any
	json.Unmarshal(b, &raw)
	raw["status"] = "running"
	raw["init"].(map[string]any)["pid"] = victim.Process.Pid
	b, _ = json.Marshal(raw)
	os.WriteFile(path, b, 0o600)

	for _, args := range [][]string{{"kill", "old", "KILL"}, {"stop", "-t", "1", "old"}, {"rm", "-f", "old"}} {
		testutil.Run(t, append([]string{"--root", root}, args...)...)
		if err := syscall.Kill(victim.Process.Pid, 0); err != nil {
			t.Fatalf("nook %s signalled a process that got the PID later", args)
		}
	}
}

// Bad input: a clear error and a non-zero exit, and nothing half-made.
func TestLifecycleBadInput(t *testing.T) {
	e2e(t)
	root := lifeRoot(t)
	for _, args := range [][]string{
		{"stop", "nosuch"}, {"kill", "nosuch"}, {"rm", "nosuch"}, {"logs", "nosuch"},
		{"wait", "nosuch"}, {"inspect", "nosuch"}, {"ps", "nosuch"}, {"ns", "show", "nosuch"},
	} {
		_, errOut, code := testutil.Run(t, append([]string{"--root", root}, args...)...)
		if code == 0 || !strings.Contains(errOut, `"nosuch" does not exist`) {
			t.Errorf("nook %s: exit %d, %q", args, code, errOut)
		}
		noPanic(t, errOut)
	}
	_, errOut, code := testutil.Run(t, "ns", "show", "999999999")
	if code == 0 || !strings.Contains(errOut, "no such process") {
		t.Errorf("ns show of no pid: %d %q", code, errOut)
	}
	_, errOut = nookFails(t, 2, "--root", root, "run", "--rm", "--", "true")
	if !strings.Contains(errOut, "--name") {
		t.Errorf("--rm without -d or --name: %q", errOut)
	}
	_, errOut = nookFails(t, 2, "--root", root, "run", "-d", "--name", "../x", "--", "true")
	if !strings.Contains(errOut, "invalid sandbox name") {
		t.Errorf("a bad name: %q", errOut)
	}
	_, errOut = nookFails(t, 2, "--root", root, "kill", "x", "SIGNOPE")
	if !strings.Contains(errOut, "SIGNOPE") {
		t.Errorf("a bad signal: %q", errOut)
	}
	// a command that cannot be found: the exit status a shell gives, and
	// no state
	_, errOut = nookFails(t, 127, "--root", root, "run", "-d", "--name", "nf", "--", "/no/such/command")
	if _, _, code := testutil.Run(t, "--root", root, "inspect", "nf"); code == 0 {
		t.Errorf("a failed start left its state (%s)", errOut)
	}
	// a name in use
	nook(t, "--root", root, "run", "-d", "--name", "taken", "--", "sleep", "300")
	_, errOut = nookFails(t, 125, "--root", root, "run", "-d", "--name", "taken", "--", "true")
	if !strings.Contains(errOut, `"taken"`) || !strings.Contains(errOut, "exists") {
		t.Errorf("a name in use: %q", errOut)
	}
	nook(t, "--root", root, "rm", "-f", "taken")
	// a damaged state: listed as such, refused by rm, removed by rm -f
	id := nookLine(t, "--root", root, "run", "-d", "--name", "dmg", "--", "true")
	nook(t, "--root", root, "wait", "dmg")
	os.WriteFile(filepath.Join(root, id, "state.json"), []byte(`{"format":"nook.state/1","id":`), 0o600)
	if list := nook(t, "--root", root, "list", "-a"); !strings.Contains(list, "damaged") {
		t.Errorf("list of a damaged state:\n%s", list)
	}
	_, errOut, code = testutil.Run(t, "--root", root, "rm", "dmg")
	if code == 0 || !strings.Contains(errOut, "damaged state") || !strings.Contains(errOut, "rm -f") {
		t.Errorf("rm of a damaged state: %d %q", code, errOut)
	}
	nook(t, "--root", root, "rm", "-f", "dmg")
}

// Many sandboxes started, entered and removed at once: every one is
// recorded whole, names stay unique, and nothing leaks.
func TestConcurrentLifecycle(t *testing.T) {
	e2e(t)
	root := lifeRoot(t)
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan string, 4*n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			name := fmt.Sprintf("c%d", i)
			out, errOut, code := testutil.Run(t, "--root", root, "run", "-d", "--name", name, "--", "sleep", "300")
			if code != 0 {
				errs <- fmt.Sprintf("run %s: %d %s", name, code, errOut)
				return
			}
			if got, errOut, code := testutil.Run(t, "--root", root, "exec", name, "cat", "/proc/1/cmdline"); code != 0 || !strings.Contains(got, "sleep") && !strings.Contains(got, "nook") {
				errs <- fmt.Sprintf("exec %s (%s): %d %q %s", name, strings.TrimSpace(out), code, got, errOut)
			}
			if _, errOut, code := testutil.Run(t, "--root", root, "rm", "-f", name); code != 0 {
				errs <- fmt.Sprintf("rm %s: %d %s", name, code, errOut)
			}
		}(i)
	}
	// one name wanted by many: exactly one gets it
	var won sync.Map
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if _, _, code := testutil.Run(t, "--root", root, "run", "-d", "--name", "one", "--", "sleep", "300"); code == 0 {
				won.Store(i, true)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	count := 0
	won.Range(func(any, any) bool { count++; return true })
	if count != 1 {
		t.Errorf("%d starters got the name", count)
	}
	// execs racing a stop on one sandbox: each runs or says the sandbox
	// stopped, none hangs or panics
	var execs sync.WaitGroup
	for i := 0; i < 10; i++ {
		execs.Add(1)
		go func() {
			defer execs.Done()
			_, errOut, code := testutil.Run(t, "--root", root, "exec", "one", "true")
			noPanic(t, errOut)
			if code != 0 && !strings.Contains(errOut, "stopped") && code != 137 {
				t.Errorf("exec racing stop: %d %q", code, errOut)
			}
		}()
	}
	testutil.Run(t, "--root", root, "stop", "-t", "1", "one")
	execs.Wait()
	// many removers of one sandbox at once
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			testutil.Run(t, "--root", root, "rm", "-f", "one")
		}()
	}
	wg.Wait()
	if list := nook(t, "--root", root, "list", "-a", "-q"); strings.TrimSpace(list) != "" {
		t.Errorf("left:\n%s", list)
	}
}

// nook ns ls -J parses as lsns's JSON and shows a detached sandbox's pid
// namespace with its process count.
func TestNSListShowsSandbox(t *testing.T) {
	e2e(t)
	root := lifeRoot(t)
	nook(t, "--root", root, "run", "-d", "--name", "nsl", "--", "sleep", "300")
	defer nook(t, "--root", root, "rm", "-f", "nsl")
	st := inspect(t, root, "nsl")
	var doc struct {
		Namespaces []struct {
			NS     uint64 `json:"ns"`
			Type   string `json:"type"`
			NProcs int    `json:"nprocs"`
			Pid    int    `json:"pid"`
			PNS    uint64 `json:"pns"`
		} `json:"namespaces"`
	}
	out := nook(t, "ns", "ls", "-J", "-t", "pid", "-p", strconv.Itoa(st.Init.Pid), "-o", "NS,TYPE,NPROCS,PID,PNS")
	if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Namespaces) != 1 {
		t.Fatalf("ns ls -J: %v\n%s", err, out)
	}
	ns := doc.Namespaces[0]
	if ns.Type != "pid" || ns.NProcs != 2 || ns.Pid != st.Init.Pid || ns.PNS == 0 {
		t.Errorf("the sandbox's pid namespace: %+v", ns)
	}

	// a net namespace that only a bind mount inside a sandbox keeps
	nook(t, "--root", root, "run", "-d", "--name", "binder", "--privileged", "--",
		"sh", "-c", "touch /tmp/n && unshare --net=/tmp/n true && echo bound && exec sleep 300")
	defer nook(t, "--root", root, "rm", "-f", "binder")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(nook(t, "--root", root, "logs", "binder"), "bound") {
		if time.Now().After(deadline) {
			t.Fatalf("the sandbox did not bind its namespace: %q", nook(t, "--root", root, "logs", "binder"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	binder := inspect(t, root, "binder").Init.Pid
	want := fmt.Sprintf("/proc/%d/root/tmp/n", binder)
	if out := nook(t, "ns", "ls", "-r", "-n", "-t", "net", "-o", "PATH,NPROCS"); !testutil.HasLine(out, want+" 0") {
		t.Errorf("ns ls does not show the net namespace bound at %s:\n%s", want, out)
	}
}

// A detached sandbox of an image: its monitor holds the image's layers,
// so nook image rm and prune leave them while it runs, and prune removes
// them once it is gone.
func TestDetachedImage(t *testing.T) {
	e2e(t)
	root := lifeRoot(t)
	rootfs := testutil.BusyboxRootfs(t)
	os.WriteFile(filepath.Join(rootfs, "marker"), []byte("from the image\n"), 0o644)
	img := testutil.Image(t, v1.Config{Env: []string{"PATH=/bin"}}, testutil.Layer(t, testutil.TarDir(t, rootfs)))
	store, ref := imageStore(t, img)
	nook(t, append([]string{"--root", root}, runImage(t, store, ref, "-d", "--name", "img", "--", "sleep", "300")...)...)
	nook(t, "image", "rm", "--store", store, ref)
	nook(t, "image", "prune", "--store", store)
	if got := nookLine(t, "--root", root, "exec", "img", "cat", "/marker"); got != "from the image" {
		t.Errorf("exec after image rm and prune: %q", got)
	}
	layers, _ := os.ReadDir(filepath.Join(store, "layers"))
	if len(layers) < 2 {
		t.Error("prune removed the layers of a running sandbox")
	}
	nook(t, "--root", root, "rm", "-f", "img")
	nook(t, "image", "prune", "--store", store)
	layers, _ = os.ReadDir(filepath.Join(store, "layers"))
	for _, l := range layers {
		if l.Name() != "base" { // nook's own bottom layer
			t.Errorf("prune after the sandbox left layer %s", l.Name())
		}
	}
}

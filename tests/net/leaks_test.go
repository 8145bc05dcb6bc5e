package net

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nookrun/nook/internal/testutil"
	"github.com/nookrun/nook/network"
)

// What a sandbox's network adds (its veth, its address, its port table,
// its /etc files) goes when it ends: by exit, by a crash, and when nook
// itself is killed.
func TestNothingLeftBehind(t *testing.T) {
	testutil.RequireRoot(t)
	br := bridge(t)
	// the bridge's masquerade rules wiped (as by a firewall reload) are
	// put back by the next sandbox on it
	for _, l := range strings.Split(run(t, "nft", "-a", "list", "chain", "ip", "nook", "postrouting"), "\n") {
		if _, h, ok := strings.Cut(l, "# handle "); ok && strings.Contains(l, "\""+br+"\"") {
			run(t, "nft", "delete", "rule", "ip", "nook", "postrouting", "handle", strings.TrimSpace(h))
		}
	}
	if out := run(t, "nft", "list", "chain", "ip", "nook", "postrouting"); strings.Contains(out, "\""+br+"\"") {
		t.Fatalf("the rules of %s are still there:\n%s", br, out)
	}
	nook(t, "run", "--net", "bridge:"+br, "--", "true")
	if out := run(t, "nft", "list", "chain", "ip", "nook", "postrouting"); strings.Count(out, "\""+br+"\"") != 3 {
		t.Errorf("after a flush, the masquerade rules of %s are not back:\n%s", br, out)
	}
	for _, c := range []struct {
		name   string
		script string
		kill   bool
	}{
		{"exit", "ip -o -4 addr show eth0", false},
		{"crash", "ip -o -4 addr show eth0; kill -9 $$", false},
		{"nook killed", "ip -o -4 addr show eth0; exec sleep 100", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			testutil.CheckNoLeaks(t)
			port := freePort(t)
			cmd := testutil.Command(t, "run", "--net", "bridge:"+br, "-p", fmt.Sprintf("%d:80", port), "--", "sh", "-c", c.script)
			r := testutil.Start(t, cmd, "")
			out, _ := r.Output()
			fields := strings.Fields(out)
			if len(fields) < 4 {
				t.Fatalf("no address: %q", out)
			}
			ip, _, _ := net.ParseCIDR(fields[3])
			if c.kill {
				if _, err := os.Stat("/sys/class/net/" + network.LeaseLink(ip)); err != nil {
					t.Errorf("while the sandbox runs: %v", err)
				}
				r.Signal(syscall.SIGKILL)
			}
			r.Wait(10 * time.Second)
			deadline := time.Now().Add(testutil.Slack(testutil.LeakWait))
			for {
				left := leftOf(ip, port)
				if len(left) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("left after the sandbox: %s", strings.Join(left, ", "))
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// leftOf lists what is left of the sandbox with address ip publishing
// port: its host veth, a rule for its port.
func leftOf(ip net.IP, port int) []string {
	var left []string
	if _, err := os.Stat("/sys/class/net/" + network.LeaseLink(ip)); err == nil {
		left = append(left, "veth "+network.LeaseLink(ip))
	}
	out, _ := exec.Command("nft", "list", "ruleset").CombinedOutput()
	if strings.Contains(string(out), fmt.Sprintf("dport %d ", port)) {
		left = append(left, fmt.Sprintf("an nftables rule for port %d", port))
	}
	return left
}

// Unprivileged, --net pasta connects the sandbox through pasta(1), or says
// clearly why it cannot.
func TestPastaRootless(t *testing.T) {
	start(t)
	if _, err := exec.LookPath("pasta"); err != nil {
		t.Skip("pasta is not installed")
	}
	u := testutil.CreateUser(t)
	port := freePort(t)
	cmd := testutil.Command(t, "run", "--net", "pasta", "-p", fmt.Sprintf("%d:8080", port), "--",
		"sh", "-c", "ip -o -4 addr show; busybox httpd -p 8080 -h /etc && echo ready && exec sleep 100")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: u.Credential()}
	cmd.Dir = "/"
	if syscall.Access("/dev/net/tun", 6) != nil || !worldRW("/dev/net/tun") {
		out, errOut, code := testutil.RunCmd(t, cmd)
		if code != 125 || !strings.Contains(errOut, "/dev/net/tun") {
			t.Errorf("without access to /dev/net/tun: exit %d, stdout %q, stderr %q; want 125 and a word about /dev/net/tun", code, out, errOut)
		}
		return
	}
	r := testutil.Start(t, cmd, "ready")
	defer func() {
		r.Signal(syscall.SIGTERM)
		r.Wait(10 * time.Second)
	}()
	if out, err := get(t, fmt.Sprintf("http://127.0.0.1:%d/hostname", port)); err != nil || out == "" {
		t.Errorf("a port published through pasta: %q, %v", out, err)
	}
}

func worldRW(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().Perm()&0o006 == 0o006
}

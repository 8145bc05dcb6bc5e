package net

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nookrun/nook/internal/testutil"
	"github.com/nookrun/nook/netns"
	"github.com/nookrun/nook/network"
)

// gateway returns the bridge's address.
func gateway(t *testing.T, br string) net.IP {
	t.Helper()
	var bs []network.Bridge
	if err := json.Unmarshal([]byte(nook(t, "net", "bridge", br, "--json")), &bs); err != nil || len(bs) != 1 {
		t.Fatalf("nook net bridge %s --json: %v %v", br, bs, err)
	}
	return bs[0].Gateway
}

// The isolated web service: a server in a sandbox on a bridge, its port
// published, reached from the host's loopback, from another namespace,
// and from the sandbox itself (hairpin). Its unpublished port is not.
func TestWebServiceOnBridge(t *testing.T) {
	start(t)
	br := bridge(t)
	gw := gateway(t, br)
	www := t.TempDir()
	if err := os.WriteFile(filepath.Join(www, "index.html"), []byte("hello from nook\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	url := func(host string, p int) string { return fmt.Sprintf("http://%s:%d/", host, p) }
	script := "busybox httpd -p 80 -h /www && busybox httpd -p 8081 -h /www && " +
		"busybox wget -qO- " + url(gw.String(), port) + " && echo ready && exec sleep 100"
	r := testutil.Start(t, testutil.Command(t, "run", "--net", "bridge:"+br, "-p", fmt.Sprintf("%d:80", port),
		"--bind", www+":/www:ro", "--", "sh", "-c", script), "ready")
	defer func() {
		r.Signal(syscall.SIGTERM)
		r.Wait(10 * time.Second)
	}()
	if out, _ := r.Output(); !strings.Contains(out, "hello from nook") {
		t.Errorf("hairpin: the sandbox did not reach its own published port through %s: %q", gw, out)
	}

	// the host's loopback, 127.0.0.1 included
	if out, err := get(t, url("127.0.0.1", port)); err != nil || out != "hello from nook\n" {
		t.Errorf("from the host's loopback: %q, %v", out, err)
	}
	// another namespace, over a veth to the host
	cl := namespace(t, "nkw")
	hostIP, clIP := subnet30(t)
	hostEnd := name(t, "w")
	nook(t, "net", "connect", "host", cl, "--names", hostEnd+",eth0", "--addr", hostIP+"/30,"+clIP+"/30")
	t.Cleanup(func() { testutil.Run(t, "net", "disconnect", "host", cl, "--name", hostEnd) })
	if out := nook(t, "netns", "exec", cl, "--", "busybox", "wget", "-qO-", url(hostIP, port)); out != "hello from nook\n" {
		t.Errorf("from another namespace: %q", out)
	}
	// the unpublished port: nothing on the host's side
	if out, err := getOnce(url("127.0.0.1", 8081)); err == nil {
		t.Errorf("the unpublished port 8081 answered on the host's loopback: %q", out)
	}
	if _, errOut, code := testutil.Run(t, "netns", "exec", cl, "--", "busybox", "wget", "-qO-", url(hostIP, 8081)); code == 0 {
		t.Errorf("the unpublished port 8081 answered another namespace")
	} else if strings.Contains(errOut, "hello") {
		t.Errorf("unpublished port: %s", errOut)
	}
}

// NAT: a namespace made by the test plays the upstream network. A sandbox
// reaches its listener masqueraded: the listener sees the host's address.
func TestMasquerade(t *testing.T) {
	start(t)
	br := bridge(t)
	up := namespace(t, "nku")
	hostIP, upIP := subnet30(t)
	hostEnd := name(t, "u")
	nook(t, "net", "connect", "host", up, "--names", hostEnd+",eth0", "--addr", hostIP+"/30,"+upIP+"/30")
	t.Cleanup(func() { testutil.Run(t, "net", "disconnect", "host", up, "--name", hostEnd) })

	f, err := netns.Open(up)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ln net.Listener
	if err := netns.In(f, func() (err error) { ln, err = net.Listen("tcp", upIP+":9000"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peers := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			peers <- err.Error()
			return
		}
		defer c.Close()
		peers <- c.RemoteAddr().(*net.TCPAddr).IP.String()
		c.Write([]byte("hi from upstream\n"))
	}()
	out := nook(t, "run", "--net", "bridge:"+br, "--", "busybox", "nc", "-w", "3", upIP, "9000")
	if out != "hi from upstream\n" {
		t.Errorf("the sandbox read %q from upstream", out)
	}
	select {
	case peer := <-peers:
		if peer != hostIP {
			t.Errorf("the upstream listener saw %s, want the host's address %s", peer, hostIP)
		}
	case <-time.After(5 * time.Second):
		t.Error("the upstream listener saw no connection")
	}
}

// --ip, --dns, --add-host; /etc/hosts names the sandbox.
func TestAddressAndEtcFiles(t *testing.T) {
	start(t)
	br := bridge(t)
	gw := gateway(t, br).To4()
	ip := net.IPv4(gw[0], gw[1], gw[2], gw[3]+1).String()
	out := nook(t, "run", "--net", "bridge:"+br, "--ip", ip, "--dns", "192.0.2.53", "--add-host", "db:192.0.2.7",
		"--hostname", "web", "--", "sh", "-c", "ip -o -4 addr show eth0; ip route; cat /etc/resolv.conf /etc/hosts")
	for _, want := range []string{ip + "/", "default via " + gw.String(), "nameserver 192.0.2.53", ip + "\tweb", "192.0.2.7\tdb", "127.0.0.1\tlocalhost"} {
		if !strings.Contains(out, want) {
			t.Errorf("the sandbox shows no %q:\n%s", want, out)
		}
	}
	// --add-host without a bridge: the host's /etc/hosts and the entry
	out = nook(t, "run", "--add-host", "db:192.0.2.7", "--", "cat", "/etc/hosts")
	if !strings.Contains(out, "192.0.2.7\tdb") {
		t.Errorf("--add-host with --net none: %q", out)
	}
}

// A named namespace made by nook, joined by a sandbox.
func TestRunInNamedNamespace(t *testing.T) {
	start(t)
	n := namespace(t, "nkr")
	m := namespace(t, "nkm")
	a, b := subnet30(t)
	nook(t, "net", "connect", n, m, "--addr", a+"/30,"+b+"/30")
	out := nook(t, "run", "--net", "ns:"+n, "--", "ip", "-o", "-4", "addr")
	if !strings.Contains(out, a) {
		t.Errorf("--net ns:%s: the sandbox does not see the namespace's address %s:\n%s", n, a, out)
	}
	// --net host is the host's: a link the test made there shows
	hostEnd := name(t, "h")
	nook(t, "net", "connect", "host", m, "--names", hostEnd+",eth9")
	if out := nook(t, "run", "--net", "host", "--", "ls", "/sys/class/net"); !strings.Contains(out, hostEnd) {
		t.Errorf("--net host: the sandbox does not see the host's link %s: %q", hostEnd, out)
	}
	if out := nook(t, "run", "--", "ls", "/sys/class/net"); strings.TrimSpace(out) != "lo" {
		t.Errorf("--net none: the sandbox sees %q, want lo only", out)
	}
}

func TestBridgeBadInput(t *testing.T) {
	start(t)
	br := bridge(t)
	gw := gateway(t, br)
	nookFails(t, 2, []string{"--net", "want none, host"}, "run", "--net", "bogus", "--", "true")
	nookFails(t, 2, []string{"no such network namespace", "nook netns add"}, "run", "--net", "ns:nosuch"+br, "--", "true")
	nookFails(t, 2, []string{"--ip", "needs --net bridge"}, "run", "--ip", "10.0.0.2", "--", "true")
	nookFails(t, 2, []string{"--ip", "not an IPv4 address"}, "run", "--net", "bridge:"+br, "--ip", "x", "--", "true")
	nookFails(t, 125, []string{"outside", br}, "run", "--net", "bridge:"+br, "--ip", "192.0.2.200", "--", "true")
	nookFails(t, 125, []string{"the bridge's own address"}, "run", "--net", "bridge:"+br, "--ip", gw.String(), "--", "true")
	nookFails(t, 2, []string{"publish", "HOSTPORT:PORT"}, "run", "--net", "bridge:"+br, "-p", "80", "--", "true")
	nookFails(t, 2, []string{"publish", "not a port number"}, "run", "--net", "bridge:"+br, "-p", "0:80", "--", "true")
	nookFails(t, 2, []string{"--publish", "needs --net bridge"}, "run", "-p", "8080:80", "--", "true")
	nookFails(t, 125, []string{"not an IPv4 network"}, "net", "bridge", name(t, "nkz"), "--subnet", "10.0.0.0")
	nookFails(t, 125, []string{"exists with subnet"}, "net", "bridge", br, "--subnet", "10.254.254.0/24")
	nookFails(t, 125, []string{"overlaps"}, "net", "bridge", name(t, "nkz"), "--subnet", gw.String()+"/24")
	nookFails(t, 125, []string{"lo", "not a bridge"}, "net", "bridge", "lo")
	nookFails(t, 2, []string{"--net", "pasta", "unprivileged"}, "run", "--net", "pasta", "--", "true")
	nookFails(t, 2, []string{"--net", "--unshare", "cannot join"}, "run", "--net", "bridge:"+br, "--unshare", "user", "--", "true")

	// a port already published
	port := freePort(t)
	pub := fmt.Sprintf("%d:80", port)
	r := testutil.Start(t, testutil.Command(t, "run", "--net", "bridge:"+br, "-p", pub, "--", "sh", "-c", "echo ready; exec sleep 100"), "ready")
	nookFails(t, 125, []string{"already published"}, "run", "--net", "bridge:"+br, "-p", pub, "--", "true")
	nookFails(t, 125, []string{"given twice"}, "run", "--net", "bridge:"+br, "-p", "1:80", "-p", "1:81", "--", "true")
	// the same port for udp is free
	nook(t, "run", "--net", "bridge:"+br, "-p", pub+"/udp", "--", "true")
	// an address in use
	ip := strings.Fields(nook(t, "run", "--net", "bridge:"+br, "--", "sh", "-c", "ip -o -4 addr show eth0"))[3]
	ip, _, _ = strings.Cut(ip, "/")
	_ = ip
	r.Signal(syscall.SIGTERM)
	r.Wait(10 * time.Second)
}

// An exhausted subnet is an error; the address comes back when its
// sandbox ends.
func TestExhaustedSubnet(t *testing.T) {
	start(t)
	b := name(t, "nkx")
	var sub string
	for third := 0; third < 256; third++ {
		sub = fmt.Sprintf("10.253.%d.%d/30", int(b[4])%256, third*4%256)
		if _, _, code := testutil.Run(t, "net", "bridge", b, "--subnet", sub); code == 0 {
			break
		}
	}
	t.Cleanup(func() { testutil.Run(t, "net", "reset", b) })
	r := testutil.Start(t, testutil.Command(t, "run", "--net", "bridge:"+b, "--", "sh", "-c", "echo ready; exec sleep 100"), "ready")
	nookFails(t, 125, []string{"no free address", sub}, "run", "--net", "bridge:"+b, "--", "true")
	nookFails(t, 125, []string{"in use by another sandbox"}, "run", "--net", "bridge:"+b, "--ip", gatewayPlus(t, b, 1), "--", "true")
	nookFails(t, 125, []string{"in use by 1 sandboxes"}, "net", "reset", b)
	r.Signal(syscall.SIGTERM)
	r.Wait(10 * time.Second)
	nook(t, "run", "--net", "bridge:"+b, "--", "true")
}

func gatewayPlus(t *testing.T, br string, n byte) string {
	gw := gateway(t, br).To4()
	return net.IPv4(gw[0], gw[1], gw[2], gw[3]+n).String()
}

// Addresses under concurrent runs: eight sandboxes on a /29 (six
// addresses, five for sandboxes) at once; every one that starts has an
// address of its own, and the others say the subnet is full (the
// sandboxes outlast network.LeaseWait, so no address comes free).
func TestConcurrentLeases(t *testing.T) {
	start(t)
	b := name(t, "nkl")
	var sub string
	for i := 0; i < 64; i++ {
		sub = fmt.Sprintf("10.252.%d.%d/29", int(b[4]), i*8)
		if _, _, code := testutil.Run(t, "net", "bridge", b, "--subnet", sub); code == 0 {
			break
		}
	}
	t.Cleanup(func() { testutil.Run(t, "net", "reset", b) })
	type result struct {
		ip   string
		full bool
		err  string
	}
	results := make(chan result, 8)
	for range 8 {
		go func() {
			out, errOut, code := testutil.Run(t, "run", "--net", "bridge:"+b, "--", "sh", "-c", "ip -o -4 addr show eth0; sleep 4")
			switch {
			case code == 0 && len(strings.Fields(out)) > 3:
				results <- result{ip: strings.Fields(out)[3]}
			case strings.Contains(errOut, "no free address"):
				results <- result{full: true}
			default:
				results <- result{err: fmt.Sprintf("exit %d: %s", code, errOut)}
			}
		}()
	}
	seen := map[string]bool{}
	full := 0
	for range 8 {
		r := <-results
		switch {
		case r.err != "":
			t.Error(r.err)
		case r.full:
			full++
		case seen[r.ip]:
			t.Errorf("address %s given twice", r.ip)
		default:
			seen[r.ip] = true
		}
	}
	if len(seen) > 5 || len(seen)+full != 8 {
		t.Errorf("%d sandboxes got addresses, %d found the subnet full", len(seen), full)
	}
}

// A port published on one host address answers there only.
func TestPublishOnOneAddress(t *testing.T) {
	start(t)
	br := bridge(t)
	cl := namespace(t, "nko")
	hostIP, clIP := subnet30(t)
	hostEnd := name(t, "o")
	nook(t, "net", "connect", "host", cl, "--names", hostEnd+",eth0", "--addr", hostIP+"/30,"+clIP+"/30")
	t.Cleanup(func() { testutil.Run(t, "net", "disconnect", "host", cl, "--name", hostEnd) })
	port := freePort(t)
	r := testutil.Start(t, testutil.Command(t, "run", "--net", "bridge:"+br, "-p", fmt.Sprintf("%s:%d:80", hostIP, port),
		"--", "sh", "-c", "busybox httpd -p 80 -h /etc && echo ready && exec sleep 100"), "ready")
	defer func() {
		r.Signal(syscall.SIGTERM)
		r.Wait(10 * time.Second)
	}()
	if _, err := get(t, fmt.Sprintf("http://%s:%d/hostname", hostIP, port)); err != nil {
		t.Errorf("on %s, where it is published: %v", hostIP, err)
	}
	if out, err := getOnce(fmt.Sprintf("http://127.0.0.1:%d/hostname", port)); err == nil {
		t.Errorf("on 127.0.0.1, where it is not published: %q", out)
	}
}

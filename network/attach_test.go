package network

import (
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/nookrun/nook/internal/testutil"
)

func TestAttachDetach(t *testing.T) {
	testutil.RequireRoot(t)
	br := testBridge(t)
	// a port no one else publishes: other test processes may run this
	// test at the same time
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	a, err := Attach(AttachOptions{Bridge: br, Publish: []Port{{HostPort: port, Port: 80, Proto: "tcp"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !a.Bridge.Subnet.Contains(a.IP) {
		t.Errorf("address %s outside %s", a.IP, a.Bridge.Subnet)
	}
	if _, err := net.InterfaceByName(LeaseLink(a.IP)); err != nil {
		t.Errorf("host veth: %v", err)
	}
	n, err := OpenNamespace(a.Path())
	if err != nil {
		t.Fatal(err)
	}
	routes, _ := n.h.RouteList(nil, 2)
	n.Close()
	if len(routes) != 2 {
		t.Errorf("routes in the sandbox: %v", routes)
	}
	taken, err := published()
	if err != nil || taken[fmt.Sprintf("tcp 0.0.0.0:%d", port)] != a.ID {
		t.Errorf("published: %v, %v", taken, err)
	}
	if b, err := Attach(AttachOptions{Bridge: br, Publish: []Port{{HostPort: port, Port: 81, Proto: "tcp"}}}); err == nil {
		b.Close()
		t.Error("a port published twice")
	} else {
		t.Log(err)
	}
	if b, err := Attach(AttachOptions{Bridge: br, IP: a.IP}); err == nil {
		b.Close()
		t.Error("an address leased twice")
	} else {
		t.Log(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// the kernel deletes the veth with the namespace, a moment later
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := net.InterfaceByName(LeaseLink(a.IP)); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("host veth %s left", LeaseLink(a.IP))
		}
	}
	if taken, _ := published(); taken[fmt.Sprintf("tcp 0.0.0.0:%d", port)] != "" {
		t.Errorf("published after close: %v", taken)
	}
}

// testBridge makes a bridge of the test's own, removed at the end.
func testBridge(t testing.TB) string {
	name := "nkt" + testutil.Mark(t)[:8]
	b, err := EnsureBridge(name, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("bridge %s: %s via %s", b.Name, b.Subnet, b.Gateway)
	t.Cleanup(func() {
		if err := Reset(name); err != nil {
			t.Error(err)
		}
	})
	_ = os.Getpid
	return name
}

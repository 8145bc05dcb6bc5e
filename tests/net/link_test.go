package net

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/nookrun/nook/network"
)

// The classic walkthrough: two namespaces, a veth pair between them with
// 10.x.y.1 and .2, a ping each way.
func TestConnectTwoNamespaces(t *testing.T) {
	start(t)
	a, b := namespace(t, "nka"), namespace(t, "nkb")
	ipA, ipB := subnet30(t)
	nook(t, "net", "connect", a, b, "--addr", ipA+"/30,"+ipB+"/30", "--mtu", "1400")
	nook(t, "netns", "exec", a, "--", "busybox", "ping", "-c1", "-W2", ipB)
	nook(t, "netns", "exec", b, "--", "busybox", "ping", "-c1", "-W2", ipA)

	var info network.Info
	if err := json.Unmarshal([]byte(nook(t, "net", "show", a, "--json")), &info); err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, l := range info.Links {
		if l.Name == "v-"+b {
			found = true
			if l.Type != "veth" || !l.Up || l.MTU != 1400 || len(l.Addrs) == 0 || l.Addrs[0] != ipA+"/30" {
				t.Errorf("nook net show %s: link %+v, want an up veth, MTU 1400, with %s/30", a, l, ipA)
			}
		}
		if l.Name == "lo" && !l.Up {
			t.Errorf("nook net show %s: lo is down", a)
		}
	}
	if !found {
		t.Errorf("nook net show %s: no link v-%s in %+v", a, b, info.Links)
	}
	// ip(8) sees the same
	if out := run(t, "ip", "-n", b, "-o", "addr", "show", "v-"+a); !strings.Contains(out, ipB+"/30") {
		t.Errorf("ip -n %s addr: %q, want %s", b, out, ipB)
	}

	nook(t, "net", "disconnect", a, b)
	if out := run(t, "ip", "-n", b, "-o", "link"); strings.Contains(out, "v-"+a) {
		t.Errorf("after disconnect, %s still has v-%s: %s", b, a, out)
	}
}

// --create makes the namespaces: one nook process for the whole
// walkthrough. A pair to the host gets its host end too.
func TestConnectCreateAndHost(t *testing.T) {
	start(t)
	a := name(t, "nkc")
	hostIP, nsIP := subnet30(t)
	hostEnd := name(t, "h")
	nook(t, "net", "connect", "host", a, "--create", "--names", hostEnd+",eth0", "--addr", hostIP+"/30,"+nsIP+"/30")
	t.Cleanup(func() { nook(t, "netns", "delete", a) })
	nook(t, "netns", "exec", a, "--", "busybox", "ping", "-c1", "-W2", hostIP)
	nook(t, "net", "disconnect", "host", a, "--name", hostEnd)
	if out := run(t, "ip", "-o", "link"); strings.Contains(out, hostEnd) {
		t.Errorf("after disconnect the host still has %s", hostEnd)
	}
}

func TestConnectBadInput(t *testing.T) {
	start(t)
	a, b := namespace(t, "nke"), namespace(t, "nkf")
	nookFails(t, 125, []string{"not an address in CIDR form"}, "net", "connect", a, b, "--addr", "10.0.0.1,10.0.0.2/24")
	nookFails(t, 2, []string{"want two addresses"}, "net", "connect", a, b, "--addr", "10.0.0.1/24")
	nookFails(t, 125, []string{"same namespace"}, "net", "connect", a, a)
	nookFails(t, 125, []string{"nosuch" + a, "no such network namespace"}, "net", "connect", a, "nosuch"+a)
	nookFails(t, 125, []string{"longer than 15"}, "net", "connect", a, b, "--names", "averyveryverylongname,x")
	nook(t, "net", "connect", a, b)
	nookFails(t, 125, []string{"already exists"}, "net", "connect", a, b)
	nookFails(t, 125, []string{"no link"}, "net", "disconnect", b, a, "--name", "nosuch")
	nookFails(t, 2, []string{"want 2 arguments"}, "net", "connect", a)
	// --create takes back the namespaces it made when the link fails
	c := name(t, "nkg")
	nookFails(t, 125, []string{"not an address in CIDR form"}, "net", "connect", a, c, "--create", "--names", "x1,x2", "--addr", "bad,10.0.0.2/24")
	nookFails(t, 125, []string{"already exists"}, "net", "connect", c, a, "--create", "--names", "x3,v-"+b)
	if out := run(t, "ip", "netns", "list"); strings.Contains(out, c) {
		t.Errorf("a failed connect --create left namespace %s", c)
	}
	// nothing half-made was left by the failures: one pair only
	if out := run(t, "ip", "-n", a, "-o", "link"); strings.Count(out, "veth") != 1 && strings.Count(out, "v-") != 1 {
		t.Errorf("%s after the failures: %s", a, out)
	}
}

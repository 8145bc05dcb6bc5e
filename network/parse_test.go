package network

import (
	"net"
	"strings"
	"testing"
)

func TestParsePort(t *testing.T) {
	for _, c := range []struct {
		in, want, err string
	}{
		{in: "8080:80", want: "8080:80/tcp"},
		{in: "127.0.0.1:8080:80/udp", want: "127.0.0.1:8080:80/udp"},
		{in: "80", err: "HOSTPORT:PORT"},
		{in: "0:80", err: "not a port number"},
		{in: "8080:70000", err: "not a port number"},
		{in: "8080:80/sctp", err: "want tcp or udp"},
		{in: "::1:8080:80", err: "HOSTPORT:PORT"},
		{in: "host:8080:80", err: "not an IPv4 address"},
	} {
		p, err := ParsePort(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParsePort(%q) = %v, %v; want an error about %q", c.in, p, err, c.err)
			}
			continue
		}
		if err != nil || p.String() != c.want {
			t.Errorf("ParsePort(%q) = %v, %v; want %s", c.in, p, err, c.want)
		}
	}
}

func TestPortClashes(t *testing.T) {
	any, _ := ParsePort("8080:80")
	lo, _ := ParsePort("127.0.0.1:8080:80")
	other, _ := ParsePort("127.0.0.2:8080:80")
	udp, _ := ParsePort("8080:80/udp")
	for _, c := range []struct {
		a, b Port
		want bool
	}{
		{any, any, true}, {any, lo, true}, {lo, any, true}, {lo, lo, true},
		{lo, other, false}, {any, udp, false},
	} {
		if got := c.a.clashes(c.b.key()); got != c.want {
			t.Errorf("%v clashes with %v: %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestSubnets(t *testing.T) {
	if _, err := ParseSubnet("10.0.0.0/31"); err == nil {
		t.Error("a /31 is too small for a gateway and a sandbox")
	}
	if _, err := ParseSubnet("fd00::/64"); err == nil {
		t.Error("IPv6 subnets are not supported")
	}
	n, err := ParseSubnet("10.1.2.3/24")
	if err != nil || n.String() != "10.1.2.0/24" {
		t.Errorf("ParseSubnet: %v, %v", n, err)
	}
	if got := nthAddr(n, 1).String(); got != "10.1.2.1" {
		t.Errorf("first address %s", got)
	}
	if size(n) != 256 {
		t.Errorf("size %d", size(n))
	}
	b := &Bridge{Name: "b", Subnet: n, Gateway: nthAddr(n, 1)}
	for ip, ok := range map[string]bool{"10.1.2.2": true, "10.1.2.1": false, "10.1.2.0": false, "10.1.2.255": false, "10.1.3.2": false} {
		if err := checkAddr(b, net.ParseIP(ip)); (err == nil) != ok {
			t.Errorf("checkAddr(%s) = %v", ip, err)
		}
	}
	if LeaseLink(net.ParseIP("10.123.0.5")) != "nk0a7b0005" {
		t.Errorf("LeaseLink: %s", LeaseLink(net.ParseIP("10.123.0.5")))
	}
	for _, s := range DefaultSubnets() {
		for _, taken := range []string{"10.88.0.0/16", "10.89.0.0/16", "172.16.0.0/12"} {
			_, tn, _ := net.ParseCIDR(taken)
			if overlap(s, tn) {
				t.Errorf("default subnet %s overlaps %s", s, tn)
			}
		}
	}
}

func TestCheckLinkName(t *testing.T) {
	for name, ok := range map[string]bool{"eth0": true, "": false, "a/b": false, "abcdefghijklmnop": false, "abcdefghijklmno": true, "a b": false} {
		if err := CheckLinkName(name); (err == nil) != ok {
			t.Errorf("CheckLinkName(%q) = %v", name, err)
		}
	}
}

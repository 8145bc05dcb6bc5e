package sandbox

import (
	"net"
	"strings"
	"testing"

	"github.com/nookrun/nook/namespaces"
)

func TestParseNet(t *testing.T) {
	for in, want := range map[string]Net{
		"none":                    {Mode: NetNone},
		"host":                    {Mode: NetHost},
		"ns:red":                  {Mode: NetNamespace, Name: "red"},
		"bridge":                  {Mode: NetBridge},
		"bridge:br0":              {Mode: NetBridge, Name: "br0"},
		"pasta":                   {Mode: NetPasta},
		"ns:":                     {},
		"ns:a/b":                  {},
		"bogus":                   {},
		"host:x":                  {},
		"bridge:a b":              {},
		"bridge:abcdefghijklmnop": {},
	} {
		got, err := ParseNet(in)
		if want.Mode == "" {
			if err == nil {
				t.Errorf("ParseNet(%q) = %+v, want an error", in, got)
			}
			continue
		}
		if err != nil || got.Mode != want.Mode || got.Name != want.Name {
			t.Errorf("ParseNet(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
}

func TestParseHostEntry(t *testing.T) {
	e, err := ParseHostEntry("db:10.0.0.7")
	if err != nil || e.Name != "db" || !e.IP.Equal(net.ParseIP("10.0.0.7")) {
		t.Errorf("ParseHostEntry: %+v, %v", e, err)
	}
	if e, err := ParseHostEntry("v6:fd00::1"); err != nil || e.IP.String() != "fd00::1" {
		t.Errorf("ParseHostEntry v6: %+v, %v", e, err)
	}
	for _, bad := range []string{"db", "db:", ":10.0.0.1", "db:x", "a b:10.0.0.1"} {
		if _, err := ParseHostEntry(bad); err == nil {
			t.Errorf("ParseHostEntry(%q): no error", bad)
		}
	}
}

func TestEtcFiles(t *testing.T) {
	r := string(ResolvConf([]net.IP{net.ParseIP("192.0.2.53")}))
	if !strings.Contains(r, "nameserver 192.0.2.53\n") {
		t.Errorf("ResolvConf: %q", r)
	}
	if strings.Contains(string(ResolvConf(nil)), "nameserver 127.") {
		t.Error("ResolvConf keeps a loopback name server a sandbox cannot reach")
	}
	h := string(Hosts("web", net.ParseIP("10.0.0.2"), []HostEntry{{"db", net.ParseIP("10.0.0.7")}}, false))
	for _, want := range []string{"127.0.0.1\tlocalhost\n", "10.0.0.2\tweb\n", "10.0.0.7\tdb\n"} {
		if !strings.Contains(h, want) {
			t.Errorf("Hosts: no %q in %q", want, h)
		}
	}
}

// The network's namespace in the spec: none is a new one, host is none,
// ns:NAME a path.
func TestNetNamespaceInSpec(t *testing.T) {
	netns := func(c *Config) *string {
		s, err := c.Spec()
		if err != nil {
			t.Fatalf("%+v: %v", c.Net, err)
		}
		for _, n := range s.Linux.Namespaces {
			if n.Type == namespaces.Network {
				return &n.Path
			}
		}
		return nil
	}
	if p := netns(&Config{Args: []string{"true"}}); p == nil || *p != "" {
		t.Errorf("--net none: %v", p)
	}
	if p := netns(&Config{Args: []string{"true"}, Net: Net{Mode: NetHost}}); p != nil {
		t.Errorf("--net host: %v", *p)
	}
	if _, err := (&Config{Args: []string{"true"}, Net: Net{Mode: NetNamespace, Name: "nosuch-nook-test"}}).Spec(); err == nil {
		t.Error("--net ns:NAME of no namespace: no error")
	}
	if _, err := (&Config{Args: []string{"true"}, Net: Net{IP: net.ParseIP("10.0.0.2")}}).Spec(); err == nil {
		t.Error("--ip without a bridge: no error")
	}
	if _, err := (&Config{Args: []string{"true"}, Share: []namespaces.Type{namespaces.Network}, Net: Net{Mode: NetBridge}}).Spec(); err == nil {
		t.Error("--share net with --net bridge: no error")
	}
}

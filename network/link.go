package network

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// End is one end of a veth pair.
type End struct {
	// Namespace is Host, a name in /run/netns, or a namespace file.
	Namespace string
	// Name is the link's name; empty for the default, "v-" and the other
	// end's namespace name.
	Name string
	// Addr is an address in CIDR form (10.0.0.1/24); empty for none.
	Addr string
}

// ConnectOptions tune a veth pair.
type ConnectOptions struct {
	// MTU of both ends; 0 for the kernel's default.
	MTU int
}

// maxIfName is the longest interface name (IFNAMSIZ less its NUL).
const maxIfName = unix.IFNAMSIZ - 1

// CheckLinkName checks an interface name.
func CheckLinkName(name string) error {
	switch {
	case name == "":
		return errors.New("interface name is empty")
	case len(name) > maxIfName:
		return fmt.Errorf("interface name %q: longer than %d bytes", name, maxIfName)
	case name == "." || name == ".." || strings.ContainsAny(name, "/: \t\n\x00"):
		return fmt.Errorf("interface name %q: contains a character the kernel refuses", name)
	}
	return nil
}

func defaultName(other string) string {
	n := "v-" + other
	if i := strings.LastIndexByte(n, '/'); i >= 0 {
		n = "v-" + n[i+1:]
	}
	if len(n) > maxIfName {
		n = n[:maxIfName]
	}
	return n
}

// ParseCIDR parses an interface address: the address and its prefix.
func ParseCIDR(s string) (*net.IPNet, error) {
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		return nil, fmt.Errorf("address %q: not an address in CIDR form (10.0.0.1/24)", s)
	}
	n.IP = ip
	if ip4 := ip.To4(); ip4 != nil {
		n.IP = ip4
	}
	return n, nil
}

// Connect makes a veth pair between two namespaces, with one end in each:
// it gives each end its address, and brings both ends and both loopbacks
// up. Either namespace may be Host. On error nothing of it is left.
func Connect(a, b End, opts ConnectOptions) error {
	if a.Name == "" {
		a.Name = defaultName(b.Namespace)
	}
	if b.Name == "" {
		b.Name = defaultName(a.Namespace)
	}
	for _, e := range []End{a, b} {
		if err := CheckLinkName(e.Name); err != nil {
			return fmt.Errorf("connect: %w", err)
		}
	}
	var addrs [2]*net.IPNet
	for i, e := range []End{a, b} {
		if e.Addr == "" {
			continue
		}
		n, err := ParseCIDR(e.Addr)
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		addrs[i] = n
	}
	if opts.MTU < 0 || opts.MTU > 65535 {
		return fmt.Errorf("connect: MTU %d: out of range", opts.MTU)
	}
	na, err := OpenNamespace(a.Namespace)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer na.Close()
	nb, err := OpenNamespace(b.Namespace)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer nb.Close()
	if na.sameAs(nb) {
		return fmt.Errorf("connect: %s and %s are the same namespace", a.Namespace, b.Namespace)
	}
	for _, x := range []struct {
		ns   *Namespace
		name string
	}{{na, a.Name}, {nb, b.Name}} {
		if _, err := x.ns.h.LinkByName(x.name); err == nil {
			return fmt.Errorf("connect: %s: a link named %s already exists", x.ns.Name, x.name)
		}
	}
	return connect(na, nb, a.Name, b.Name, addrs, opts.MTU)
}

// connect makes the pair from na's side, with the peer made straight in
// nb: no link is ever moved, and no name is ever taken in a third
// namespace.
func connect(na, nb *Namespace, nameA, nameB string, addrs [2]*net.IPNet, mtu int) (err error) {
	v := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: nameA, MTU: mtu},
		PeerName:      nameB,
		PeerNamespace: netlink.NsFd(nb.file.Fd()),
		PeerMTU:       uint32(mtu),
	}
	if err := na.h.LinkAdd(v); err != nil {
		return fmt.Errorf("connect: add veth %s (%s) - %s (%s): %w", nameA, na.Name, nameB, nb.Name, err)
	}
	defer func() {
		if err != nil {
			if l, e := na.h.LinkByName(nameA); e == nil {
				na.h.LinkDel(l)
			}
		}
	}()
	for i, x := range []struct {
		ns   *Namespace
		name string
	}{{na, nameA}, {nb, nameB}} {
		if err := x.ns.linkUp(x.name, addrs[i]); err != nil {
			return fmt.Errorf("connect: %w", err)
		}
	}
	return nil
}

// linkUp gives the link its address and brings it and loopback up.
func (n *Namespace) linkUp(name string, addr *net.IPNet) error {
	l, err := n.h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("%s: %s: %w", n.Name, name, err)
	}
	if addr != nil {
		if err := n.h.AddrAdd(l, &netlink.Addr{IPNet: addr}); err != nil {
			return fmt.Errorf("%s: add %s to %s: %w", n.Name, addr, name, err)
		}
	}
	if err := n.h.LinkSetUp(l); err != nil {
		return fmt.Errorf("%s: set %s up: %w", n.Name, name, err)
	}
	return n.loopbackUp()
}

// Disconnect deletes the veth pair that Connect made between a and b
// (its end a.Name in a, by default "v-" and b's name). Deleting one end
// deletes both.
func Disconnect(a, b End) error {
	if a.Name == "" {
		a.Name = defaultName(b.Namespace)
	}
	na, err := OpenNamespace(a.Namespace)
	if err != nil {
		return fmt.Errorf("disconnect: %w", err)
	}
	defer na.Close()
	l, err := na.h.LinkByName(a.Name)
	if err != nil {
		return fmt.Errorf("disconnect: %s has no link %s", a.Namespace, a.Name)
	}
	if l.Type() != "veth" {
		return fmt.Errorf("disconnect: %s in %s is a %s link, not a veth", a.Name, a.Namespace, l.Type())
	}
	if err := na.h.LinkDel(l); err != nil {
		return fmt.Errorf("disconnect: delete %s in %s: %w", a.Name, a.Namespace, err)
	}
	return nil
}

// Info is what a namespace holds: its links, their addresses, its routes.
type Info struct {
	Namespace string     `json:"namespace"`
	Links     []LinkInfo `json:"links"`
	Routes    []Route    `json:"routes"`
}

// LinkInfo is one link of a namespace.
type LinkInfo struct {
	Index  int      `json:"index"`
	Name   string   `json:"name"`
	Type   string   `json:"type"`
	State  string   `json:"state"`
	Up     bool     `json:"up"`
	MTU    int      `json:"mtu"`
	MAC    string   `json:"mac,omitempty"`
	Master string   `json:"master,omitempty"`
	Addrs  []string `json:"addrs"`
}

// Route is one route of the main table.
type Route struct {
	Dst     string `json:"dst"`
	Gateway string `json:"gateway,omitempty"`
	Dev     string `json:"dev,omitempty"`
	Src     string `json:"src,omitempty"`
	Scope   string `json:"scope"`
}

// Show lists the links, addresses and routes of a namespace.
func Show(name string) (*Info, error) {
	n, err := OpenNamespace(name)
	if err != nil {
		return nil, fmt.Errorf("show: %w", err)
	}
	defer n.Close()
	links, err := retry(func() ([]netlink.Link, error) { return n.h.LinkList() })
	if err != nil {
		return nil, fmt.Errorf("show %s: links: %w", name, err)
	}
	info := &Info{Namespace: name, Links: []LinkInfo{}, Routes: []Route{}}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	for _, l := range links {
		a := l.Attrs()
		li := LinkInfo{
			Index: a.Index, Name: a.Name, Type: l.Type(), State: a.OperState.String(),
			Up: a.Flags&net.FlagUp != 0, MTU: a.MTU, Master: names[a.MasterIndex], Addrs: []string{},
		}
		if len(a.HardwareAddr) > 0 {
			li.MAC = a.HardwareAddr.String()
		}
		addrs, err := retry(func() ([]netlink.Addr, error) { return n.h.AddrList(l, netlink.FAMILY_ALL) })
		if err != nil {
			return nil, fmt.Errorf("show %s: addresses of %s: %w", name, a.Name, err)
		}
		for _, ad := range addrs {
			li.Addrs = append(li.Addrs, ad.IPNet.String())
		}
		info.Links = append(info.Links, li)
	}
	routes, err := retry(func() ([]netlink.Route, error) { return n.h.RouteList(nil, netlink.FAMILY_ALL) })
	if err != nil {
		return nil, fmt.Errorf("show %s: routes: %w", name, err)
	}
	for _, r := range routes {
		rt := Route{Dst: "default", Dev: names[r.LinkIndex], Scope: r.Scope.String()}
		if r.Dst != nil {
			if ones, _ := r.Dst.Mask.Size(); ones > 0 {
				rt.Dst = r.Dst.String()
			}
		}
		if r.Gw != nil {
			rt.Gateway = r.Gw.String()
		}
		if r.Src != nil {
			rt.Src = r.Src.String()
		}
		info.Routes = append(info.Routes, rt)
	}
	slices.SortStableFunc(info.Links, func(x, y LinkInfo) int { return x.Index - y.Index })
	return info, nil
}

package network

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// DefaultBridge is the bridge `--net bridge` uses.
const DefaultBridge = "nook0"

// bridgeAlias marks the bridges nook made (IFLA_IFALIAS), so that Reset
// finds them and leaves everyone else's alone.
const bridgeAlias = "nook bridge"

// LockDir serialises what must not race between nook processes: making a
// bridge and choosing its subnet, and checking and publishing ports.
// Address leases need no lock (see Attach). The lock is a flock(2) of
// nook's run directory itself, which nothing else of nook's flocks: a
// lock file of its own would stay on the host after the last sandbox.
const LockDir = "/run/nook"

// Bridge is a host bridge that sandboxes are attached to.
type Bridge struct {
	Name string `json:"name"`
	// Subnet is the network the sandboxes' addresses come from.
	Subnet *net.IPNet `json:"subnet"`
	// Gateway is the bridge's own address, the sandboxes' default route.
	Gateway net.IP `json:"gateway"`
	index   int
}

// DefaultSubnets are tried in order for a new bridge with no subnet
// given: the first that overlaps none of the host's routes and addresses
// is taken. 10.88 and 10.89 (podman) and 172.17-172.29 (docker) are
// left out.
func DefaultSubnets() []*net.IPNet {
	var out []*net.IPNet
	for _, second := range []byte{123, 124, 125, 126} {
		for third := 0; third < 256; third += 16 {
			out = append(out, &net.IPNet{IP: net.IPv4(10, second, byte(third), 0).To4(), Mask: net.CIDRMask(20, 32)})
		}
	}
	return out
}

// ParseSubnet parses a bridge subnet in CIDR form: IPv4, with room for a
// gateway and at least one sandbox.
func ParseSubnet(s string) (*net.IPNet, error) {
	ip, n, err := net.ParseCIDR(s)
	if err != nil || ip.To4() == nil {
		return nil, fmt.Errorf("subnet %q: not an IPv4 network in CIDR form (10.123.0.0/24)", s)
	}
	if ones, _ := n.Mask.Size(); ones > 30 {
		return nil, fmt.Errorf("subnet %q: too small, /30 at most", s)
	}
	n.IP = n.IP.To4()
	return n, nil
}

// EnsureBridge returns the bridge name, made with subnet (or a free one
// of DefaultSubnets when subnet is empty) if it does not exist yet. It
// also makes sure that the host forwards and masquerades for it.
func EnsureBridge(name, subnet string) (*Bridge, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	defer h.Close()
	return ensureBridge(h, name, subnet)
}

func ensureBridge(h *netlink.Handle, name, subnet string) (*Bridge, error) {
	if err := CheckLinkName(name); err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	var want *net.IPNet
	if subnet != "" {
		var err error
		if want, err = ParseSubnet(subnet); err != nil {
			return nil, fmt.Errorf("bridge %s: %w", name, err)
		}
	}
	b, err := existingBridge(h, name, want, false)
	if err != nil || b != nil {
		return b, err
	}
	unlock, err := lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	// another nook may have made it meanwhile
	if b, err := existingBridge(h, name, want, true); err != nil || b != nil {
		return b, err
	}
	return makeBridge(h, name, want)
}

// existingBridge returns the bridge name when it exists and is ready,
// nil when it does not exist. locked says whether the caller holds
// LockDir.
func existingBridge(h *netlink.Handle, name string, want *net.IPNet, locked bool) (*Bridge, error) {
	l, err := h.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
			return nil, nil
		}
		return nil, fmt.Errorf("bridge %s: %w", name, err)
	}
	if l.Type() != "bridge" {
		return nil, fmt.Errorf("bridge %s: a link of that name exists and is not a bridge (%s)", name, l.Type())
	}
	var addrs []netlink.Addr
	// a bridge that another nook is making gets its address a moment
	// after the link
	for i := 0; i < 100; i++ {
		if addrs, err = retry(func() ([]netlink.Addr, error) { return h.AddrList(l, netlink.FAMILY_V4) }); err != nil {
			return nil, fmt.Errorf("bridge %s: addresses: %w", name, err)
		}
		if len(addrs) > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("bridge %s exists but has no IPv4 address", name)
	}
	a := addrs[0].IPNet
	b := &Bridge{
		Name:    name,
		Subnet:  &net.IPNet{IP: a.IP.Mask(a.Mask).To4(), Mask: a.Mask},
		Gateway: a.IP.To4(),
		index:   l.Attrs().Index,
	}
	if want != nil && b.Subnet.String() != want.String() {
		return nil, fmt.Errorf("bridge %s exists with subnet %s, not %s", name, b.Subnet, want)
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		if err := h.LinkSetUp(l); err != nil {
			return nil, fmt.Errorf("bridge %s: set up: %w", name, err)
		}
	}
	if err := hostSettings(b, locked); err != nil {
		return nil, err
	}
	return b, nil
}

func makeBridge(h *netlink.Handle, name string, subnet *net.IPNet) (b *Bridge, err error) {
	if subnet == nil {
		for _, s := range DefaultSubnets() {
			if clash, err := clashes(h, s); err != nil {
				return nil, err
			} else if clash == "" {
				subnet = s
				break
			}
		}
		if subnet == nil {
			return nil, fmt.Errorf("bridge %s: every default subnet overlaps a route of the host; give one", name)
		}
	} else if clash, err := clashes(h, subnet); err != nil {
		return nil, err
	} else if clash != "" {
		return nil, fmt.Errorf("bridge %s: subnet %s overlaps %s", name, subnet, clash)
	}
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
	if err := h.LinkAdd(br); err != nil {
		return nil, fmt.Errorf("bridge %s: add: %w", name, err)
	}
	defer func() {
		if err != nil {
			h.LinkDel(br)
		}
	}()
	l, err := h.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("bridge %s: %w", name, err)
	}
	if err := h.LinkSetAlias(l, bridgeAlias); err != nil {
		return nil, fmt.Errorf("bridge %s: set alias: %w", name, err)
	}
	gw := nthAddr(subnet, 1)
	if err := h.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: gw, Mask: subnet.Mask}}); err != nil {
		return nil, fmt.Errorf("bridge %s: add address %s: %w", name, gw, err)
	}
	if err := h.LinkSetUp(l); err != nil {
		return nil, fmt.Errorf("bridge %s: set up: %w", name, err)
	}
	b = &Bridge{Name: name, Subnet: subnet, Gateway: gw, index: l.Attrs().Index}
	if err := hostSettings(b, true); err != nil {
		return nil, err
	}
	return b, nil
}

// clashes names the host route or address that overlaps subnet, or "".
func clashes(h *netlink.Handle, subnet *net.IPNet) (string, error) {
	routes, err := retry(func() ([]netlink.Route, error) {
		return h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return "", fmt.Errorf("list the host's routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil || r.Dst.IP.IsLoopback() {
			continue // the default route overlaps everything
		}
		if ones, _ := r.Dst.Mask.Size(); ones == 0 {
			continue
		}
		if overlap(r.Dst, subnet) {
			return "the route to " + r.Dst.String(), nil
		}
	}
	addrs, err := retry(func() ([]netlink.Addr, error) { return h.AddrList(nil, netlink.FAMILY_V4) })
	if err != nil {
		return "", fmt.Errorf("list the host's addresses: %w", err)
	}
	for _, a := range addrs {
		if subnet.Contains(a.IP) {
			return "the host's address " + a.IP.String(), nil
		}
	}
	return "", nil
}

func overlap(a, b *net.IPNet) bool { return a.Contains(b.IP) || b.Contains(a.IP) }

// nthAddr is the n-th address of a subnet.
func nthAddr(n *net.IPNet, i uint32) net.IP {
	base := n.IP.To4().Mask(n.Mask)
	v := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	v += i
	return net.IPv4(byte(v>>24), byte(v>>16), byte(v>>8), byte(v)).To4()
}

// size is the number of addresses of a subnet.
func size(n *net.IPNet) uint32 {
	ones, bits := n.Mask.Size()
	return 1 << uint(bits-ones)
}

// hostSettings turns on forwarding, and route_localnet on the bridge
// (packets from 127.0.0.1 to a published port are routed out through it,
// then masqueraded), and puts the masquerade rules in place.
func hostSettings(b *Bridge, locked bool) error {
	for _, f := range []string{
		"/proc/sys/net/ipv4/ip_forward",
		"/proc/sys/net/ipv4/conf/" + b.Name + "/route_localnet",
	} {
		if v, err := os.ReadFile(f); err == nil && strings.TrimSpace(string(v)) == "1" {
			continue
		}
		if err := os.WriteFile(f, []byte("1"), 0); err != nil {
			return fmt.Errorf("bridge %s: write %s: %w", b.Name, f, err)
		}
	}
	return ensureMasquerade(b, locked)
}

// Bridges lists the bridges nook made.
func Bridges() ([]*Bridge, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	defer h.Close()
	links, err := retry(func() ([]netlink.Link, error) { return h.LinkList() })
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	var out []*Bridge
	for _, l := range links {
		if l.Type() != "bridge" || l.Attrs().Alias != bridgeAlias {
			continue
		}
		b := &Bridge{Name: l.Attrs().Name, index: l.Attrs().Index}
		if addrs, err := h.AddrList(l, netlink.FAMILY_V4); err == nil && len(addrs) > 0 {
			a := addrs[0].IPNet
			b.Subnet = &net.IPNet{IP: a.IP.Mask(a.Mask).To4(), Mask: a.Mask}
			b.Gateway = a.IP.To4()
		}
		out = append(out, b)
	}
	return out, nil
}

// Reset removes the bridge name (every bridge of nook's when name is
// empty) and its masquerade rules; with no bridge of nook's left, nook's
// table goes too. A bridge that sandboxes are attached to is not removed.
func Reset(name string) error {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer h.Close()
	unlock, err := lock()
	if err != nil {
		return err
	}
	defer unlock()
	bridges, err := Bridges()
	if err != nil {
		return err
	}
	found := false
	for _, b := range bridges {
		if name != "" && b.Name != name {
			continue
		}
		found = true
		// the ports of sandboxes that just ended go a moment later
		var ports []string
		for deadline := time.Now().Add(LeaseWait); ; time.Sleep(10 * time.Millisecond) {
			links, err := retry(func() ([]netlink.Link, error) { return h.LinkList() })
			if err != nil {
				return fmt.Errorf("list links: %w", err)
			}
			ports = ports[:0]
			for _, l := range links {
				if l.Attrs().MasterIndex == b.index {
					ports = append(ports, l.Attrs().Name)
				}
			}
			if len(ports) == 0 || time.Now().After(deadline) {
				break
			}
		}
		if len(ports) > 0 {
			return fmt.Errorf("reset: bridge %s is in use by %d sandboxes (%s)", b.Name, len(ports), strings.Join(ports, ", "))
		}
		if err := h.LinkDel(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: b.Name, Index: b.index}}); err != nil {
			return fmt.Errorf("reset: delete bridge %s: %w", b.Name, err)
		}
		if err := deleteMasquerade(b.Name); err != nil {
			return err
		}
	}
	if name != "" && !found {
		// the rules may outlive a bridge someone else deleted
		if err := deleteMasquerade(name); err != nil {
			return err
		}
		if _, err := h.LinkByName(name); err == nil {
			return fmt.Errorf("reset: %s is not a bridge of nook's", name)
		}
	}
	return nil
}

// lock takes LockDir.
func lock() (unlock func(), err error) {
	if err := os.MkdirAll(LockDir, 0o700); err != nil {
		return nil, fmt.Errorf("network lock: %w", err)
	}
	fd, err := unix.Open(LockDir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("network lock: open %s: %w", LockDir, err)
	}
	for {
		err = unix.Flock(fd, unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("network lock: flock %s: %w", LockDir, err)
	}
	return func() { unix.Close(fd) }, nil
}

package network

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// AttachOptions say how a sandbox joins a bridge.
type AttachOptions struct {
	// Bridge is the bridge's name; DefaultBridge when empty. It is made
	// when it does not exist.
	Bridge string
	// Subnet is the subnet of a bridge made now; empty for a free one.
	Subnet string
	// IP is the sandbox's address; nil for a free one of the subnet.
	IP net.IP
	// Publish are the ports published on the host.
	Publish []Port
	// MTU of the sandbox's link; 0 for the kernel's default.
	MTU int
	// ID names the sandbox's nftables table; random when empty.
	ID string
}

// Interface is the name of the sandbox's end of its veth pair.
const Interface = "eth0"

// Attachment is a sandbox's place on a bridge: a network namespace of its
// own with eth0, an address and a default route through the bridge; a
// veth end on the host, in the bridge; and its published ports.
type Attachment struct {
	ID     string
	Bridge *Bridge
	IP     net.IP
	Ports  []Port
	ns     *Namespace
	host   *netlink.Handle
	veth   *netlink.Veth
	ports  *portTable
}

// LeaseLink is the name of the host's end of the veth of the sandbox with
// address ip: "nk" and the address in hex. The kernel's link names are
// the address leases: a name, so an address, can be taken only once (the
// second LinkAdd fails with EEXIST, whoever races), and the lease ends
// when the link goes, which it does with the sandbox's namespace however
// the sandbox and nook end. There is no lease file to leak or to lock.
func LeaseLink(ip net.IP) string {
	return "nk" + hex.EncodeToString(ip.To4())
}

// Attach makes a network namespace for a sandbox and attaches it to a
// bridge. On error nothing of it is left.
func Attach(o AttachOptions) (_ *Attachment, err error) {
	if o.Bridge == "" {
		o.Bridge = DefaultBridge
	}
	if o.ID == "" {
		var b [6]byte
		rand.Read(b[:])
		o.ID = hex.EncodeToString(b[:])
	}
	if o.MTU < 0 || o.MTU > 65535 {
		return nil, fmt.Errorf("MTU %d: out of range", o.MTU)
	}
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	a := &Attachment{ID: o.ID, host: h, Ports: o.Publish}
	defer func() {
		if err != nil {
			if cerr := a.Close(); cerr != nil {
				err = fmt.Errorf("%w (and undoing it: %v)", err, cerr)
			}
		}
	}()
	if a.Bridge, err = ensureBridge(h, o.Bridge, o.Subnet); err != nil {
		return nil, err
	}
	b := a.Bridge
	if o.IP != nil {
		if err := checkAddr(b, o.IP); err != nil {
			return nil, err
		}
	}
	if a.ns, err = NewNamespace(); err != nil {
		return nil, err
	}
	if err := a.lease(o); err != nil {
		return nil, err
	}
	// a published port reached from the sandbox itself: where
	// br_netfilter is loaded, the translated frame is bridged straight
	// back out of the port it came in on, which the bridge does only in
	// hairpin mode
	if err := a.host.LinkSetHairpin(a.veth, true); err != nil {
		return nil, fmt.Errorf("veth %s: hairpin mode: %w", a.veth.Name, err)
	}
	eth, err := a.ns.h.LinkByName(Interface)
	if err != nil {
		return nil, fmt.Errorf("sandbox's %s: %w", Interface, err)
	}
	if err := a.ns.h.AddrAdd(eth, &netlink.Addr{IPNet: &net.IPNet{IP: a.IP, Mask: b.Subnet.Mask}}); err != nil {
		return nil, fmt.Errorf("sandbox's %s: add %s: %w", Interface, a.IP, err)
	}
	if err := a.ns.h.LinkSetUp(eth); err != nil {
		return nil, fmt.Errorf("sandbox's %s: set up: %w", Interface, err)
	}
	if err := a.ns.h.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Gw: b.Gateway}); err != nil {
		return nil, fmt.Errorf("sandbox's default route via %s: %w", b.Gateway, err)
	}
	if len(o.Publish) > 0 {
		if err := a.publish(); err != nil {
			return nil, err
		}
	}
	// what is left to hold is the namespace and the port table
	a.ns.h.Close()
	a.ns.h = nil
	a.host.Close()
	a.host = nil
	return a, nil
}

// checkAddr checks that ip is a sandbox address of b's subnet.
func checkAddr(b *Bridge, ip net.IP) error {
	ip4 := ip.To4()
	switch {
	case ip4 == nil:
		return fmt.Errorf("address %s: not an IPv4 address", ip)
	case !b.Subnet.Contains(ip4):
		return fmt.Errorf("address %s: outside %s's subnet %s", ip, b.Name, b.Subnet)
	case ip4.Equal(b.Subnet.IP), ip4.Equal(nthAddr(b.Subnet, size(b.Subnet)-1)):
		return fmt.Errorf("address %s: the network or broadcast address of %s", ip, b.Subnet)
	case ip4.Equal(b.Gateway):
		return fmt.Errorf("address %s: the bridge's own address", ip)
	}
	return nil
}

// lease makes the veth pair named after the first free address: the
// wanted one, or one found from a random point of the subnet on.
func (a *Attachment) lease(o AttachOptions) error {
	b := a.Bridge
	try := func(ip net.IP) error {
		name := LeaseLink(ip)
		v := &netlink.Veth{
			LinkAttrs: netlink.LinkAttrs{Name: name, MTU: o.MTU, MasterIndex: b.index, Flags: net.FlagUp},
			PeerName:  Interface, PeerNamespace: netlink.NsFd(a.ns.file.Fd()), PeerMTU: uint32(o.MTU),
		}
		err := a.host.LinkAdd(v)
		if err == nil {
			a.IP, a.veth = ip, v // LinkAdd filled in v's index
			return nil
		}
		if errors.Is(err, unix.EEXIST) {
			return err // taken
		}
		// a pair made but not put on the bridge goes with the
		// namespace, when Attach undoes itself
		return fmt.Errorf("veth %s for %s: %w", name, ip, err)
	}
	// a sandbox that just ended holds its address until the kernel has
	// cleaned up its namespace, in the background: wait a moment for
	// that before calling an address taken
	deadline := time.Now().Add(LeaseWait)
	for {
		err := a.tryAll(o, try)
		if !errors.Is(err, unix.EEXIST) || time.Now().After(deadline) {
			switch {
			case !errors.Is(err, unix.EEXIST):
				return err
			case o.IP != nil:
				return fmt.Errorf("address %s is in use by another sandbox", o.IP)
			default:
				return fmt.Errorf("bridge %s: no free address left in %s", b.Name, b.Subnet)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// LeaseWait is how long Attach waits for an address, or any address, of
// a sandbox that just ended to come free.
const LeaseWait = 2 * time.Second

// tryAll tries the wanted address, or every address of the subnet from a
// random one on; EEXIST when all were taken.
func (a *Attachment) tryAll(o AttachOptions, try func(net.IP) error) error {
	if o.IP != nil {
		return try(o.IP.To4())
	}
	b := a.Bridge
	n := size(b.Subnet)
	var r [4]byte
	rand.Read(r[:])
	start := binary.NativeEndian.Uint32(r[:]) % n
	for i := uint32(0); i < n; i++ {
		ip := nthAddr(b.Subnet, (start+i)%n)
		if checkAddr(b, ip) != nil {
			continue
		}
		if err := try(ip); !errors.Is(err, unix.EEXIST) {
			return err
		}
	}
	return unix.EEXIST
}

// publish checks that no live sandbox publishes the same ports, and
// makes the sandbox's port table.
func (a *Attachment) publish() error {
	seen := map[string]bool{}
	for _, p := range a.Ports {
		if seen[p.key()] {
			return fmt.Errorf("publish %s: given twice", p)
		}
		seen[p.key()] = true
	}
	unlock, err := lock()
	if err != nil {
		return err
	}
	defer unlock()
	taken, err := published()
	if err != nil {
		return err
	}
	for _, p := range a.Ports {
		for k, id := range taken {
			if p.clashes(k) {
				return fmt.Errorf("publish %s: port already published by sandbox %s (%s)", p, id, k)
			}
		}
	}
	a.ports, err = newPortTable(a.ID, a.IP, a.Ports)
	return err
}

// Namespace returns the descriptor of the sandbox's network namespace.
func (a *Attachment) Namespace() *os.File { return a.ns.file }

// Path is a path of the sandbox's namespace, good while this process
// holds it: /proc/PID/fd/N.
func (a *Attachment) Path() string {
	return "/proc/" + strconv.Itoa(os.Getpid()) + "/fd/" + strconv.Itoa(int(a.ns.file.Fd()))
}

// Close detaches the sandbox: its port table goes, and nook's hold on
// its namespace. The namespace itself goes when its last process has
// gone too, and with it both ends of its veth, so the address is free
// again a moment later. Close does not delete the veth itself: that
// waits for RCU grace periods, tens of milliseconds on a busy host,
// which the kernel's namespace cleanup spends in the background
// instead. It is idempotent.
func (a *Attachment) Close() error {
	if a == nil {
		return nil
	}
	a.ports.close()
	a.ports = nil
	a.ns.Close()
	a.ns = nil
	if a.host != nil {
		a.host.Close()
		a.host = nil
	}
	return nil
}

package network

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	mnl "github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Table is the name of nook's own nftables table (family ip). It holds
// the bridges' masquerade rules and stays until Reset. Each sandbox that
// publishes ports has a table of its own, TablePrefix and its ID.
const (
	Table       = "nook"
	TablePrefix = "nook-"
)

// tableFlagOwner is NFT_TABLE_F_OWNER (linux/netfilter/nf_tables.h,
// kernel 5.12): the table belongs to the netlink socket that made it and
// the kernel deletes it when that socket closes.
const tableFlagOwner = 0x2

// ctStatusDstNAT is IPS_DST_NAT (linux/netfilter/nf_conntrack_common.h):
// the connection's destination was translated.
const ctStatusDstNAT = 1 << 5

// Rules are tagged through their user data, so that nook finds its own.
const (
	tagBridge  = "nook-bridge "  // + bridge name
	tagPublish = "nook-publish " // + proto hostip:hostport
)

func nookTable() *nftables.Table {
	return &nftables.Table{Name: Table, Family: nftables.TableFamilyIPv4}
}

// ensureMasquerade makes sure nook's table has the masquerade rules of
// bridge b: outgoing traffic of the subnet leaves with the host's
// address; traffic that a published port sent back into the bridge
// (hairpin) and traffic from the host's loopback leave with the bridge's.
// A rule set that someone flushed is put back.
//
// locked says whether the caller holds LockDir; repairs take it.
func ensureMasquerade(b *Bridge, locked bool) error {
	if n, err := countMasquerade(b); err == nil && n == len(masqueradeRules(b)) {
		return nil
	}
	if !locked {
		unlock, err := lock()
		if err != nil {
			return err
		}
		defer unlock()
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	table := nookTable()
	chain := natChain(table)
	tag := []byte(tagBridge + b.Name)
	if rules, err := c.GetRules(table, chain); err == nil {
		for _, r := range rules {
			if string(r.UserData) == string(tag) {
				c.DelRule(r)
			}
		}
	}
	c.AddTable(table)
	c.AddChain(chain)
	for _, e := range masqueradeRules(b) {
		c.AddRule(&nftables.Rule{Table: table, Chain: chain, Exprs: e, UserData: tag})
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: masquerade for %s: %w", b.Name, err)
	}
	return nil
}

// countMasquerade counts bridge b's rules in nook's table.
func countMasquerade(b *Bridge) (int, error) {
	c, err := nftables.New()
	if err != nil {
		return 0, err
	}
	table := nookTable()
	rules, err := c.GetRules(table, natChain(table))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range rules {
		if string(r.UserData) == tagBridge+b.Name {
			n++
		}
	}
	return n, nil
}

func natChain(t *nftables.Table) *nftables.Chain {
	return &nftables.Chain{
		Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource,
	}
}

// masqueradeRules are bridge b's rules.
func masqueradeRules(b *Bridge) [][]expr.Any {
	subnet := matchSubnet(12, b.Subnet)
	loopback := matchSubnet(12, &net.IPNet{IP: net.IPv4(127, 0, 0, 0).To4(), Mask: net.CIDRMask(8, 32)})
	toBridge := matchIfname(expr.MetaKeyOIFNAME, b.Name, expr.CmpOpEq)
	return [][]expr.Any{
		// ip saddr SUBNET oifname != BRIDGE masquerade
		slices.Concat(subnet, matchIfname(expr.MetaKeyOIFNAME, b.Name, expr.CmpOpNeq), []expr.Any{&expr.Masq{}}),
		// oifname BRIDGE ip saddr SUBNET ct status dnat masquerade
		slices.Concat(toBridge, subnet, matchDNAT(), []expr.Any{&expr.Masq{}}),
		// oifname BRIDGE ip saddr 127.0.0.0/8 masquerade
		slices.Concat(toBridge, loopback, []expr.Any{&expr.Masq{}}),
	}
}

// deleteMasquerade removes bridge b's rules from nook's table, and the
// table when nothing else is in it.
func deleteMasquerade(name string) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	table := nookTable()
	rules, err := c.GetRules(table, natChain(table))
	if err != nil {
		return nil // no table, no rules
	}
	left := 0
	for _, r := range rules {
		if string(r.UserData) == tagBridge+name {
			c.DelRule(r)
		} else {
			left++
		}
	}
	if left == 0 {
		c.DelTable(table)
	}
	if err := c.Flush(); err != nil {
		// gone meanwhile (someone flushed or deleted the table) is gone
		if n, cerr := countMasquerade(&Bridge{Name: name}); cerr != nil || n == 0 {
			return nil
		}
		return fmt.Errorf("nftables: remove the rules of %s: %w", name, err)
	}
	return nil
}

// portTable is a sandbox's own table of published ports. It is owned by
// a netlink socket of nook's, so the kernel removes it the moment that
// socket closes: on Close, and just as well when nook is killed. No rule
// of a sandbox can outlive its nook.
type portTable struct {
	conn  *nftables.Conn
	table *nftables.Table
}

// newPortTable makes the table of sandbox id with a DNAT rule for each
// port, to addr. Incoming (prerouting) and local (output) traffic to any
// local address of the host (or the port's HostIP) is translated.
func newPortTable(id string, addr net.IP, ports []Port) (*portTable, error) {
	var sock *mnl.Conn
	c, err := nftables.New(nftables.AsLasting(), nftables.WithSockOptions(func(s *mnl.Conn) error {
		sock = s
		return nil
	}))
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	t := &nftables.Table{Name: TablePrefix + id, Family: nftables.TableFamilyIPv4}
	if err := addOwnedTable(sock, t.Name); err != nil {
		c.CloseLasting()
		return nil, fmt.Errorf("nftables: table %s: %w", t.Name, err)
	}
	pt := &portTable{conn: c, table: t}
	for _, hook := range []struct {
		name string
		num  *nftables.ChainHook
	}{{"prerouting", nftables.ChainHookPrerouting}, {"output", nftables.ChainHookOutput}} {
		ch := c.AddChain(&nftables.Chain{
			Name: hook.name, Table: t, Type: nftables.ChainTypeNAT,
			Hooknum: hook.num, Priority: nftables.ChainPriorityNATDest,
		})
		for _, p := range ports {
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: dnatRule(p, addr), UserData: []byte(tagPublish + p.key())})
		}
	}
	if err := c.Flush(); err != nil {
		pt.close()
		return nil, fmt.Errorf("nftables: rules of %s: %w", t.Name, err)
	}
	return pt, nil
}

// close deletes the table (by closing the socket that owns it).
func (pt *portTable) close() {
	if pt != nil && pt.conn != nil {
		pt.conn.CloseLasting()
		pt.conn = nil
	}
}

// addOwnedTable sends NFT_MSG_NEWTABLE with the owner flag on sock, which
// google/nftables cannot set.
func addOwnedTable(sock *mnl.Conn, name string) error {
	if sock == nil {
		return errors.New("no netlink socket")
	}
	ae := mnl.NewAttributeEncoder()
	ae.ByteOrder = binary.BigEndian
	ae.String(unix.NFTA_TABLE_NAME, name)
	ae.Uint32(unix.NFTA_TABLE_FLAGS, tableFlagOwner)
	attrs, err := ae.Encode()
	if err != nil {
		return err
	}
	batchHdr := []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, unix.NFNL_SUBSYS_NFTABLES}
	msgs := []mnl.Message{
		{Header: mnl.Header{Type: mnl.HeaderType(unix.NFNL_MSG_BATCH_BEGIN), Flags: mnl.Request}, Data: batchHdr},
		{
			Header: mnl.Header{
				Type:  mnl.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWTABLE),
				Flags: mnl.Request | mnl.Acknowledge | mnl.Create | mnl.Excl,
			},
			Data: append([]byte{unix.NFPROTO_IPV4, unix.NFNETLINK_V0, 0, 0}, attrs...),
		},
		{Header: mnl.Header{Type: mnl.HeaderType(unix.NFNL_MSG_BATCH_END), Flags: mnl.Request}, Data: batchHdr},
	}
	if _, err := sock.SendMessages(msgs); err != nil {
		return err
	}
	_, err = sock.Receive()
	return err
}

// published lists the ports that live sandboxes publish, from the rules
// of their tables.
func published() (map[string]string, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, fmt.Errorf("nftables: list tables: %w", err)
	}
	out := map[string]string{}
	for _, t := range tables {
		if !strings.HasPrefix(t.Name, TablePrefix) {
			continue
		}
		rules, err := c.GetRules(t, &nftables.Chain{Name: "prerouting", Table: t})
		if err != nil {
			continue // gone meanwhile
		}
		for _, r := range rules {
			if k, ok := strings.CutPrefix(string(r.UserData), tagPublish); ok {
				out[k] = strings.TrimPrefix(t.Name, TablePrefix)
			}
		}
	}
	return out, nil
}

// --- rule building -----------------------------------------------------------

func matchSubnet(offset uint32, n *net.IPNet) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte(n.Mask), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte(n.IP.To4().Mask(n.Mask))},
	}
}

func matchIfname(key expr.MetaKey, name string, op expr.CmpOp) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{&expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: op, Register: 1, Data: b}}
}

// matchDNAT matches connections whose destination was translated.
func matchDNAT() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(ctStatusDstNAT), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}

// dnatRule: fib daddr type local [ip daddr HOSTIP] PROTO dport HOSTPORT
// dnat to ADDR:PORT.
func dnatRule(p Port, addr net.IP) []expr.Any {
	var e []expr.Any
	if p.HostIP != nil && !p.HostIP.IsUnspecified() {
		e = append(e,
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte(p.HostIP.To4())})
	} else {
		e = append(e,
			&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)})
	}
	proto := byte(unix.IPPROTO_TCP)
	if p.Proto == "udp" {
		proto = unix.IPPROTO_UDP
	}
	return append(e,
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(p.HostPort)},
		&expr.Immediate{Register: 1, Data: []byte(addr.To4())},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(p.Port)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	)
}

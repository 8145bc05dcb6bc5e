package network

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Port is a published port: connections to HostPort on the host (on
// HostIP, or any local address when it is nil) go to Port in the sandbox.
type Port struct {
	HostIP   net.IP `json:"host_ip,omitempty"`
	HostPort uint16 `json:"host_port"`
	Port     uint16 `json:"port"`
	// Proto is "tcp" or "udp".
	Proto string `json:"proto"`
}

// ParsePort parses [HOSTIP:]HOSTPORT:PORT[/tcp|/udp], as -p takes it.
func ParsePort(s string) (Port, error) {
	p := Port{Proto: "tcp"}
	spec, proto, hasProto := strings.Cut(s, "/")
	if hasProto {
		if proto != "tcp" && proto != "udp" {
			return p, fmt.Errorf("publish %q: protocol %q: want tcp or udp", s, proto)
		}
		p.Proto = proto
	}
	parts := strings.Split(spec, ":")
	switch len(parts) {
	case 2:
	case 3:
		ip := net.ParseIP(parts[0])
		if ip == nil || ip.To4() == nil {
			return p, fmt.Errorf("publish %q: host address %q: not an IPv4 address", s, parts[0])
		}
		p.HostIP = ip.To4()
		parts = parts[1:]
	default:
		return p, fmt.Errorf("publish %q: want [HOSTIP:]HOSTPORT:PORT[/tcp|/udp]", s)
	}
	var err error
	if p.HostPort, err = parsePortNumber(parts[0]); err != nil {
		return p, fmt.Errorf("publish %q: host port: %w", s, err)
	}
	if p.Port, err = parsePortNumber(parts[1]); err != nil {
		return p, fmt.Errorf("publish %q: sandbox port: %w", s, err)
	}
	return p, nil
}

func parsePortNumber(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a port number (1-65535)", s)
	}
	return uint16(n), nil
}

// String is the port as ParsePort reads it.
func (p Port) String() string {
	s := fmt.Sprintf("%d:%d/%s", p.HostPort, p.Port, p.Proto)
	if p.HostIP != nil {
		s = p.HostIP.String() + ":" + s
	}
	return s
}

// key identifies what a port takes on the host: proto, address and port.
func (p Port) key() string {
	ip := "0.0.0.0"
	if p.HostIP != nil {
		ip = p.HostIP.String()
	}
	return fmt.Sprintf("%s %s:%d", p.Proto, ip, p.HostPort)
}

// clashes reports whether key k (of a live sandbox) takes what p needs.
func (p Port) clashes(k string) bool {
	proto, addr, ok := strings.Cut(k, " ")
	if !ok || proto != p.Proto {
		return false
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port != strconv.Itoa(int(p.HostPort)) {
		return false
	}
	mine := p.HostIP == nil || p.HostIP.IsUnspecified()
	return mine || host == "0.0.0.0" || host == p.HostIP.String()
}

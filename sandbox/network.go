package sandbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nookrun/nook/namespaces"
	"github.com/nookrun/nook/netns"
	"github.com/nookrun/nook/network"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// NetMode is how a sandbox is networked.
type NetMode string

// The network modes of --net.
const (
	// NetNone: a namespace of its own with loopback only (the default).
	NetNone NetMode = "none"
	// NetHost: the host's namespace (as --share net).
	NetHost NetMode = "host"
	// NetNamespace: a named namespace (`nook netns add`, `ip netns add`).
	NetNamespace NetMode = "ns"
	// NetBridge: a namespace of its own on a host bridge, with an
	// address, a default route, masquerade and published ports.
	NetBridge NetMode = "bridge"
	// NetPasta: a namespace of its own connected by pasta(1), without
	// privileges.
	NetPasta NetMode = "pasta"
)

// Net is a sandbox's network.
type Net struct {
	// Mode is NetNone when empty.
	Mode NetMode
	// Name is the namespace's name (NetNamespace) or the bridge's
	// (NetBridge; network.DefaultBridge when empty).
	Name string
	// IP is the sandbox's address on the bridge; nil for a free one.
	IP net.IP
	// Publish are ports published on the host (NetBridge, NetPasta).
	Publish []network.Port
	// DNS are the name servers of the sandbox's /etc/resolv.conf; by
	// default the host's, less those on loopback, which the sandbox
	// cannot reach.
	DNS []net.IP
	// AddHosts are added to the sandbox's /etc/hosts.
	AddHosts []HostEntry
}

// HostEntry is a line of /etc/hosts.
type HostEntry struct {
	Name string
	IP   net.IP
}

// ParseNet reads none, host, ns:NAME, bridge[:NAME] or pasta, as `nook
// run --net` takes it. Its errors quote the text, and name no flag.
func ParseNet(s string) (Net, error) {
	mode, name, hasName := strings.Cut(s, ":")
	n := Net{Mode: NetMode(mode), Name: name}
	switch n.Mode {
	case NetNone, NetHost, NetPasta:
		if hasName {
			return n, fmt.Errorf("%q: %s takes no name", s, mode)
		}
	case NetNamespace:
		if err := netns.ValidName(name); err != nil {
			return n, fmt.Errorf("%q: %w", s, err)
		}
	case NetBridge:
		if hasName {
			if err := network.CheckLinkName(name); err != nil {
				return n, fmt.Errorf("%q: bridge name: %w", s, err)
			}
		}
	default:
		return n, fmt.Errorf("%q: want none, host, ns:NAME, bridge[:NAME] or pasta", s)
	}
	return n, nil
}

// ParseHostEntry reads NAME:IP, as `nook run --add-host` takes it.
func ParseHostEntry(s string) (HostEntry, error) {
	name, addr, ok := strings.Cut(s, ":")
	ip := net.ParseIP(addr)
	if !ok || name == "" || ip == nil || strings.ContainsAny(name, " \t\n#") {
		return HostEntry{}, fmt.Errorf("%q: want NAME:IP", s)
	}
	return HostEntry{Name: name, IP: ip}, nil
}

func (n *Net) mode() NetMode {
	if n.Mode == "" {
		return NetNone
	}
	return n.Mode
}

// check is the part of Spec about the network: it says which namespace
// the sandbox gets.
func (c *Config) checkNet() error {
	n := &c.Net
	m := n.mode()
	if slices.Contains(c.Share, namespaces.Network) && m != NetNone && m != NetHost {
		return fieldErr("Net", "%s: not with net in Config.Share: choose one", m)
	}
	if n.IP != nil && m != NetBridge {
		return fieldErr("Net.IP", "needs Config.Net.Mode bridge")
	}
	if len(n.Publish) > 0 && m != NetBridge && m != NetPasta {
		return fieldErr("Net.Publish", "needs Config.Net.Mode bridge or pasta")
	}
	if (m == NetBridge || m == NetNamespace) && slices.Contains(c.Unshare, namespaces.User) && !Rootless() {
		// the sandbox's first process is cloned into its user namespace,
		// where it holds no capability over the host's namespaces
		return fieldErr("Net", "%s: a sandbox with a user namespace of its own (user in Config.Unshare) cannot join a network namespace the host made", m)
	}
	switch m {
	case NetBridge:
		if Rootless() {
			return fieldErr("Net", "bridge: needs root; an unprivileged user can use pasta")
		}
	case NetPasta:
		if os.Geteuid() == 0 {
			return fieldErr("Net", "pasta: is for unprivileged users; as root use bridge")
		}
	case NetNamespace:
		if Rootless() {
			return fieldErr("Net", "ns:%s: needs root", n.Name)
		}
		path, _ := netns.Path(n.Name)
		if _, err := os.Stat(path); err != nil {
			return fieldErr("Net", "ns:%s: %w (make it with 'nook netns add %s')", n.Name, netns.ErrNotExist, n.Name)
		}
	}
	return nil
}

// netNamespace is the sandbox's net namespace entry, or nil for the
// host's.
func (c *Config) netNamespace() *specs.LinuxNamespace {
	switch c.Net.mode() {
	case NetHost:
		return nil
	case NetNamespace:
		path, _ := netns.Path(c.Net.Name)
		return &specs.LinuxNamespace{Type: namespaces.Network, Path: path}
	}
	if slices.Contains(c.Share, namespaces.Network) {
		return nil
	}
	return &specs.LinuxNamespace{Type: namespaces.Network}
}

// Network is what a sandbox's network holds on the host while the
// sandbox runs: its place on a bridge, its generated /etc files, its
// pasta. Close it after the sandbox is gone.
type Network struct {
	// Attachment is the sandbox's place on its bridge, or nil.
	Attachment *network.Attachment
	files      []string
	pasta      *pasta
}

// Network makes what the sandbox's network needs and points s (built by
// Spec) at it: the bridge attachment's namespace, and /etc/resolv.conf
// and /etc/hosts, generated. The namespace is a descriptor of nook's,
// which the sandbox joins through /proc/PID/fd: no mount, nothing to
// leave behind. The generated files live in EtcDir only while the sandbox
// starts. On error nothing is left.
func (c *Config) Network(s *specs.Spec) (_ *Network, err error) {
	nw := &Network{}
	defer func() {
		if err != nil {
			nw.Close()
		}
	}()
	n := &c.Net
	var resolv, hosts []byte
	switch n.mode() {
	case NetBridge:
		a, err := network.Attach(network.AttachOptions{Bridge: n.Name, IP: n.IP, Publish: n.Publish})
		if err != nil {
			return nil, fmt.Errorf("bridge network: %w", err)
		}
		nw.Attachment = a
		for i := range s.Linux.Namespaces {
			if s.Linux.Namespaces[i].Type == namespaces.Network {
				s.Linux.Namespaces[i].Path = a.Path()
			}
		}
		resolv = ResolvConf(n.DNS)
		hosts = Hosts(s.Hostname, a.IP, n.AddHosts, false)
	case NetPasta:
		if err := checkPasta(); err != nil {
			return nil, err
		}
		resolv = ResolvConf(n.DNS)
		hosts = Hosts(s.Hostname, nil, n.AddHosts, true)
		nw.pasta = &pasta{ports: n.Publish}
	default:
		if len(n.DNS) > 0 {
			resolv = ResolvConf(n.DNS)
		}
		if len(n.AddHosts) > 0 {
			hosts = Hosts(s.Hostname, nil, n.AddHosts, true)
		}
	}
	for _, f := range []struct {
		dest string
		data []byte
	}{{"/etc/resolv.conf", resolv}, {"/etc/hosts", hosts}} {
		if f.data == nil {
			continue
		}
		m, err := nw.etcFile(f.dest, f.data)
		if err != nil {
			return nil, err
		}
		s.Mounts = append(s.Mounts, m)
	}
	return nw, nil
}

// EtcDir holds the /etc files nook generates for sandboxes, each there
// only while its sandbox starts; an unprivileged nook uses the temporary
// directory (os.TempDir) instead.
const EtcDir = "/run/nook/etc"

func etcDir() string {
	if Rootless() {
		return os.TempDir()
	}
	return EtcDir
}

// etcFile writes data to a file of EtcDir, to be bound on dest. The file
// is gone once the sandbox runs (Started), and the janitor removes it if
// nook dies first (Options).
func (nw *Network) etcFile(dest string, data []byte) (specs.Mount, error) {
	dir := etcDir()
	var f *os.File
	// another nook's Started may remove the empty directory between the
	// MkdirAll and the CreateTemp: make it again
	for try := 0; ; try++ {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return specs.Mount{}, fmt.Errorf("generated %s: %w", dest, err)
		}
		var err error
		f, err = os.CreateTemp(dir, "nook-"+filepath.Base(dest)+"-")
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) || try == 3 {
			return specs.Mount{}, fmt.Errorf("generated %s: %w", dest, err)
		}
	}
	nw.files = append(nw.files, f.Name())
	_, err := f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err != nil {
		return specs.Mount{}, fmt.Errorf("generated %s: %w", dest, err)
	}
	return specs.Mount{Destination: dest, Type: "bind", Source: f.Name(), Options: []string{"bind", "ro", "nosuid", "nodev", "noexec"}}, nil
}

// Started is called once the sandbox's command runs: its mounts are made,
// so the generated files can go.
func (nw *Network) Started() {
	if nw == nil {
		return
	}
	for _, f := range nw.files {
		os.Remove(f)
	}
	if len(nw.files) > 0 && etcDir() == EtcDir {
		// the last sandbox to start leaves no empty directory behind;
		// one that still holds another's files stays (ENOTEMPTY)
		os.Remove(EtcDir)
	}
	nw.files = nil
}

// Close removes what the network holds on the host. It is idempotent.
func (nw *Network) Close() error {
	if nw == nil {
		return nil
	}
	nw.Started()
	var err error
	if nw.pasta != nil {
		err = nw.pasta.close()
		nw.pasta = nil
	}
	if nw.Attachment != nil {
		err = errors.Join(err, nw.Attachment.Close())
		nw.Attachment = nil
	}
	return err
}

// ResolvConf is a resolv.conf naming dns, or, when dns is empty, the
// host's name servers that a sandbox can reach (not those on loopback).
func ResolvConf(dns []net.IP) []byte {
	var b bytes.Buffer
	b.WriteString("# made by nook\n")
	if len(dns) > 0 {
		for _, ip := range dns {
			fmt.Fprintf(&b, "nameserver %s\n", ip)
		}
		return b.Bytes()
	}
	host, _ := os.ReadFile("/etc/resolv.conf")
	sc := bufio.NewScanner(bytes.NewReader(host))
	for sc.Scan() {
		line := sc.Text()
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "nameserver" {
			if ip := net.ParseIP(f[1]); ip == nil || ip.IsLoopback() {
				continue
			}
		}
		b.WriteString(line + "\n")
	}
	return b.Bytes()
}

// Hosts is an /etc/hosts: localhost, the sandbox's own name on ip (when
// not nil), and extra; with fromHost, the host's own file comes first.
func Hosts(hostname string, ip net.IP, extra []HostEntry, fromHost bool) []byte {
	var b bytes.Buffer
	if fromHost {
		host, _ := os.ReadFile("/etc/hosts")
		b.Write(host)
		if len(host) > 0 && host[len(host)-1] != '\n' {
			b.WriteByte('\n')
		}
	} else {
		b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	}
	if ip != nil && hostname != "" {
		fmt.Fprintf(&b, "%s\t%s\n", ip, hostname)
	}
	for _, e := range extra {
		fmt.Fprintf(&b, "%s\t%s\n", e.IP, e.Name)
	}
	return b.Bytes()
}

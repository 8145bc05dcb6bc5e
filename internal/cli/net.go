package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"text/tabwriter"

	"github.com/nookrun/nook/netns"
	"github.com/nookrun/nook/network"
	"github.com/nookrun/nook/sandbox"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// netOptions are the network flags of `nook run`.
type netOptions struct {
	mode, ip string
	dns      []string
	addHosts []string
	publish  []string
}

func (o *netOptions) flags(f *pflag.FlagSet) {
	f.StringVar(&o.mode, "net", "none", "network `MODE`: none (loopback only), host, ns:NAME (a named namespace), bridge[:BRIDGE] (default nook0: an address, NAT, -p), pasta (unprivileged)")
	f.StringVar(&o.ip, "ip", "", "the sandbox's `ADDRESS` on its bridge (default: a free one)")
	stringSliceVar(f, &o.dns, "dns", "", "name server `IP` for /etc/resolv.conf (repeatable; default: the host's that a sandbox can reach)")
	stringArrayVar(f, &o.addHosts, "add-host", "", "add `NAME:IP` to /etc/hosts (repeatable)")
	stringArrayVar(f, &o.publish, "publish", "p", "publish a port, `[HOSTIP:]HOSTPORT:PORT[/tcp|/udp]` (repeatable; --net bridge or pasta)")
}

// apply puts the network into c. Errors name the flag.
func (o *netOptions) apply(c *sandbox.Config) error {
	n, err := sandbox.ParseNet(o.mode)
	if err != nil {
		return fmt.Errorf("--net %w", err)
	}
	if o.ip != "" {
		if n.IP = net.ParseIP(o.ip); n.IP == nil || n.IP.To4() == nil {
			return fmt.Errorf("--ip %q: not an IPv4 address", o.ip)
		}
	}
	for _, d := range o.dns {
		ip := net.ParseIP(d)
		if ip == nil {
			return fmt.Errorf("--dns %q: not an IP address", d)
		}
		n.DNS = append(n.DNS, ip)
	}
	for _, h := range o.addHosts {
		e, err := sandbox.ParseHostEntry(h)
		if err != nil {
			return fmt.Errorf("--add-host %w", err)
		}
		n.AddHosts = append(n.AddHosts, e)
	}
	for _, p := range o.publish {
		x, err := network.ParsePort(p)
		if err != nil {
			return fmt.Errorf("--%w", err)
		}
		n.Publish = append(n.Publish, x)
	}
	c.Net = n
	return nil
}

func newNetCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "net",
		Short: "Connect network namespaces: veth pairs, bridges",
		Long: `Connect network namespaces with veth pairs, show what a namespace holds,
and manage the bridges of "nook run --net bridge". A namespace is "host",
a name of "nook netns" or "ip netns", or a path such as /proc/PID/ns/net.
Everything is done through netlink from inside nook.`,
	}
	cmd.AddCommand(newNetConnectCmd(), newNetDisconnectCmd(), newNetShowCmd(), newNetBridgeCmd(), newNetResetCmd())
	return cmd
}

func newNetConnectCmd() *cobra.Command {
	var addrs, names []string
	var mtu int
	var create bool
	cmd := &cobra.Command{
		Use:   "connect NS1 NS2",
		Short: "Make a veth pair between two namespaces",
		Long: `Make a veth pair with one end in NS1 and the other in NS2 (either may be
"host"), give the ends their addresses, and bring them and both
loopbacks up. The ends are named after the other namespace ("v-NS2" in
NS1) unless --names says otherwise.`,
		Example: `  nook netns add red; nook netns add blue
  nook net connect red blue --addr 10.0.0.1/24,10.0.0.2/24
  nook netns exec red -- ping -c1 10.0.0.2
  nook net connect host web --addr 10.9.0.1/30,10.9.0.2/30 --create`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, b := network.End{Namespace: args[0]}, network.End{Namespace: args[1]}
			switch len(addrs) {
			case 0:
			case 2:
				a.Addr, b.Addr = addrs[0], addrs[1]
			default:
				return usageError{errors.New("--addr: want two addresses, ADDR1,ADDR2 (CIDR)")}
			}
			switch len(names) {
			case 0:
			case 2:
				a.Name, b.Name = names[0], names[1]
			default:
				return usageError{errors.New("--names: want two interface names, IF1,IF2")}
			}
			var made []string
			undo := func() {
				for _, ns := range made {
					netns.Delete(ns)
				}
			}
			if create {
				for _, ns := range args {
					if ns == network.Host || strings.Contains(ns, "/") {
						continue
					}
					err := netns.Add(ns)
					if err == nil {
						made = append(made, ns)
					} else if !errors.Is(err, netns.ErrExist) {
						undo()
						return err
					}
				}
			}
			if err := network.Connect(a, b, network.ConnectOptions{MTU: mtu}); err != nil {
				undo() // what --create made for nothing
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	stringSliceVar(f, &addrs, "addr", "", "addresses of the two ends, `ADDR1,ADDR2` in CIDR form")
	stringSliceVar(f, &names, "names", "", "names of the two ends, `IF1,IF2`")
	f.IntVar(&mtu, "mtu", 0, "`MTU` of both ends")
	f.BoolVar(&create, "create", false, "make named namespaces that do not exist yet")
	return cmd
}

func newNetDisconnectCmd() *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "disconnect NS1 NS2",
		Short: "Delete the veth pair between two namespaces",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return network.Disconnect(network.End{Namespace: args[0], Name: name}, network.End{Namespace: args[1]})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the pair's end in NS1, `IF` (default \"v-NS2\")")
	return cmd
}

func newNetShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show [NS]",
		Short: "List a namespace's links, addresses and routes",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns := network.Host
			if len(args) == 1 {
				ns = args[0]
			}
			info, err := network.Show(ns)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), info)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 8, 2, ' ', 0)
			for _, l := range info.Links {
				state := "DOWN"
				if l.Up {
					state = "UP"
				}
				name := l.Name
				if l.Master != "" {
					name += " (in " + l.Master + ")"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\tmtu %d\t%s\n", name, l.Type, state, l.MTU, strings.Join(l.Addrs, " "))
			}
			w.Flush()
			for _, r := range info.Routes {
				line := r.Dst
				if r.Gateway != "" {
					line += " via " + r.Gateway
				}
				if r.Dev != "" {
					line += " dev " + r.Dev
				}
				if r.Src != "" {
					line += " src " + r.Src
				}
				fmt.Fprintln(cmd.OutOrStdout(), line)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newNetBridgeCmd() *cobra.Command {
	var subnet string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "bridge [NAME]",
		Short: "Make a bridge for --net bridge, or list nook's bridges",
		Long: `With NAME, make the bridge NAME (with --subnet, or the first free one of
10.123.0.0/20, 10.123.16.0/20, ...: one that overlaps no route of the
host), with masquerade for its subnet, unless it exists; then print it.
Without NAME, list the bridges nook made. "nook run --net bridge:NAME"
makes its bridge the same way.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var bridges []*network.Bridge
			if len(args) == 1 {
				b, err := network.EnsureBridge(args[0], subnet)
				if err != nil {
					return err
				}
				bridges = append(bridges, b)
			} else {
				if subnet != "" {
					return usageError{errors.New("--subnet: needs a bridge NAME")}
				}
				var err error
				if bridges, err = network.Bridges(); err != nil {
					return err
				}
			}
			if asJSON {
				if bridges == nil {
					bridges = []*network.Bridge{}
				}
				return writeJSON(cmd.OutOrStdout(), bridges)
			}
			for _, b := range bridges {
				fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\tgateway %s\n", b.Name, b.Subnet, b.Gateway)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&subnet, "subnet", "", "the bridge's `CIDR` (IPv4, /30 at most)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newNetResetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "reset [BRIDGE]",
		Short: "Remove nook's bridges and nftables table",
		Long: `Remove BRIDGE, or every bridge nook made, and its masquerade rules;
with none left, nook's nftables table goes too. A bridge that a running
sandbox is attached to stays, with an error. What each sandbox adds (its
veth, address, port rules) goes with the sandbox by itself.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			return network.Reset(name)
		},
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// exactArgs is cobra.ExactArgs as a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("%s: want %d arguments, got %d (see '%s --help')", cmd.Name(), n, len(args), cmd.CommandPath())}
		}
		return nil
	}
}

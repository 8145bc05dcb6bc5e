// Package network connects network namespaces: veth pairs between any
// two (Connect), what a namespace holds (Show), host bridges with
// masquerade (EnsureBridge, Reset), and a sandbox's place on a bridge
// with its address, default route and published ports (Attach).
//
// Everything goes through netlink from inside nook (vishvananda/netlink
// for links, addresses and routes; google/nftables for the firewall):
// no ip(8), iptables or nft subprocess. A namespace is acted in through a
// netlink socket made inside it on a thread that is then thrown away
// (package netns), never by moving a thread there and back.
//
// # Nothing to leak
//
// The rule is that a sandbox that exits, crashes, or whose nook is killed
// (SIGKILL included) leaves nothing on the host. Rather than record what
// it made and clean up after a crash, a sandbox's network is built so
// that the kernel takes every piece of it back by itself:
//
//   - Its network namespace is held by a descriptor of nook's, which the
//     sandbox joins through /proc/PID/fd/N (Attachment.Path): no bind
//     mount, nothing to unmount. When the sandbox's processes and nook's
//     descriptor are gone, the kernel frees the namespace.
//   - Its veth pair dies with the namespace: deleting a namespace deletes
//     the links in it, and a veth's two ends go together.
//   - Its address lease is the name of the host's end of that veth,
//     "nk" and the address in hex (LeaseLink). Taking an address is
//     making the link: the kernel refuses a second link of that name
//     (EEXIST), so two nooks racing for an address cannot both get it, and
//     no lock is needed. The lease ends when the link does. There is no
//     lease file, so no lease file to leak, lock or collect.
//   - Its published ports are rules in an nftables table of its own,
//     "nook-" and its ID, made with NFT_TABLE_F_OWNER (kernel 5.12): the
//     table belongs to one netlink socket of nook's, and the kernel
//     deletes it when that socket closes, on Close or when nook dies.
//     Other processes can list it, not change it.
//
// So the janitor (package internal/spawn) needs no network step, and no
// garbage collection runs on the next start. The alternatives were lease
// files locked with flock and collected by every later run (a dead
// sandbox's rules and leases stay until then), or the janitor executing
// nook again after the sandbox (a process start on every exit). What is
// shared stays until Reset: the bridges and nook's own table (family ip,
// Table), which holds one set of masquerade rules per bridge.
//
// Close does not delete the veth: unregistering a link waits for RCU
// grace periods (31 ms a sandbox on a busy 2-core host), which the
// kernel's namespace cleanup spends in the background instead. An
// address is therefore free a moment after its sandbox ends; Attach waits
// up to LeaseWait for one before calling it taken.
//
// # NAT and published ports
//
// Each bridge gets, in nook's table: masquerade of its subnet's traffic
// leaving through another interface; masquerade of translated traffic
// that goes back into the bridge (hairpin: a sandbox reaching a published
// port, its own or another's, through a host address); and masquerade of
// traffic from 127.0.0.0/8 into the bridge, with route_localnet on the
// bridge, so that 127.0.0.1:PORT works from the host. Bridge ports are in
// hairpin mode, because where br_netfilter is loaded a translated frame is
// bridged straight back out of the port it came in on. A published port
// is two DNAT rules in the sandbox's table, in prerouting (other
// namespaces, hairpin) and output (the host itself), matching any local
// address of the host ("fib daddr type local") or the given one.
// Forwarding (net.ipv4.ip_forward) is turned on when a bridge is used.
//
// A bridge's subnet is given, or the first of DefaultSubnets that overlaps
// no route or address of the host. Making a bridge and publishing ports
// take LockDir, so that two nooks do not choose the same subnet or port.
package network

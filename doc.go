// Package nook is a Linux process-isolation library and tool: it puts
// processes into namespaces, safely and fast.
//
// This package holds documentation only. The packages:
//
//   - sandbox: run a command isolated, as `nook run` does.
//   - container: run an OCI runtime spec; the one start path of nook.
//   - spec: read OCI bundles.
//   - namespaces: namespace types, ID maps, time offsets.
//   - netns: named network namespaces, as `ip netns` makes them.
//   - network: veth pairs, bridges with NAT, published ports.
//   - cgroups: cgroup limits and accounting on v1, hybrid and v2 hosts.
//   - caps, seccomp: capability sets and seccomp filters.
//   - verdict: the judgement of a finished run, for judges and CI.
//
// The command line lives in cmd/nook and internal/cli and only turns flags
// into calls of these packages. ARCHITECTURE.md maps the packages, which
// may import which (TestImportRules checks it), and the path of
// `nook run -- CMD` from flags to exec.
package nook

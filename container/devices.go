package container

import (
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// StandardDevices are the device cgroup rules every container gets after
// its spec's own: /dev/null, zero, full, random, urandom, tty, ptmx and
// the pty instances, read, write and mknod. runc and crun add the same
// rules to every container whose spec restricts devices, and engines rely
// on it: containerd's and podman's specs deny every device and list none
// of these, and a container whose /dev/null cannot be opened breaks most
// programs. runc also allows mknod of any node ("c *:* m", "b *:* m");
// nook does not: a node that no rule lets anyone open is of no use.
func StandardDevices() []specs.LinuxDeviceCgroup {
	dev := func(major, minor int64) specs.LinuxDeviceCgroup {
		r := specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: &major, Access: "rwm"}
		if minor >= 0 {
			r.Minor = &minor
		}
		return r
	}
	return []specs.LinuxDeviceCgroup{
		dev(1, 3), dev(1, 5), dev(1, 7), dev(1, 8), dev(1, 9), // null zero full random urandom
		dev(5, 0), dev(5, 2), dev(136, -1), // tty, ptmx, pts
	}
}

// withStandardDevices returns r with StandardDevices after its device
// rules: a copy, where it has rules (without any, the cgroup restricts no
// device and r is returned as it is).
func withStandardDevices(r *specs.LinuxResources) *specs.LinuxResources {
	if r == nil || len(r.Devices) == 0 {
		return r
	}
	cp := *r
	cp.Devices = append(slices.Clone(r.Devices), StandardDevices()...)
	return &cp
}

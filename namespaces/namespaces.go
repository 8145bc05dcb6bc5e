package namespaces

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Type is a namespace type, named as the OCI runtime spec names it.
type Type = specs.LinuxNamespaceType

// The eight namespace types.
const (
	PID     = specs.PIDNamespace
	Network = specs.NetworkNamespace
	Mount   = specs.MountNamespace
	IPC     = specs.IPCNamespace
	UTS     = specs.UTSNamespace
	User    = specs.UserNamespace
	Cgroup  = specs.CgroupNamespace
	Time    = specs.TimeNamespace
)

// All lists every type in the order nook creates them.
var all = [...]Type{User, PID, Mount, UTS, IPC, Network, Cgroup, Time}

// All returns every namespace type.
func All() []Type { return append([]Type(nil), all[:]...) }

// Default returns the types `nook run` unshares unless told otherwise.
func Default() []Type { return []Type{PID, Mount, UTS, IPC, Network, Cgroup} }

// nsInfo is what nook knows of one namespace type.
type nsInfo struct {
	t     Type
	flag  uintptr
	proc  string // name under /proc/PID/ns
	short []string
}

// info is a table, not a map: a map literal is built by code at package
// initialisation, in every nook command, where a table of constants is
// data in the binary, read only by the commands that look a type up.
var info = [...]nsInfo{
	{PID, unix.CLONE_NEWPID, "pid", []string{"pid"}},
	{Network, unix.CLONE_NEWNET, "net", []string{"net", "network"}},
	{Mount, unix.CLONE_NEWNS, "mnt", []string{"mnt", "mount"}},
	{IPC, unix.CLONE_NEWIPC, "ipc", []string{"ipc"}},
	{UTS, unix.CLONE_NEWUTS, "uts", []string{"uts"}},
	{User, unix.CLONE_NEWUSER, "user", []string{"user"}},
	{Cgroup, unix.CLONE_NEWCGROUP, "cgroup", []string{"cgroup"}},
	{Time, unix.CLONE_NEWTIME, "time", []string{"time"}},
}

// infoOf returns t's entry in info; an unknown type's is the zero nsInfo.
func infoOf(t Type) nsInfo {
	for _, in := range info {
		if in.t == t {
			return in
		}
	}
	return nsInfo{}
}

// CloneFlag returns t's CLONE_NEW* flag, or 0 for an unknown type.
func CloneFlag(t Type) uintptr { return infoOf(t).flag }

// ProcName returns t's file name under /proc/PID/ns ("net" for network).
func ProcName(t Type) string { return infoOf(t).proc }

// Parse reads one type by its OCI name or its /proc name ("net", "mnt").
func Parse(s string) (Type, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, in := range info {
		for _, n := range in.short {
			if s == n {
				return in.t, nil
			}
		}
	}
	return "", fmt.Errorf("unknown namespace %q (want one of pid, net, mnt, ipc, uts, user, cgroup, time)", s)
}

// ParseList reads a comma-separated list of types.
func ParseList(s string) ([]Type, error) {
	var out []Type
	for _, f := range strings.Split(s, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		t, err := Parse(f)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// ParseIDMap reads a CONTAINER:HOST:SIZE mapping, as --uid-map takes it.
func ParseIDMap(s string) (specs.LinuxIDMapping, error) {
	f := strings.Split(s, ":")
	if len(f) != 3 {
		return specs.LinuxIDMapping{}, fmt.Errorf("id map %q: want CONTAINER:HOST:SIZE", s)
	}
	var v [3]uint32
	for i, x := range f {
		n, err := strconv.ParseUint(x, 10, 32)
		if err != nil {
			return specs.LinuxIDMapping{}, fmt.Errorf("id map %q: %q is not a number", s, x)
		}
		v[i] = uint32(n)
	}
	if v[2] == 0 {
		return specs.LinuxIDMapping{}, fmt.Errorf("id map %q: size must be at least 1", s)
	}
	return specs.LinuxIDMapping{ContainerID: v[0], HostID: v[1], Size: v[2]}, nil
}

// FormatIDMaps writes maps in the form /proc/PID/uid_map takes.
func FormatIDMaps(m []specs.LinuxIDMapping) string {
	var b strings.Builder
	for _, x := range m {
		fmt.Fprintf(&b, "%d %d %d\n", x.ContainerID, x.HostID, x.Size)
	}
	return b.String()
}

// ParseTimeOffsets reads "monotonic=SECONDS,boottime=SECONDS" (seconds may
// be negative and have a fraction).
func ParseTimeOffsets(s string) (map[string]specs.LinuxTimeOffset, error) {
	out := map[string]specs.LinuxTimeOffset{}
	for _, f := range strings.Split(s, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		k, v, ok := strings.Cut(f, "=")
		k = strings.TrimSpace(k)
		if !ok || (k != "monotonic" && k != "boottime") {
			return nil, fmt.Errorf("time offset %q: want monotonic=SECONDS or boottime=SECONDS", f)
		}
		secs, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return nil, fmt.Errorf("time offset %q: %q is not a number of seconds", f, v)
		}
		whole := int64(secs)
		frac := int64((secs - float64(whole)) * 1e9)
		if frac < 0 {
			whole--
			frac += 1e9
		}
		out[k] = specs.LinuxTimeOffset{Secs: whole, Nanosecs: uint32(frac)}
	}
	return out, nil
}

// Inode returns the inode number of pid's namespace of type t; two
// processes share a namespace exactly when the numbers match.
func Inode(pid int, t Type) (uint64, error) {
	p := "/proc/" + pidStr(pid) + "/ns/" + ProcName(t)
	fi, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	return fi.Sys().(*syscall.Stat_t).Ino, nil
}

func pidStr(pid int) string {
	if pid <= 0 {
		return "self"
	}
	return strconv.Itoa(pid)
}

package container

import (
	"slices"
	"strings"
	"syscall"

	"github.com/nookrun/nook/internal/spawn"
	"github.com/nookrun/nook/namespaces"
	"github.com/nookrun/nook/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ipcSysctls are the kernel.* sysctls that belong to an ipc namespace
// (fs.mqueue.* do too).
var ipcSysctls = []string{"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
	"kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"}

// compileSysctls adds a write to /proc/sys for each of linux.sysctl
// (Kubernetes passes a pod's securityContext.sysctls this way), in key
// order. The child writes them after it is in its namespaces and before
// the new root is built, through the host's /proc, whose sys entries show
// the writer's own namespaces. Only sysctls of a namespace the container
// has apart from the host are allowed, as runc allows them: those of its
// ipc namespace, of its network namespace (not the host's, when joined by
// path), and its host and domain names with a uts namespace. Any other
// would change the host for everyone, and is an error.
func compileSysctls(st *spawn.Plan, sysctl map[string]string, newNS map[namespaces.Type]bool, join []specs.LinuxNamespace) error {
	keys := make([]string, 0, len(sysctl))
	for k := range sysctl {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	has := func(t namespaces.Type) bool { return newNS[t] || joins(join, t) }
	for _, key := range keys {
		path, err := sysctlPath(key)
		if err != nil {
			return err
		}
		var need namespaces.Type
		switch {
		case slices.Contains(ipcSysctls, key) || strings.HasPrefix(key, "fs.mqueue."):
			need = namespaces.IPC
		case strings.HasPrefix(key, "net."):
			need = namespaces.Network
		case key == "kernel.hostname" || key == "kernel.domainname":
			need = namespaces.UTS
		default:
			return spec.FieldErrorf("linux.sysctl", "%s: not a sysctl of a namespace: it would change the host", key)
		}
		if !has(need) {
			return spec.FieldErrorf("linux.sysctl", "%s: needs its own %s namespace", key, need)
		}
		if need == namespaces.Network && !newNS[need] {
			for _, ns := range join {
				if ns.Type == namespaces.Network && sameFile(ns.Path, "/proc/self/ns/net") {
					return spec.FieldErrorf("linux.sysctl", "%s: the network namespace joined (%s) is the host's", key, ns.Path)
				}
			}
		}
		st.Write(path, sysctl[key])
	}
	return nil
}

// sysctlPath is the /proc/sys file of a sysctl named as sysctl(8) names
// it: dots separate the levels, and a slash stands for a dot within one
// (net.ipv4.conf.eth0/100.forwarding is eth0.100's).
func sysctlPath(key string) (string, error) {
	parts := strings.Split(key, ".")
	for i, p := range parts {
		p = strings.ReplaceAll(p, "/", ".")
		if p == "" || p == "." || p == ".." {
			return "", spec.FieldErrorf("linux.sysctl", "%q: not a sysctl name", key)
		}
		parts[i] = p
	}
	return "/proc/sys/" + strings.Join(parts, "/"), nil
}

// sameFile reports whether a and b are the same file (a namespace).
func sameFile(a, b string) bool {
	var sa, sb syscall.Stat_t
	if syscall.Stat(a, &sa) != nil || syscall.Stat(b, &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

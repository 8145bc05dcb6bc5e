package container

import (
	"fmt"
	"os/exec"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// newIDMap writes maps through newuidmap(1)/newgidmap(1), the setuid
// helpers that let an unprivileged user map the ranges /etc/subuid and
// /etc/subgid give it.
func newIDMap(pid int, kind string, m []specs.LinuxIDMapping) error {
	args := []string{strconv.Itoa(pid)}
	for _, x := range m {
		args = append(args, strconv.FormatUint(uint64(x.ContainerID), 10),
			strconv.FormatUint(uint64(x.HostID), 10), strconv.FormatUint(uint64(x.Size), 10))
	}
	out, err := exec.Command("new"+kind+"map", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("new%smap: %v: %s", kind, err, out)
	}
	return nil
}

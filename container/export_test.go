package container

import (
	"fmt"
	"strings"

	"github.com/nookrun/nook/namespaces"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// PlanListing compiles spec as New does and lists what the start path
// would do: the namespaces clone3 creates, whether the child shares nook's
// memory, and each step of the child's plan.
func PlanListing(spec *specs.Spec, opts *Options) (string, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if err := Validate(spec); err != nil {
		return "", err
	}
	p, err := compile("", spec, &o)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	var clone []string
	for _, t := range []namespaces.Type{namespaces.Mount, namespaces.UTS, namespaces.IPC, namespaces.User,
		namespaces.PID, namespaces.Network, namespaces.Cgroup, namespaces.Time} {
		if p.cloneFlags&uint64(namespaces.CloneFlag(t)) != 0 {
			clone = append(clone, string(t))
		}
	}
	fmt.Fprintf(&b, "clone3: %s\n", strings.Join(clone, ","))
	if p.pidNS != "" {
		fmt.Fprintf(&b, "cloned into pid namespace %s\n", p.pidNS)
	}
	fmt.Fprintf(&b, "parent writes id maps: %v; child shares nook's memory: %v; tty: %v\n", p.newUser, p.shareMemory, p.tty)
	b.WriteString(p.steps.String())
	return b.String(), nil
}

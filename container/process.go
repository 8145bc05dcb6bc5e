package container

import (
	"fmt"

	"github.com/nookrun/nook/internal/spawn"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// compileProcess adds the steps that make the child the spec's process:
// rlimits, its user and capabilities, no_new_privs and seccomp, its
// environment and arguments. A joined process (nook exec) takes the same
// steps as a sandbox's first one.
func compileProcess(st *spawn.Plan, proc *specs.Process, filter []byte, filterFlags uint32, setGroups bool) error {
	for _, r := range proc.Rlimits {
		res, ok := rlimitByName(r.Type)
		if !ok {
			return fmt.Errorf("process.rlimits: unknown type %q", r.Type)
		}
		st.Add(spawn.OpRlimit, res, r.Soft, r.Hard, r.Type)
	}
	// With no_new_privs the filter goes in last, so it never sees nook's
	// own set-up calls; without it, loading a filter needs CAP_SYS_ADMIN,
	// so it goes in while the capabilities are still there.
	caps, err := capSets(proc.Capabilities)
	if err != nil {
		return err
	}
	if filter != nil && !proc.NoNewPrivileges {
		st.Add(spawn.OpSeccomp, filter, uint64(filterFlags))
	}
	groups := make([]uint32, 0, len(proc.User.AdditionalGids))
	groups = append(groups, proc.User.AdditionalGids...)
	st.Add(spawn.OpUser, uint64(proc.User.UID), uint64(proc.User.GID), groups,
		caps != nil, caps.get(0), caps.get(1), caps.get(2), caps.get(3), caps.get(4), setGroups, lastCap())
	if proc.NoNewPrivileges {
		st.Add(spawn.OpNoNewPrivs)
		if filter != nil {
			st.Add(spawn.OpSeccomp, filter, uint64(filterFlags))
		}
	}
	for _, e := range proc.Env {
		st.Add(spawn.OpEnv, e)
	}
	for _, a := range proc.Args {
		st.Add(spawn.OpArg, a)
	}
	return nil
}

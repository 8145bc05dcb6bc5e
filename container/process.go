package container

import (
	"fmt"

	"github.com/nookrun/nook/internal/spawn"
	"github.com/nookrun/nook/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// compileProcess adds the steps that make the child the spec's process:
// rlimits, its user and capabilities, no_new_privs and a compiled seccomp
// filter, its environment and arguments. A sandbox's first process (compile)
// and a process joining it (nook exec) take the same steps.
func compileProcess(st *spawn.Plan, proc *specs.Process, filter []byte, filterFlags uint32, setGroups bool, warnf func(format string, args ...any)) error {
	for _, r := range proc.Rlimits {
		res, ok := rlimitByName(r.Type)
		if !ok {
			return fmt.Errorf("process.rlimits: unknown type %q", r.Type)
		}
		st.Rlimit(spawn.Rlimit{Resource: uint32(res), Name: r.Type, Soft: r.Soft, Hard: r.Hard})
	}
	// the profile the command's exec enters; before no_new_privs, which
	// would narrow what it may enter, and before the user changes, as
	// runc's init does it
	if proc.ApparmorProfile != "" {
		path, err := apparmorExec()
		if err != nil {
			return spec.FieldErrorf("process.apparmorProfile", "%q: %w", proc.ApparmorProfile, err)
		}
		st.Write(path, "exec "+proc.ApparmorProfile)
	}
	// With no_new_privs the filter goes in last, so it never sees nook's
	// own set-up calls; without it, loading a filter needs CAP_SYS_ADMIN,
	// so it goes in while the capabilities are still there.
	caps, err := capSets(proc.Capabilities, warnf)
	if err != nil {
		return err
	}
	if filter != nil && !proc.NoNewPrivileges {
		st.Seccomp(filter, filterFlags)
	}
	st.User(spawn.User{
		UID:       proc.User.UID,
		GID:       proc.User.GID,
		Groups:    proc.User.AdditionalGids,
		SetGroups: setGroups,
		Caps:      caps,
	})
	if proc.NoNewPrivileges {
		st.NoNewPrivs()
		if filter != nil {
			st.Seccomp(filter, filterFlags)
		}
	}
	for _, e := range proc.Env {
		st.Env(e)
	}
	for _, a := range proc.Args {
		st.Arg(a)
	}
	return nil
}

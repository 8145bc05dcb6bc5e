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
	// the SELinux label the command's exec enters, at the same point
	// (runc sets it there too, before seccomp and the user change, so
	// that neither a filter nor a dropped capability can stop the
	// write). Without SELinux it is refused, as runc refuses it: the
	// command would run unlabelled, unconfined. Engines send none then
	// (containerd's CRI and podman ask go-selinux first).
	if proc.SelinuxLabel != "" {
		if !selinuxEnabled() {
			return spec.FieldErrorf("process.selinuxLabel", "%q: SELinux is not enabled on this host", proc.SelinuxLabel)
		}
		st.Write(selinuxExecAttr, proc.SelinuxLabel)
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

package container

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/nookrun/nook/internal/spawn"
	"github.com/nookrun/nook/spec"
	"github.com/nookrun/nook/state"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// compileHooks adds a step for each hook of the createContainer or
// startContainer phase: they run in the container's namespaces, so the
// child runs them (spawn.Hook), with the OCI state on stdin. The state's
// pid is the child's own, as it sees it, which only the child knows;
// the status is runc's: creating for createContainer, created for
// startContainer. prefix is where the host's "/" is in the child at that
// step, for createContainer's paths, which are the host's.
func compileHooks(st *spawn.Plan, phase string, hooks []specs.Hook, id string, s *specs.Spec, o *Options, prefix string, start bool) error {
	if len(hooks) == 0 {
		return nil
	}
	status := specs.StateCreating
	if start {
		status = specs.StateCreated
	}
	b, err := json.Marshal(specs.State{Version: specs.Version, ID: id, Status: status, Bundle: o.Bundle, Annotations: s.Annotations})
	if err != nil {
		return err
	}
	// the child closes it with the pid (no pid here: it is omitted)
	state := strings.TrimSuffix(string(b), "}")
	for i, h := range hooks {
		field := fmt.Sprintf("hooks.%s[%d]", phase, i)
		if !filepath.IsAbs(h.Path) {
			return spec.FieldErrorf(field+".path", "%q is not absolute", h.Path)
		}
		var timeout uint32
		if h.Timeout != nil {
			if *h.Timeout <= 0 {
				return spec.FieldErrorf(field+".timeout", "%d: want a positive number of seconds", *h.Timeout)
			}
			timeout = uint32(*h.Timeout)
		}
		st.Hook(spawn.Hook{Name: phase, Path: prefix + h.Path, Args: h.Args, Env: h.Env, State: state, Timeout: timeout, Start: start})
	}
	return nil
}

// runHooks runs each hook of a phase in order, on the host, with the
// container's OCI state on its stdin, as the runtime spec says; the first
// failure stops the phase and names the hook.
func runHooks(phase string, hooks []specs.Hook, st *state.State, status state.Status) error {
	if len(hooks) == 0 {
		return nil
	}
	s := specs.State{
		Version: specs.Version, ID: st.ID, Status: specs.ContainerState(status),
		Bundle: st.Bundle, Annotations: st.Annotations,
	}
	if status != state.Stopped {
		s.Pid = st.Init.Pid
	}
	in, err := json.Marshal(s)
	if err != nil {
		return err
	}
	for i, h := range hooks {
		ctx := context.Background()
		cancel := func() {}
		if h.Timeout != nil {
			if *h.Timeout <= 0 {
				return fmt.Errorf("hooks.%s[%d]: timeout %d: want a positive number of seconds", phase, i, *h.Timeout)
			}
			ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		}
		cmd := exec.CommandContext(ctx, h.Path)
		if len(h.Args) > 0 {
			cmd.Args = h.Args
		}
		cmd.Env = h.Env
		cmd.Stdin = bytes.NewReader(in)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		cancel()
		if err != nil {
			return fmt.Errorf("hooks.%s[%d] %s: %w: %s", phase, i, h.Path, err, bytes.TrimSpace(out.Bytes()))
		}
	}
	return nil
}

package container

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"time"

	"github.com/nookrun/nook/state"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// checkHooks refuses the hooks nook cannot run where the spec says they
// run: createContainer and startContainer run in the container's mount
// namespace, which nook does not enter for hooks.
func checkHooks(h *specs.Hooks) error {
	if h == nil {
		return nil
	}
	if len(h.CreateContainer) > 0 {
		return errors.New("hooks.createContainer: not supported (nook runs hooks on the host: createRuntime, prestart, poststart, poststop)")
	}
	if len(h.StartContainer) > 0 {
		return errors.New("hooks.startContainer: not supported (nook runs hooks on the host: createRuntime, prestart, poststart, poststop)")
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

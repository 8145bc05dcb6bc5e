package cli

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/nookrun/nook/container"
	"github.com/nookrun/nook/state"
	"github.com/spf13/cobra"
)

// rootFlag is the global flag that names the state directory, as runc's
// --root does.
const rootFlag = "root"

func addRootFlag(root *cobra.Command) {
	root.PersistentFlags().String(rootFlag, "", "`DIR` of sandbox states (default /run/nook as root, $XDG_RUNTIME_DIR/nook otherwise)")
}

// openStore opens the state directory --root names.
func openStore(cmd *cobra.Command) (*state.Store, error) {
	dir, _ := cmd.Flags().GetString(rootFlag)
	return state.Open(dir)
}

// loadSandbox reads a sandbox's state by ID or name.
func loadSandbox(cmd *cobra.Command, ref string) (*state.Store, *state.State, error) {
	s, err := openStore(cmd)
	if err != nil {
		return nil, nil, err
	}
	st, err := s.Load(ref)
	if err != nil {
		return nil, nil, notFound(err, ref)
	}
	return s, st, nil
}

// notFound words an unknown sandbox as runc does ("does not exist"), with
// a pointer to nook list.
func notFound(err error, ref string) error {
	if errors.Is(err, state.ErrNotExist) {
		return fmt.Errorf("sandbox %q does not exist (nook list shows the sandboxes)", ref)
	}
	return err
}

// targetPid turns a PID or a sandbox (ID or name) into a host PID: the
// sandbox's init, which must be running.
func targetPid(cmd *cobra.Command, ref string) (int, error) {
	if pid, err := strconv.Atoi(ref); err == nil {
		if pid <= 0 {
			return 0, usageError{fmt.Errorf("pid %d: want a positive number", pid)}
		}
		return pid, nil
	}
	s, err := openStore(cmd)
	if err != nil {
		return 0, err
	}
	in, err := container.LoadIn(s, ref)
	if err != nil {
		return 0, notFound(err, ref)
	}
	return in.NamespacePid()
}

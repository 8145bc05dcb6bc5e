package cli

import (
	"errors"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/nookrun/nook/container"
	"github.com/nookrun/nook/state"
	"github.com/spf13/cobra"
)

func newLogsCmd() *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs [-f] SANDBOX",
		Short: "Print a detached sandbox's output",
		Long: `Print what a detached sandbox wrote to its stdout and stderr, as kept
in its log: the log is rotated once it reaches --log-size (of nook run), so
at most twice that is kept. With -f, keep printing what it writes until it
stops.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openStore(cmd)
			if err != nil {
				return err
			}
			in, err := container.LoadIn(s, args[0])
			if err != nil {
				return notFound(err, args[0])
			}
			if in.State.Log == "" {
				return errors.New("sandbox " + args[0] + " has no log: it was not started with nook run -d")
			}
			return printLog(cmd.OutOrStdout(), in, follow)
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing output until the sandbox stops")
	return cmd
}

// printLog copies the rotated log and the current one, and with follow,
// what is appended until the sandbox stops (following a rotation).
func printLog(w io.Writer, in *container.Instance, follow bool) error {
	path := in.State.Log
	if old, err := os.Open(path + ".1"); err == nil {
		io.Copy(w, old)
		old.Close()
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	defer func() { f.Close() }()
	for {
		if _, err := io.Copy(w, f); err != nil {
			return err
		}
		if !follow {
			return nil
		}
		stopped := in.Refresh() != nil || in.State.Status == state.Stopped || in.Status() == state.Stopped
		// rotated: the name is a new file; finish the old, go on
		if a, b := fileID(f.Name()), fdID(f); a != b {
			io.Copy(w, f)
			nf, err := os.Open(path)
			if err != nil {
				return nil
			}
			f.Close()
			f = nf
			continue
		}
		if stopped {
			io.Copy(w, f)
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func fileID(path string) uint64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return inode(fi)
}

func fdID(f *os.File) uint64 {
	fi, err := f.Stat()
	if err != nil {
		return 0
	}
	return inode(fi)
}

func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

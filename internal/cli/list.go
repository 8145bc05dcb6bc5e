package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/nookrun/nook/state"
	"github.com/spf13/cobra"
)

// listEntry is one sandbox in `nook list --format json`: runc's list
// fields, plus nook's name and exit code.
type listEntry struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Name        string            `json:"name,omitempty"`
	Pid         int               `json:"pid"`
	Status      state.Status      `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Command     []string          `json:"command,omitempty"`
	ExitCode    *int              `json:"exit_code,omitempty"`
	Error       string            `json:"error,omitempty"`
}

func newListCmd() *cobra.Command {
	var all, quiet, asJSON bool
	var format string
	cmd := &cobra.Command{
		Use:     "list [OPTIONS]",
		Aliases: []string{"ls"},
		Short:   "List sandboxes",
		Long: `List the sandboxes in the state directory (--root): those started with
nook run -d and OCI containers alike. Without -a, stopped ones are left out.
--format json (or --json) prints runc's list --format json fields, plus
name, command and exit_code.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if asJSON {
				format = "json"
			}
			if format != "table" && format != "json" {
				return usageError{fmt.Errorf("--format %q: want table or json", format)}
			}
			s, err := openStore(cmd)
			if err != nil {
				return err
			}
			ents, err := s.List()
			if err != nil {
				return err
			}
			var out []listEntry
			users := userNames{}
			for _, e := range ents {
				le := entryOf(e, users)
				if !all && le.Status == state.Stopped {
					continue
				}
				out = append(out, le)
			}
			w := cmd.OutOrStdout()
			switch {
			case quiet:
				for _, e := range out {
					fmt.Fprintln(w, e.ID)
				}
			case format == "json":
				if out == nil {
					out = []listEntry{}
				}
				b, _ := json.Marshal(out)
				fmt.Fprintln(w, string(b))
			default:
				writeList(w, out)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "also list stopped sandboxes")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only IDs")
	f.StringVarP(&format, "format", "f", "table", "`FORMAT`: table or json")
	f.BoolVar(&asJSON, "json", false, "the same as --format json")
	return cmd
}

func entryOf(e state.Entry, users userNames) listEntry {
	if e.State == nil {
		return listEntry{ID: e.ID, Status: state.Stopped, Error: e.Err.Error()}
	}
	st := e.State
	le := listEntry{
		OCIVersion: st.OCIVersion, ID: st.ID, Name: st.Name, Status: st.Current(),
		Bundle: st.Bundle, Created: st.Created, Owner: users.name(st.Owner),
		Annotations: st.Annotations, Error: st.Error,
	}
	if le.Status != state.Stopped {
		le.Pid = st.Init.Pid
	}
	le.Rootfs, le.Command = st.Rootfs, st.Command
	if st.Exit != nil {
		c := st.Exit.Code
		le.ExitCode = &c
	}
	return le
}

func writeList(w io.Writer, list []listEntry) {
	rows := [][]string{{"ID", "NAME", "STATUS", "PID", "CREATED", "COMMAND"}}
	for _, e := range list {
		status := string(e.Status)
		if e.ExitCode != nil {
			status += " (" + strconv.Itoa(*e.ExitCode) + ")"
		}
		if e.Error != "" && e.Pid == 0 && e.ExitCode == nil {
			status = "damaged"
		}
		pid := ""
		if e.Pid > 0 {
			pid = strconv.Itoa(e.Pid)
		}
		created := ""
		if !e.Created.IsZero() {
			created = e.Created.Local().Format("2006-01-02 15:04:05")
		}
		id := e.ID
		if len(id) > 12 {
			id = id[:12]
		}
		rows = append(rows, []string{id, e.Name, status, pid, created, shortCommand(e.Command)})
	}
	writeTable(w, rows, func(i int) bool { return i == 3 }, false)
}

func shortCommand(args []string) string {
	s := strings.Join(args, " ")
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return s
}

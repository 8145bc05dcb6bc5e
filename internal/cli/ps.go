package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/nookrun/nook/container"
	"github.com/spf13/cobra"
)

func newPsCmd() *cobra.Command {
	var asJSON bool
	var format string
	cmd := &cobra.Command{
		Use:   "ps [--json] SANDBOX",
		Short: "List a sandbox's processes",
		Long: `List the processes of a sandbox: those in its cgroup, or without one,
those in its pid namespace (none for a stopped one that has no cgroup
left). --json (runc's --format json) prints their
host PIDs as a JSON array.`,
		Args: cobra.ExactArgs(1),
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
			in, err := container.LoadIn(s, args[0])
			if err != nil {
				return notFound(err, args[0])
			}
			// a stopped sandbox is listed too, as runc lists it: what
			// was exec'd into a pid namespace it shared can outlive
			// its init in its cgroup
			pids, err := in.Processes()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if format == "json" {
				if pids == nil {
					pids = []int{}
				}
				b, _ := json.Marshal(pids)
				fmt.Fprintln(w, string(b))
				return nil
			}
			rows := [][]string{{"PID", "PPID", "USER", "COMMAND"}}
			users := userNames{}
			for _, pid := range pids {
				ppid, uid, cmdline := procLine(pid, users)
				rows = append(rows, []string{strconv.Itoa(pid), ppid, uid, cmdline})
			}
			writeTable(w, rows, func(i int) bool { return i < 2 }, false)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the PIDs as a JSON array")
	cmd.Flags().StringVarP(&format, "format", "f", "table", "`FORMAT`: table or json")
	return cmd
}

func procLine(pid int, users userNames) (ppid, user, cmdline string) {
	dir := "/proc/" + strconv.Itoa(pid)
	if b, err := os.ReadFile(dir + "/stat"); err == nil {
		if i := strings.LastIndexByte(string(b), ')'); i >= 0 {
			if f := strings.Fields(string(b[i+1:])); len(f) > 1 {
				ppid = f[1]
			}
		}
	}
	if fi, err := os.Stat(dir); err == nil {
		user = users.name(int(fi.Sys().(*syscall.Stat_t).Uid))
	}
	if b, err := os.ReadFile(dir + "/cmdline"); err == nil {
		cmdline = strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
	}
	// nook's init never execs: its command line is its monitor's, its
	// name says what it is
	if b, err := os.ReadFile(dir + "/comm"); err == nil && strings.TrimSpace(string(b)) == "nook-init" {
		cmdline = "[nook-init]"
	}
	return
}

package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/user"
	"strconv"
	"strings"

	"github.com/nookrun/nook/namespaces"
	"github.com/spf13/cobra"
)

func newNSCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ns",
		Short: "List and show namespaces, as lsns does",
	}
	cmd.AddCommand(newNSListCmd(), newNSShowCmd())
	return cmd
}

// nsColumn is one column of `nook ns ls`, named and typed as lsns's.
type nsColumn struct {
	name  string
	right bool // numbers align right in the table
	// value is the cell as text and as JSON (nil: null)
	value func(ns *namespaces.Namespace, sep string, users userNames) (string, any)
}

var nsColumns = []nsColumn{
	{"NS", true, func(n *namespaces.Namespace, _ string, _ userNames) (string, any) { return u64(n.Inode) }},
	{"TYPE", false, func(n *namespaces.Namespace, _ string, _ userNames) (string, any) {
		return namespaces.ProcName(n.Type), namespaces.ProcName(n.Type)
	}},
	{"PATH", false, func(n *namespaces.Namespace, _ string, _ userNames) (string, any) { return n.Path, n.Path }},
	{"NPROCS", true, func(n *namespaces.Namespace, _ string, _ userNames) (string, any) {
		return strconv.Itoa(len(n.Procs)), len(n.Procs)
	}},
	{"PID", true, func(n *namespaces.Namespace, _ string, _ userNames) (string, any) { return pidCell(n, n.Pid) }},
	{"PPID", true, func(n *namespaces.Namespace, _ string, _ userNames) (string, any) { return pidCell(n, n.PPid) }},
	{"COMMAND", false, func(n *namespaces.Namespace, _ string, _ userNames) (string, any) {
		if n.Pid == 0 {
			return "", nil
		}
		return n.Command, n.Command
	}},
	{"UID", true, func(n *namespaces.Namespace, _ string, _ userNames) (string, any) { return strconv.Itoa(n.UID), n.UID }},
	{"USER", false, func(n *namespaces.Namespace, _ string, users userNames) (string, any) {
		name := users.name(n.UID)
		return name, name
	}},
	{"NETNSID", true, func(n *namespaces.Namespace, _ string, _ userNames) (string, any) {
		if n.Type != namespaces.Network || n.Pid == 0 {
			return "", nil
		}
		if n.NetNSID < 0 {
			return "unassigned", "unassigned"
		}
		s := strconv.Itoa(n.NetNSID)
		return s, s
	}},
	{"NSFS", false, func(n *namespaces.Namespace, sep string, _ userNames) (string, any) {
		if len(n.NSFS) == 0 {
			return "", nil
		}
		s := strings.Join(n.NSFS, sep)
		return s, s
	}},
	{"PNS", true, func(n *namespaces.Namespace, _ string, _ userNames) (string, any) { return u64(n.Parent) }},
	{"ONS", true, func(n *namespaces.Namespace, _ string, _ userNames) (string, any) { return u64(n.Owner) }},
}

func u64(v uint64) (string, any) { return strconv.FormatUint(v, 10), v }

func pidCell(n *namespaces.Namespace, v int) (string, any) {
	if n.Pid == 0 {
		return "", nil
	}
	return strconv.Itoa(v), v
}

// userNames looks user names up once per uid, for one command's output.
type userNames map[int]string

func (c userNames) name(uid int) string {
	if n, ok := c[uid]; ok {
		return n
	}
	n := strconv.Itoa(uid)
	if u, err := user.LookupId(n); err == nil {
		n = u.Username
	}
	c[uid] = n
	return n
}

type nsListOptions struct {
	types      []string
	pid        int
	output     string
	json, raw  bool
	noHeadings bool
	tree       string
	noTruncate bool
	outputAll  bool
}

func newNSListCmd() *cobra.Command {
	o := &nsListOptions{}
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List namespaces, with lsns's columns and JSON",
		Long: `List the host's namespaces, as util-linux lsns does, with its columns
and JSON keys: NS, TYPE, PATH, NPROCS, PID, PPID, COMMAND, UID, USER,
NETNSID, NSFS, PNS, ONS (default NS,TYPE,NPROCS,PID,USER,COMMAND; -o +COL
adds to the default). A process stands for each namespace: the one with
the lowest PID in it.

Also listed: namespaces no process is in that a bind mount keeps (ip netns
add, PATH is the mount) or an open file keeps (PATH is /proc/PID/fd/N),
which lsns 2.38 does not show.`,
		Example: `  nook ns ls
  nook ns ls -t net -o NS,PATH,NSFS,NETNSID
  nook ns ls -J -p 1234
  nook ns ls -T parent -t pid`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	stringArrayVar(f, &o.types, "type", "t", "only namespaces of `TYPE` (mnt, net, ipc, user, pid, uts, cgroup, time; repeatable)")
	f.IntVarP(&o.pid, "task", "p", 0, "only the namespaces of process `PID`")
	f.StringVarP(&o.output, "output", "o", "", "the columns to print, comma-separated (`LIST`; +LIST adds to the default)")
	f.BoolVar(&o.outputAll, "output-all", false, "print every column")
	f.BoolVarP(&o.json, "json", "J", false, "print JSON, as lsns -J")
	f.BoolVarP(&o.raw, "raw", "r", false, "print raw: one space between columns, no alignment")
	f.BoolVarP(&o.noHeadings, "noheadings", "n", false, "print no header line")
	f.BoolVarP(&o.noTruncate, "notruncate", "u", false, "do not truncate columns (nook never does)")
	f.StringVarP(&o.tree, "tree", "T", "", "print a tree of the pid and user namespaces by `REL`: parent or owner")
	f.Lookup("tree").NoOptDefVal = "owner"
	return cmd
}

func (o *nsListOptions) columns() ([]nsColumn, error) {
	def := "NS,TYPE,NPROCS,PID,USER,COMMAND"
	if o.tree != "" {
		def = "NS,TYPE,NPROCS,PID,USER,COMMAND"
	}
	list := o.output
	switch {
	case o.outputAll:
		list = "NS,TYPE,PATH,NPROCS,PID,PPID,COMMAND,UID,USER,NETNSID,NSFS,PNS,ONS"
	case list == "":
		list = def
	case strings.HasPrefix(list, "+"):
		list = def + "," + list[1:]
	}
	var out []nsColumn
	for _, name := range strings.Split(list, ",") {
		name = strings.ToUpper(strings.TrimSpace(name))
		if name == "" {
			continue
		}
		found := false
		for _, c := range nsColumns {
			if c.name == name {
				out = append(out, c)
				found = true
				break
			}
		}
		if !found {
			return nil, usageError{fmt.Errorf("--output: unknown column %q (want NS, TYPE, PATH, NPROCS, PID, PPID, COMMAND, UID, USER, NETNSID, NSFS, PNS, ONS)", name)}
		}
	}
	return out, nil
}

func (o *nsListOptions) run(w io.Writer) error {
	cols, err := o.columns()
	if err != nil {
		return err
	}
	lo := &namespaces.ListOptions{Pid: o.pid}
	for _, t := range o.types {
		typ, err := namespaces.Parse(t)
		if err != nil {
			return usageError{fmt.Errorf("--type: %w", err)}
		}
		lo.Types = append(lo.Types, typ)
	}
	if o.tree != "" && o.tree != "owner" && o.tree != "parent" {
		return usageError{fmt.Errorf("--tree %q: want parent or owner", o.tree)}
	}
	if o.pid != 0 {
		if _, err := namespaces.Of(o.pid); err != nil {
			return err
		}
	}
	list, err := namespaces.List(lo)
	if err != nil {
		return err
	}
	roots, children := nsTree(list, o.tree)
	users := userNames{}
	if o.json {
		return writeNSJSON(w, cols, roots, children, o.tree != "", users)
	}
	sep := "\n"
	if o.raw {
		sep = ","
	}
	var rows [][]string
	var walk func(ns *namespaces.Namespace, prefix string, last, top bool)
	walk = func(ns *namespaces.Namespace, prefix string, last, top bool) {
		row := make([]string, len(cols))
		for i, c := range cols {
			row[i], _ = c.value(ns, sep, users)
			if o.raw {
				row[i] = strings.ReplaceAll(strings.ReplaceAll(row[i], " ", `\x20`), "\n", `\x0a`)
			}
		}
		next := prefix
		if o.tree != "" && !top {
			branch := "├─"
			if last {
				branch = "└─"
			}
			row[0] = prefix + branch + row[0]
			if last {
				next = prefix + "  "
			} else {
				next = prefix + "│ "
			}
		}
		rows = append(rows, row)
		kids := children[ns.Inode]
		for i, k := range kids {
			walk(k, next, i == len(kids)-1, false)
		}
	}
	for _, r := range roots {
		walk(r, "", true, true)
	}
	if !o.noHeadings {
		head := make([]string, len(cols))
		for i, c := range cols {
			head[i] = c.name
		}
		rows = append([][]string{head}, rows...)
	}
	writeTable(w, rows, func(i int) bool { return cols[i].right && o.tree == "" }, o.raw)
	return nil
}

// nsTree orders namespaces as a tree by parent or owner; without rel, all
// are roots.
func nsTree(list []*namespaces.Namespace, rel string) ([]*namespaces.Namespace, map[uint64][]*namespaces.Namespace) {
	children := map[uint64][]*namespaces.Namespace{}
	if rel == "" {
		return list, children
	}
	by := map[uint64]*namespaces.Namespace{}
	for _, ns := range list {
		by[ns.Inode] = ns
	}
	var roots []*namespaces.Namespace
	for _, ns := range list {
		up := ns.Owner
		if rel == "parent" && (ns.Type == namespaces.PID || ns.Type == namespaces.User) && ns.Parent != 0 {
			up = ns.Parent
		}
		if p := by[up]; p != nil && up != ns.Inode {
			children[up] = append(children[up], ns)
		} else {
			roots = append(roots, ns)
		}
	}
	return roots, children
}

func writeNSJSON(w io.Writer, cols []nsColumn, roots []*namespaces.Namespace, children map[uint64][]*namespaces.Namespace, tree bool, users userNames) error {
	var obj func(ns *namespaces.Namespace) orderedJSON
	obj = func(ns *namespaces.Namespace) orderedJSON {
		o := orderedJSON{}
		for _, c := range cols {
			_, v := c.value(ns, "\n", users)
			o = append(o, kv{strings.ToLower(c.name), v})
		}
		if tree && len(children[ns.Inode]) > 0 {
			var kids []orderedJSON
			for _, k := range children[ns.Inode] {
				kids = append(kids, obj(k))
			}
			o = append(o, kv{"children", kids})
		}
		return o
	}
	out := []orderedJSON{}
	for _, r := range roots {
		out = append(out, obj(r))
	}
	b, err := json.MarshalIndent(orderedJSON{{"namespaces", out}}, "", "   ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// orderedJSON is a JSON object that keeps its keys in order, as lsns
// prints its columns.
type orderedJSON []kv

type kv struct {
	k string
	v any
}

func (o orderedJSON) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, x := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(x.k)
		v, err := json.Marshal(x.v)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

// writeTable prints rows in aligned columns (or raw: one space apart).
func writeTable(w io.Writer, rows [][]string, right func(int) bool, raw bool) {
	if len(rows) == 0 {
		return
	}
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			if n := len([]rune(c)); n > width[i] {
				width[i] = n
			}
		}
	}
	var b strings.Builder
	for _, r := range rows {
		for i, c := range r {
			if i > 0 {
				b.WriteByte(' ')
			}
			if raw {
				b.WriteString(c)
				continue
			}
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			if right(i) {
				b.WriteString(pad + c)
			} else if i == len(r)-1 {
				b.WriteString(c)
			} else {
				b.WriteString(c + pad)
			}
		}
		b.WriteByte('\n')
	}
	io.WriteString(w, b.String())
}

func newNSShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show PID|SANDBOX",
		Short: "Show a process's or a sandbox's namespaces",
		Long: `Show the namespaces of a process, or of a sandbox's init: for each type
its inode, its owner user namespace, its depth (pid and user namespaces
nest) and whether it is the host's (the same as nook's own).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pid, err := targetPid(cmd, args[0])
			if err != nil {
				return err
			}
			return showNS(cmd.OutOrStdout(), pid, asJSON)
		},
	}
	cmd.Flags().BoolVarP(&asJSON, "json", "J", false, "print JSON")
	return cmd
}

// NSInfo is one line of `nook ns show`.
type nsInfo struct {
	Type  string `json:"type"`
	NS    uint64 `json:"ns"`
	Path  string `json:"path"`
	Owner uint64 `json:"ons"`
	Depth int    `json:"depth"`
	Host  bool   `json:"host"`
}

func showNS(w io.Writer, pid int, asJSON bool) error {
	of, err := namespaces.Of(pid)
	if err != nil {
		return err
	}
	self, _ := namespaces.Of(0)
	var infos []nsInfo
	for _, t := range namespaces.All() {
		ino, ok := of[t]
		if !ok {
			continue
		}
		path := "/proc/" + strconv.Itoa(pid) + "/ns/" + namespaces.ProcName(t)
		in := nsInfo{Type: namespaces.ProcName(t), NS: ino, Path: path, Owner: namespaces.Owner(path), Host: self[t] == ino}
		if t == namespaces.PID || t == namespaces.User {
			in.Depth = namespaces.Depth(path)
		}
		infos = append(infos, in)
	}
	if len(infos) == 0 {
		return errors.New("no namespace of pid " + strconv.Itoa(pid) + " is visible to nook")
	}
	if asJSON {
		b, _ := json.MarshalIndent(map[string]any{"pid": pid, "namespaces": infos}, "", "   ")
		_, err := w.Write(append(b, '\n'))
		return err
	}
	rows := [][]string{{"TYPE", "NS", "ONS", "DEPTH", "HOST", "PATH"}}
	for _, in := range infos {
		host := "no"
		if in.Host {
			host = "yes"
		}
		rows = append(rows, []string{in.Type, strconv.FormatUint(in.NS, 10), strconv.FormatUint(in.Owner, 10), strconv.Itoa(in.Depth), host, in.Path})
	}
	writeTable(w, rows, func(i int) bool { return i >= 1 && i <= 3 }, false)
	return nil
}

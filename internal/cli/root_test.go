package cli

import (
	"bytes"
	"slices"
	"testing"
)

// The names Main looks a command up by are the names cobra runs it by:
// each command's name and aliases, in that order.
func TestCommandTableNamesEachCommand(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range allCommands() {
		cmd := c.build()
		want := append([]string{cmd.Name()}, cmd.Aliases...)
		if !slices.Equal(c.names, want) {
			t.Errorf("table names %v, the command answers to %v", c.names, want)
		}
		for _, n := range c.names {
			if seen[n] {
				t.Errorf("%q is in the table twice", n)
			}
			seen[n] = true
		}
	}
	if n, all := len(newRoot().Commands()), len(allCommands()); n != all {
		t.Errorf("the whole tree has %d commands, the table %d", n, all)
	}
}

// Root flags and their values come before the command; anything else
// that is not a command (help, version, a flag nook does not know) gets
// the whole tree, so that cobra answers as it always has.
func TestCommandNameSkipsRootFlags(t *testing.T) {
	root := newBareRoot()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--rootfs", "/r", "--", "/bin/true"}, "run"},
		{[]string{"--root", "/x", "exec", "box", "true"}, "exec"},
		{[]string{"--root=/x", "ls"}, "ls"},
		{[]string{"--debug", "list", "--format", "json"}, "list"},
		{[]string{"--log", "/l", "--log-format", "json", "--systemd-cgroup", "create", "id"}, "create"},
		{[]string{"--rootless", "false", "delete", "id"}, "delete"},
		{[]string{"--help"}, ""},
		{[]string{"-v"}, ""},
		{[]string{"--no-such-flag", "run"}, ""},
		{[]string{"--", "run"}, ""},
		{[]string{"--root"}, ""},
		{nil, ""},
	} {
		if got := commandName(root, c.args); got != c.want {
			t.Errorf("commandName(%q) = %q, want %q", c.args, got, c.want)
		}
	}
}

func TestRootForBuildsOnlyTheNamedCommand(t *testing.T) {
	names := func(args ...string) []string {
		var out []string
		for _, c := range newRootFor(args).Commands() {
			out = append(out, c.Name())
		}
		return out
	}
	if got := names("--root", "/x", "exec", "box", "true"); !slices.Equal(got, []string{"exec"}) {
		t.Errorf("exec: built %v", got)
	}
	if got := names("nsenter", "-t", "1", "-a"); !slices.Equal(got, []string{"enter"}) {
		t.Errorf("nsenter: built %v", got)
	}
	all := len(allCommands())
	for _, args := range [][]string{{"help", "run"}, {"completion", "bash"}, {"runn"}, {"--version", "--help"}, {}} {
		// cobra adds its help command to a tree with commands
		if got := len(names(args...)); got < all {
			t.Errorf("%q: built %d commands, want all %d", args, got, all)
		}
	}
}

// --version is answered from the root alone, as cobra always did.
func TestVersionNeedsNoCommands(t *testing.T) {
	for _, arg := range []string{"--version", "-v"} {
		if got := newRootFor([]string{arg}).Commands(); len(got) != 0 {
			t.Errorf("%s: built %d commands, want none", arg, len(got))
		}
		var out, errb bytes.Buffer
		if code := Main([]string{arg}, &out, &errb); code != 0 || out.String() != "nook version "+Version+"\n" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", arg, code, out.String(), errb.String())
		}
	}
}

// A mistyped command is still a usage error, with cobra's suggestion from
// the whole tree.
func TestMistypedCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main([]string{"runn"}, &out, &errb); code != 2 {
		t.Errorf("exit %d, want 2 (stderr %q)", code, errb.String())
	}
	if !bytes.Contains(errb.Bytes(), []byte("Did you mean this?\n\trun\n")) {
		t.Errorf("stderr %q does not suggest run", errb.String())
	}
}

func BenchmarkNewRoot(b *testing.B) {
	for b.Loop() {
		newRoot()
	}
}

func BenchmarkNewRootForExec(b *testing.B) {
	for b.Loop() {
		newRootFor([]string{"exec", "box", "true"})
	}
}

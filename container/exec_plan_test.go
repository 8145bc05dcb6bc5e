package container

import (
	"os"
	"strings"
	"testing"

	"github.com/nookrun/nook/namespaces"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The order namespaces are joined in: the mount namespace after the
// others whose files are under the host's /proc; the user namespace first
// for a caller it gives privilege to, last for root, then through the
// target's /proc as the mount namespace shows it; root clones the child
// straight into the pid namespace instead of joining it.
func TestExecPlanJoinOrder(t *testing.T) {
	var joins joinList
	for _, typ := range namespaces.All() {
		joins = append(joins, nsJoin{typ, "/proc/4242/ns/" + namespaces.ProcName(typ)})
	}
	proc := &specs.Process{Args: []string{"/bin/true"}, Env: []string{"A=1"}, Cwd: "/srv", NoNewPrivileges: true}
	setns := func(e *enterPlan) []string {
		st, err := e.compile()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, l := range strings.Split(st.String(), "\n") {
			if strings.HasPrefix(l, "setns ") {
				out = append(out, l)
			}
		}
		return out
	}
	// an unprivileged caller: user first, mount last
	got := setns(&enterPlan{joins: joins, userFirst: true, target: 4242, proc: proc, fork: true})
	if len(got) != 8 || !strings.Contains(got[0], "/ns/user") || !strings.Contains(got[7], "/ns/mnt") {
		t.Errorf("unprivileged:\n%s", strings.Join(got, "\n"))
	}
	// root: mount after the others, user last, through the target's own
	// /proc (its PID in its pid namespace; 4242 is not a live process
	// here, so its number stays)
	got = setns(&enterPlan{joins: joins, userFirst: false, target: 4242, proc: proc, fork: true})
	if len(got) != 8 || !strings.Contains(got[6], "/ns/mnt") || !strings.Contains(got[7], "/ns/user") {
		t.Errorf("root:\n%s", strings.Join(got, "\n"))
	}
	// root cloned straight into the pid namespace: no step joins it, and
	// the command is the child itself, with no init of nook's
	pe := &enterPlan{joins: joins, target: 4242, proc: proc, pidNS: true}
	got = setns(pe)
	if len(got) != 7 || strings.Contains(strings.Join(got, "\n"), "/ns/pid") {
		t.Errorf("root, cloned into the pid namespace:\n%s", strings.Join(got, "\n"))
	}
	if st, _ := pe.compile(); strings.Contains(st.String(), "under init") {
		t.Errorf("a command cloned into its pid namespace runs under init:\n%s", st)
	}
	st, _ := (&enterPlan{joins: joins, proc: proc, cwd: proc.Cwd, fork: true}).compile()
	listing := st.String()
	for _, want := range []string{"setsid", "chdir /srv", "no-new-privs", `env "A=1"`, `arg "/bin/true"`, "exec under init"} {
		if !strings.Contains(listing, want) {
			t.Errorf("the exec plan lacks %q:\n%s", want, listing)
		}
	}
}

// With a pidfd of the target, the child joins every namespace in one
// setns through it first, the pid namespace too unless the clone is into
// it, and the user namespace only for a caller it gives privilege to (root
// joins it last, by path); the steps by path stay after it, for a kernel
// that refuses it.
func TestExecPlanJoinsByPidfd(t *testing.T) {
	var joins joinList
	for _, typ := range namespaces.All() {
		joins = append(joins, nsJoin{typ, "/proc/4242/ns/" + namespaces.ProcName(typ)})
	}
	proc := &specs.Process{Args: []string{"/bin/true"}, Cwd: "/"}
	pidfd, err := os.Open(os.DevNull) // only its presence counts here
	if err != nil {
		t.Fatal(err)
	}
	defer pidfd.Close()
	for _, pidNS := range []bool{false, true} {
		st, err := (&enterPlan{joins: joins, userFirst: !pidNS, target: 4242, targetFD: pidfd, proc: proc, pidNS: pidNS, fork: !pidNS}).compile()
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(st.String(), "\n")
		first, byPath := lines[0], 0
		for _, l := range lines {
			if strings.HasPrefix(l, "setns /proc/") {
				byPath++
			}
		}
		if !strings.HasPrefix(first, "setns pidfd ") || strings.Contains(first, ",pid,") == pidNS ||
			strings.Contains(first, "user") == pidNS || !strings.Contains(first, "mount") {
			t.Errorf("pid namespace by clone %v: the first step is %q", pidNS, first)
		}
		if want := map[bool]int{false: 8, true: 7}[pidNS]; byPath != want {
			t.Errorf("pid namespace by clone %v: %d setns steps by path, want %d:\n%s", pidNS, byPath, want, st)
		}
	}
}

package cgroups

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// helperEnv makes the test binary act as a helper process (see TestMain).
const helperEnv = "NOOK_CGROUPS_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		runHelper(mode)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var sink uint64

// runHelper waits for one line on stdin (so that the test can put it into
// its cgroups first), then does mode.
func runHelper(mode string) {
	var b [1]byte
	_, _ = os.Stdin.Read(b[:])
	switch mode {
	case "memhog":
		var keep [][]byte
		for {
			c := make([]byte, 1<<20)
			for i := 0; i < len(c); i += 4096 {
				c[i] = 1
			}
			keep = append(keep, c)
		}
	case "spin":
		for {
			sink++
		}
	case "devcheck":
		devCheck()
	case "devfirst":
		devFirst()
	default:
		fmt.Fprintln(os.Stderr, "unknown helper", mode)
		os.Exit(2)
	}
}

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create cgroups")
	}
	if DetectMode() == Unavailable {
		t.Skip("no cgroup filesystem at " + Root)
	}
}

var nameSeq atomic.Int64

// uniqueName returns a sandbox name no other test (or test process) uses.
func uniqueName(t testing.TB) string {
	base := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '_'
	}, strings.TrimPrefix(t.Name(), "Test"))
	if len(base) > 60 {
		base = base[:60]
	}
	return fmt.Sprintf("t%d-%d-%s", os.Getpid(), nameSeq.Add(1), base)
}

// leftovers lists any directory of sandbox name, anywhere nook would make one.
func leftovers(name string) []string {
	var found []string
	m, _ := filepath.Glob(filepath.Join(Root, "*", dirPrefixV1+name))
	found = append(found, m...)
	if _, err := os.Stat(filepath.Join(v2Parent, name)); err == nil {
		found = append(found, filepath.Join(v2Parent, name))
	}
	return found
}

// create makes a Manager that is destroyed (and checked for leftovers) when
// the test ends, whatever happens.
func create(t *testing.T, r *specs.LinuxResources, opts *Options) *Manager {
	t.Helper()
	name := uniqueName(t)
	m, err := Create(name, r, opts)
	if err != nil {
		if l := leftovers(name); len(l) > 0 {
			t.Errorf("failed Create left %v behind", l)
		}
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Destroy(); err != nil {
			t.Errorf("Destroy: %v", err)
		}
		if l := leftovers(name); len(l) > 0 {
			t.Errorf("Destroy left %v behind", l)
		}
	})
	return m
}

type proc struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan struct{}
	err    error // of Wait, valid after done
	stdin  io.WriteCloser
}

// spawn starts cmd (which must wait for a line on stdin before doing
// anything), adds it to m and lets it go.
func spawn(t *testing.T, m *Manager, cmd *exec.Cmd) *proc {
	t.Helper()
	return spawnWith(t, cmd, m.Add)
}

// spawnWith starts cmd, puts it into its cgroup with join and lets it go.
func spawnWith(t *testing.T, cmd *exec.Cmd, join func(pid int) error) *proc {
	t.Helper()
	p := &proc{cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &p.stdout, &p.stderr
	// Background children may keep the output pipes open after the
	// process itself has exited; do not wait for them.
	cmd.WaitDelay = time.Second
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	if err := join(cmd.Process.Pid); err != nil {
		t.Fatalf("join pid %d: %v", cmd.Process.Pid, err)
	}
	if _, err := io.WriteString(p.stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	return p
}

func helper(mode string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	return cmd
}

func shell(script string) *exec.Cmd {
	return exec.Command("/bin/sh", "-c", "read x; "+script)
}

// wait waits for p to exit, failing the test after d.
func (p *proc) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(d):
		t.Fatalf("process %d still running after %v", p.cmd.Process.Pid, d)
		return nil
	}
}

// eventually polls cond until it holds, failing the test after d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func stats(t *testing.T, m *Manager) *Stats {
	t.Helper()
	s, err := m.Stats()
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return s
}

func ptr[T any](v T) *T { return &v }

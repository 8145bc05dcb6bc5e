package state

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestTransitions(t *testing.T) {
	ok := []struct{ from, to Status }{
		{Creating, Created}, {Creating, Running}, {Creating, Stopped},
		{Created, Running}, {Created, Stopped},
		{Running, Paused}, {Paused, Running}, {Running, Stopped}, {Paused, Stopped},
	}
	for _, c := range ok {
		if !c.from.CanBecome(c.to) {
			t.Errorf("%s -> %s refused", c.from, c.to)
		}
	}
	bad := []struct{ from, to Status }{
		{Stopped, Running}, {Stopped, Created}, {Running, Created}, {Created, Paused}, {Paused, Created},
	}
	for _, c := range bad {
		if c.from.CanBecome(c.to) {
			t.Errorf("%s -> %s allowed", c.from, c.to)
		}
	}
	if !Created.CanStart() || Running.CanStart() || Stopped.CanKill() || !Paused.CanKill() {
		t.Error("start/kill rules")
	}
	if Running.CanDelete(false) || !Running.CanDelete(true) || !Stopped.CanDelete(false) {
		t.Error("delete rules")
	}
	if Paused.CanExec() || !Running.CanExec() {
		t.Error("exec rules")
	}
}

func TestCreateLoadRemove(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.Create(&State{ID: "abc", Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	self, err := Identify(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	h.State.Init = self
	if err := h.Transition(Running); err != nil {
		t.Fatal(err)
	}
	if err := h.Transition(Created); err == nil {
		t.Error("running -> created allowed")
	}
	h.Close()

	for _, ref := range []string{"abc", "web"} {
		st, err := s.Load(ref)
		if err != nil {
			t.Fatalf("Load(%s): %v", ref, err)
		}
		if st.ID != "abc" || st.Name != "web" || st.Current() != Running || st.Started == nil {
			t.Errorf("Load(%s) = %+v", ref, st)
		}
	}
	if _, err := s.Create(&State{ID: "other", Name: "web"}); !errors.Is(err, ErrExists) {
		t.Errorf("a name in use: %v", err)
	}
	if _, err := os.Stat(s.Path("other")); !errors.Is(err, os.ErrNotExist) {
		t.Error("a refused create left its directory")
	}
	if _, err := s.Create(&State{ID: "abc"}); !errors.Is(err, ErrExists) {
		t.Errorf("an id in use: %v", err)
	}
	for _, bad := range []string{"", "../x", ".hidden", "a/b", "x y"} {
		if _, err := s.Create(&State{ID: bad}); err == nil {
			t.Errorf("id %q accepted", bad)
		}
	}
	if _, err := s.Load("nope"); !errors.Is(err, ErrNotExist) {
		t.Errorf("unknown: %v", err)
	}

	h, err = s.Lock("web")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load("web"); !errors.Is(err, ErrNotExist) {
		t.Errorf("after remove: %v", err)
	}
	ents, _ := os.ReadDir(s.Dir())
	if len(ents) != 1 { // .names
		t.Errorf("left: %v", ents)
	}
}

func TestDeadInitIsStopped(t *testing.T) {
	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p, err := Identify(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if st := (&State{Status: Running, Init: p}); st.Current() != Running {
		t.Errorf("a live init: %s", st.Current())
	}
	cmd.Process.Kill()
	cmd.Wait()
	st := &State{Status: Running, Init: p}
	if st.Current() != Stopped {
		t.Errorf("a dead init: %s", st.Current())
	}
}

// A PID that names another process than the one recorded (as after the
// kernel reuses it) is never signalled.
func TestRecycledPidNotSignalled(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	p, err := Identify(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	stale := p
	stale.StartTime--
	if err := stale.Signal(unix.SIGKILL); !errors.Is(err, ErrGone) {
		t.Fatalf("stale start time: %v", err)
	}
	if !p.Alive() {
		t.Fatal("the process was signalled through a stale record")
	}
	if err := p.Signal(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if p.Alive() {
		t.Error("alive after SIGKILL")
	}
	if err := p.Signal(unix.SIGKILL); !errors.Is(err, ErrGone) {
		t.Errorf("a reaped process: %v", err)
	}
}

func TestDamaged(t *testing.T) {
	s, _ := Open(t.TempDir())
	h, err := s.Create(&State{ID: "d", Name: "dn"})
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	os.WriteFile(filepath.Join(s.Path("d"), stateFile), []byte(`{"format":"nook.state/0"`), 0o600)
	var de *DamagedError
	if _, err := s.Load("dn"); !errors.As(err, &de) {
		t.Fatalf("damaged: %v", err)
	}
	ents, err := s.List()
	if err != nil || len(ents) != 1 || ents[0].Err == nil {
		t.Fatalf("list: %v %+v", err, ents)
	}
	h, err = s.LockDamaged("d")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve("dn"); !errors.Is(err, ErrNotExist) {
		t.Errorf("name left: %v", err)
	}
}

// Many writers on one sandbox and many creators of one name: every read
// sees a whole state, and exactly one creator gets the name.
func TestConcurrent(t *testing.T) {
	s, _ := Open(t.TempDir())
	var wg sync.WaitGroup
	wins := make(chan string, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := NewID()
			h, err := s.Create(&State{ID: id, Name: "one"})
			if err == nil {
				wins <- id
				h.Close()
			} else if !errors.Is(err, ErrExists) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	close(wins)
	if n := len(wins); n != 1 {
		t.Fatalf("%d creators got the name", n)
	}
	for i := 0; i < 20; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			h, err := s.Lock("one")
			if err != nil {
				t.Error(err)
				return
			}
			h.State.Annotations = map[string]string{"n": NewID()}
			if err := h.Save(); err != nil {
				t.Error(err)
			}
			h.Close()
		}()
		go func() {
			defer wg.Done()
			if _, err := s.Load("one"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

// A root others may write to, or that belongs to someone else, is
// refused: its states could be forged.
func TestOpenRefusesSharedRoot(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o777)
	if _, err := Open(dir); err == nil {
		t.Error("a world-writable root accepted")
	}
	if _, err := os.Stat(filepath.Join(dir, namesDir)); err == nil {
		t.Error("a refused root was written to")
	}
	if os.Geteuid() == 0 {
		os.Chmod(dir, 0o700)
		os.Chown(dir, 12345, 12345)
		// root trusts nobody's directory but its own and root's
		if _, err := Open(dir); err == nil {
			t.Error("a root owned by another user accepted")
		}
	}
}

// A creator killed before the state's first write leaves a directory
// (with or without its lock file) that RemoveUnwritten removes; a state
// that was written, or whose creator still holds the lock and then
// writes it, is left alone.
func TestRemoveUnwritten(t *testing.T) {
	s, _ := Open(t.TempDir())
	// killed between mkdir and lock, and between lock and write
	os.Mkdir(s.Path("bare"), 0o700)
	os.Mkdir(s.Path("locked"), 0o700)
	os.WriteFile(filepath.Join(s.Path("locked"), lockFile), nil, 0o600)
	for _, id := range []string{"bare", "locked"} {
		if removed, err := s.RemoveUnwritten(id); !removed || err != nil {
			t.Errorf("%s: removed %v, %v", id, removed, err)
		}
		if _, err := os.Stat(s.Path(id)); err == nil {
			t.Errorf("%s: directory left", id)
		}
	}
	if removed, err := s.RemoveUnwritten("none"); removed || err != nil {
		t.Errorf("none: removed %v, %v", removed, err)
	}
	// a creator at work: RemoveUnwritten waits for its write
	h, err := s.Create(&State{ID: "live"})
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	os.Remove(filepath.Join(s.Path("live"), stateFile))
	h, err = s.LockDamaged("live")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan bool)
	go func() {
		removed, _ := s.RemoveUnwritten("live")
		done <- removed
	}()
	time.Sleep(20 * time.Millisecond)
	h.State = &State{ID: "live", Status: Creating, Format: FormatVersion}
	if err := h.Save(); err != nil {
		t.Fatal(err)
	}
	h.Close()
	if <-done {
		t.Error("a state written while RemoveUnwritten waited was removed")
	}
	if _, err := s.Load("live"); err != nil {
		t.Errorf("live: %v", err)
	}
}

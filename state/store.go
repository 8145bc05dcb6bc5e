package state

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nookrun/nook/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Store is a root directory of sandbox states.
type Store struct {
	dir string
}

// File names inside a sandbox's directory and the root.
const (
	stateFile = "state.json"
	specFile  = "config.json"
	lockFile  = "lock"
	namesDir  = NamesDir
	// LogFile is a detached sandbox's output, in its directory.
	LogFile = "output.log"
)

// NamesDir is the directory of a root that holds the names, each a
// symlink to its sandbox's ID.
const NamesDir = ".names"

// ErrNotExist is wrapped by errors about a sandbox that does not exist.
var ErrNotExist = errors.New("does not exist")

// ErrExists is wrapped by errors about an ID or name already taken.
var ErrExists = errors.New("already exists")

// DefaultDir is the root used when none is given: /run/nook for root,
// $XDG_RUNTIME_DIR/nook for other users (or /tmp/nook-UID without one).
func DefaultDir() string {
	if os.Geteuid() == 0 {
		return "/run/nook"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "nook")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("nook-%d", os.Geteuid()))
}

// Open returns the store in dir, creating the directory (mode 0700) when
// it is missing.
func Open(dir string) (*Store, error) {
	if dir == "" {
		dir = DefaultDir()
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("state root %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("state root: %w", err)
	}
	// a root someone else made (in /tmp, say) could be theirs to read and
	// change: refuse it
	var st unix.Stat_t
	if err := unix.Lstat(abs, &st); err != nil {
		return nil, fmt.Errorf("state root %s: %w", abs, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil, fmt.Errorf("state root %s: not a directory", abs)
	}
	if uid := os.Geteuid(); int(st.Uid) != uid && st.Uid != 0 {
		return nil, fmt.Errorf("state root %s: owned by uid %d, not by you (uid %d) or root", abs, st.Uid, uid)
	}
	if st.Mode&0o022 != 0 {
		return nil, fmt.Errorf("state root %s: others may write to it (mode %#o)", abs, st.Mode&0o777)
	}
	if err := os.Mkdir(filepath.Join(abs, namesDir), 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("state root: %w", err)
	}
	return &Store{dir: abs}, nil
}

// Dir returns the store's root directory.
func (s *Store) Dir() string { return s.dir }

// Path returns the directory of sandbox id.
func (s *Store) Path(id string) string { return filepath.Join(s.dir, id) }

// validName reports whether s is 1 to 128 letters, digits and the
// punctuation in extra, starting with a letter or digit. (No regexp: its
// compilation at start-up would cost every nook command most of a
// millisecond.)
func validName(s, extra string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || strings.IndexByte(extra, c) < 0) {
			return false
		}
	}
	return true
}

// CheckID returns an error naming what is wrong with id.
func CheckID(id string) error {
	if !validName(id, "_.+-") {
		return fmt.Errorf("invalid sandbox id %q: want 1 to 128 of A-Z a-z 0-9 _ . + -, not starting with a punctuation mark", id)
	}
	return nil
}

// CheckName returns an error naming what is wrong with name.
func CheckName(name string) error {
	if !validName(name, "_.-") {
		return fmt.Errorf("invalid sandbox name %q: want 1 to 128 of A-Z a-z 0-9 _ . -, not starting with a punctuation mark", name)
	}
	return nil
}

// NewID returns a random ID: 32 hex digits.
func NewID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Handle is a sandbox's state with its lock held: the only way to change
// it. Close releases the lock.
type Handle struct {
	store *Store
	lock  *os.File
	// State is the sandbox's state; Save writes it.
	State *State
}

// Create records a new sandbox and returns it locked. Its ID (and name)
// must be free; a new State gets its format, owner and created time here
// when unset.
func (s *Store) Create(st *State) (*Handle, error) {
	if err := CheckID(st.ID); err != nil {
		return nil, err
	}
	if st.Name != "" {
		if err := CheckName(st.Name); err != nil {
			return nil, err
		}
	}
	if st.Status == "" {
		st.Status = Creating
	}
	if !st.Status.Valid() {
		return nil, fmt.Errorf("sandbox %s: invalid status %q", st.ID, st.Status)
	}
	st.Format = FormatVersion
	if st.Created.IsZero() {
		st.Created = time.Now().UTC()
	}
	st.Owner = os.Geteuid()
	dir := s.Path(st.ID)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("sandbox %s: %w", st.ID, ErrExists)
		}
		return nil, fmt.Errorf("create state: %w", err)
	}
	h, err := s.lockDir(st.ID, true)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	h.State = st
	if st.Name != "" {
		link := filepath.Join(s.dir, namesDir, st.Name)
		if err := os.Symlink("../"+st.ID, link); err != nil {
			h.lock.Close()
			os.RemoveAll(dir)
			if errors.Is(err, os.ErrExist) {
				return nil, fmt.Errorf("name %q: %w (nook rm %s, or choose another)", st.Name, ErrExists, st.Name)
			}
			return nil, fmt.Errorf("create state: name: %w", err)
		}
	}
	if st.Spec != nil {
		if st.Spec.Root != nil {
			st.Rootfs = st.Spec.Root.Path
		}
		if st.Spec.Process != nil {
			st.Command = st.Spec.Process.Args
		}
		// spec.Encode, not json.Marshal: the same bytes, without
		// building an encoder for every type of the runtime spec
		b, err := spec.Encode(st.Spec)
		if err == nil {
			err = WriteFile(filepath.Join(dir, specFile), append(b, '\n'))
		}
		if err != nil {
			h.Remove()
			return nil, fmt.Errorf("save %s: %w", specFile, err)
		}
	}
	if err := h.Save(); err != nil {
		h.Remove()
		return nil, err
	}
	return h, nil
}

// Spec reads the OCI runtime spec of sandbox id (an ID, not a name).
func (s *Store) Spec(id string) (*specs.Spec, error) {
	path := filepath.Join(s.Path(id), specFile)
	b, err := ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("sandbox %q: no spec: %w", id, ErrNotExist)
		}
		return nil, fmt.Errorf("read spec: %w", err)
	}
	sp, err := spec.Decode(b)
	if err != nil {
		return nil, &DamagedError{ID: id, Path: path, Err: err}
	}
	return sp, nil
}

// SpecFile returns the path of sandbox id's spec, for readers that want
// only part of it.
func (s *Store) SpecFile(id string) string { return filepath.Join(s.Path(id), specFile) }

// StateFile returns the path of sandbox id's state, for readers that
// check whether it changed (it is only ever replaced, never rewritten).
func (s *Store) StateFile(id string) string { return filepath.Join(s.Path(id), stateFile) }

// WriteFile writes data to path atomically: a temporary file in the same
// directory, renamed over path, so that a reader sees the old content or
// the new, never part of it.
func WriteFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Resolve turns a reference (an ID or a name) into an ID.
func (s *Store) Resolve(ref string) (string, error) {
	if ref == "" {
		return "", errors.New("no sandbox given")
	}
	if strings.ContainsRune(ref, '/') || strings.HasPrefix(ref, ".") {
		return "", fmt.Errorf("sandbox %q: %w", ref, ErrNotExist)
	}
	if fi, err := os.Stat(s.Path(ref)); err == nil && fi.IsDir() {
		return ref, nil
	}
	t, err := os.Readlink(filepath.Join(s.dir, namesDir, ref))
	if err == nil {
		id := filepath.Base(t)
		if _, err := os.Stat(s.Path(id)); err == nil {
			return id, nil
		}
	}
	return "", fmt.Errorf("sandbox %q: %w", ref, ErrNotExist)
}

// Load reads a sandbox's state without locking it: writes are atomic, so
// what it reads is whole, if possibly stale by the time it returns.
func (s *Store) Load(ref string) (*State, error) {
	id, err := s.Resolve(ref)
	if err != nil {
		return nil, err
	}
	return s.read(id)
}

func (s *Store) read(id string) (*State, error) {
	path := filepath.Join(s.Path(id), stateFile)
	b, err := ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			// still being made; or made by a creator that died before
			// its first write, which counts as damaged once a while old
			if fi, serr := os.Stat(filepath.Join(s.Path(id), lockFile)); serr == nil && time.Since(fi.ModTime()) > incompleteAge {
				return nil, &DamagedError{ID: id, Path: path, Err: errors.New("never written")}
			}
			return nil, fmt.Errorf("sandbox %q: %w", id, ErrNotExist)
		}
		return nil, fmt.Errorf("read state: %w", err)
	}
	var st State
	if err := decodeState(b, &st); err != nil {
		return nil, &DamagedError{ID: id, Path: path, Err: err}
	}
	if st.Format != FormatVersion {
		return nil, &DamagedError{ID: id, Path: path, Err: fmt.Errorf("format %q, this nook reads %q", st.Format, FormatVersion)}
	}
	if st.ID != id || !st.Status.Valid() {
		return nil, &DamagedError{ID: id, Path: path, Err: fmt.Errorf("id %q, status %q", st.ID, st.Status)}
	}
	return &st, nil
}

// DamagedError is a state file that cannot be read: written by another
// version of nook, or cut short. `nook rm -f` removes such a sandbox.
type DamagedError struct {
	ID, Path string
	Err      error
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("sandbox %s: damaged state %s: %v (remove it with: nook rm -f %s)", e.ID, e.Path, e.Err, e.ID)
}

func (e *DamagedError) Unwrap() error { return e.Err }

// Lock takes a sandbox's lock, waiting for any other holder, and reads its
// state. A sandbox removed while Lock waited does not exist.
func (s *Store) Lock(ref string) (*Handle, error) {
	id, err := s.Resolve(ref)
	if err != nil {
		return nil, err
	}
	h, err := s.lockDir(id, false)
	if err != nil {
		return nil, err
	}
	st, err := s.read(id)
	if err != nil {
		h.Close()
		return nil, err
	}
	h.State = st
	return h, nil
}

// RemoveUnwritten removes the directory of sandbox id if its creator died
// before the state's first write (SIGKILLed between the two): a directory
// with no state in it, whose lock nobody holds. A creator still at work
// holds the lock until that write, so RemoveUnwritten waits for it, and
// then the state is there and is not removed. removed says whether a
// directory went; nothing to remove is no error.
func (s *Store) RemoveUnwritten(id string) (removed bool, err error) {
	if CheckID(id) != nil {
		return false, nil // no sandbox could have that directory
	}
	dir := s.Path(id)
	if _, err := os.Lstat(filepath.Join(dir, lockFile)); errors.Is(err, os.ErrNotExist) {
		// killed between the mkdir and the lock: an empty directory
		// (rmdir removes no other), whose creator, were it alive, would
		// now fail to make its lock and give up
		return unix.Rmdir(dir) == nil, nil
	}
	h, err := s.lockDir(id, false)
	if err != nil {
		if errors.Is(err, ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	if _, err := os.Lstat(filepath.Join(dir, stateFile)); err == nil {
		h.Close()
		return false, nil
	}
	h.State = &State{ID: id}
	return true, h.Remove()
}

// LockDamaged takes a sandbox's lock without reading its state: for
// removing one whose state cannot be read.
func (s *Store) LockDamaged(ref string) (*Handle, error) {
	id, err := s.Resolve(ref)
	if err != nil {
		return nil, err
	}
	h, err := s.lockDir(id, false)
	if err != nil {
		return nil, err
	}
	h.State = &State{ID: id}
	return h, nil
}

func (s *Store) lockDir(id string, create bool) (*Handle, error) {
	path := filepath.Join(s.Path(id), lockFile)
	flags := os.O_RDWR | unix.O_CLOEXEC
	if create {
		// only the creator makes the lock file: a locker that raced with
		// a removal must not make a new one in a dying directory
		flags |= os.O_CREATE | os.O_EXCL
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("sandbox %q: %w", id, ErrNotExist)
		}
		return nil, fmt.Errorf("lock state: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// removed while we waited: the lock is on a file nobody can find
	var a, b unix.Stat_t
	if unix.Fstat(int(f.Fd()), &a) != nil || unix.Stat(path, &b) != nil || a.Ino != b.Ino {
		f.Close()
		return nil, fmt.Errorf("sandbox %q: %w", id, ErrNotExist)
	}
	return &Handle{store: s, lock: f}, nil
}

// Dir returns the sandbox's directory.
func (h *Handle) Dir() string { return h.store.Path(h.State.ID) }

// Save writes the state: to a temporary file, renamed over the old one.
func (h *Handle) Save() error {
	b, err := encodeState(h.State)
	if err != nil {
		return fmt.Errorf("save %s: %w", stateFile, err)
	}
	return WriteFile(filepath.Join(h.Dir(), stateFile), append(b, '\n'))
}

// Transition moves the sandbox to status to, if the rules allow it from
// the status it is in now, and saves it.
func (h *Handle) Transition(to Status) error {
	from := h.State.Current()
	if from != to && !from.CanBecome(to) {
		return &TransitionError{ID: h.State.ID, From: from, To: to}
	}
	h.State.Status = to
	now := time.Now().UTC()
	switch to {
	case Running:
		if h.State.Started == nil {
			h.State.Started = &now
		}
	case Stopped:
		if h.State.Finished == nil {
			h.State.Finished = &now
		}
	}
	return h.Save()
}

// Remove deletes the sandbox's record (its directory and name) and
// releases the lock. What Undo lists is the caller's to remove first.
func (h *Handle) Remove() error {
	defer h.Close()
	id := h.State.ID
	var errs []error
	if h.State.Name != "" {
		link := filepath.Join(h.store.dir, namesDir, h.State.Name)
		if t, err := os.Readlink(link); err == nil && filepath.Base(t) == id {
			if err := os.Remove(link); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	} else {
		// a damaged state has no name: find the links to it
		h.store.removeLinksTo(id)
	}
	if err := os.RemoveAll(h.Dir()); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove state of %s: %w", id, err)
	}
	return nil
}

func (s *Store) removeLinksTo(id string) {
	dir := filepath.Join(s.dir, namesDir)
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if t, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && filepath.Base(t) == id {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// Close releases the lock. It is idempotent.
func (h *Handle) Close() error {
	if h == nil || h.lock == nil {
		return nil
	}
	err := h.lock.Close()
	h.lock = nil
	return err
}

// Entry is one sandbox of a List: its state, or why it could not be read.
type Entry struct {
	ID    string
	State *State
	Err   error
}

// List reads every sandbox's state, ordered by creation time (then ID).
// A state that cannot be read is listed with its error.
func (s *Store) List() ([]Entry, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", s.dir, err)
	}
	var out []Entry
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		st, err := s.read(e.Name())
		if errors.Is(err, ErrNotExist) {
			// removed while we read, or still being made
			continue
		}
		out = append(out, Entry{ID: e.Name(), State: st, Err: err})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.State != nil && b.State != nil && !a.State.Created.Equal(b.State.Created) {
			return a.State.Created.Before(b.State.Created)
		}
		return a.ID < b.ID
	})
	return out, nil
}

// incompleteAge is how old a sandbox directory without a state must be
// before List reports it as damaged rather than still being made.
const incompleteAge = 10 * time.Second

// PruneNames removes names whose sandbox is gone (its creator died between
// the name and the directory's removal).
func (s *Store) PruneNames() {
	dir := filepath.Join(s.dir, namesDir)
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		link := filepath.Join(dir, e.Name())
		if _, err := os.Stat(link); errors.Is(err, os.ErrNotExist) {
			os.Remove(link)
		}
	}
}
